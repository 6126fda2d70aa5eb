// Package cli implements the longrecipe subcommands. Each subcommand lives in
// its own file and registers itself with register; a subcommand parses its
// flags, calls one library function and turns its error into an exit code.
package cli
