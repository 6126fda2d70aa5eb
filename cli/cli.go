package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Env is what a subcommand may touch of the outside world. Tests pass buffers.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	summary string // one line for "longrecipe help"
	// run parses args (the arguments after the subcommand name) and does the
	// job. It returns errUsage (possibly wrapped) for a bad command line.
	run func(ctx context.Context, env *Env, args []string) error
}

var commands = map[string]*command{}

// register adds a subcommand; called from init functions, one per file.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("cli: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error in the command line (exit code 2).
var errUsage = errors.New("usage error")

// usageErrorf returns an error that Main reports as a command-line mistake.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// newFlagSet returns a flag set for a subcommand whose errors and help go to
// env.Stderr. usage is the synopsis printed by --help, e.g.
// "tokenize --tokenizer FILE [--input F|-]".
func newFlagSet(env *Env, name, usage, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: longrecipe %s\n\n%s\n\nFlags:\n", usage, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with fs, mapping flag errors to errUsage and
// -h/--help to errHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// parseOnlyFlags parses args like parseFlags and refuses positional
// arguments.
func parseOnlyFlags(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

var errHelp = errors.New("help requested")

// Main runs the command line args and returns the process exit code:
// 0 success, 1 failure, 2 bad command line, 128+n after signal n (130 for
// Ctrl-C, 143 for SIGTERM; see interruptContext).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) >= 2 {
			if c, ok := commands[args[1]]; ok {
				_ = c.run(context.Background(), env, []string{"--help"})
				return 0
			}
		}
		printHelp(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "longrecipe: unknown command %q (run \"longrecipe help\")\n", args[0])
		return 2
	}
	ctx, stop := interruptContext(stderr, c.name)
	defer stop()
	env.Stdin = interruptibleReader(ctx, stdin)
	err := c.run(ctx, env, args[1:])
	if sig := interruptedBy(ctx); sig != nil {
		// An interrupted command fails whatever it returned: its output
		// (if any) is not complete.
		fmt.Fprintf(stderr, "longrecipe %s: interrupted by %v\n", c.name, sig)
		return signalExitCode(sig)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "longrecipe %s: %s\n", c.name, oneLine(strings.TrimPrefix(err.Error(), errUsage.Error()+": ")))
		return 2
	default:
		fmt.Fprintf(stderr, "longrecipe %s: %s\n", c.name, oneLine(err.Error()))
		return 1
	}
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "longrecipe — extend the context window of Llama-family models with LongRecipe.")
	fmt.Fprintln(w, "\nUsage: longrecipe COMMAND [flags]   (longrecipe COMMAND --help for details)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
}
