// Command longrecipe extends the context window of Llama-family language
// models with the LongRecipe method (arXiv 2409.00509).
//
// Run "longrecipe help" for the list of subcommands.
package main

import (
	"os"

	"github.com/longrecipe/longrecipe/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
