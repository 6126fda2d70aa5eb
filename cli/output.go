package cli

import (
	"fmt"

	"github.com/longrecipe/longrecipe/internal/lock"
	"github.com/longrecipe/longrecipe/internal/paths"
)

// The output rule of every command that writes, checked before anything
// is deleted or written:
//
//   - checkWrite: the output, once resolved (symbolic links included), is
//     none of the inputs, is not inside one and does not contain one; and
//     an existing output (a file or a non-empty folder) is replaced only
//     with --force. "-" (stdout) passes.
//   - lockOutput: one command at a time writes an output folder (package
//     lock); a second one fails at once naming the holder's pid and host.
//     Commands whose output resumes (run, train, experiment) take the lock
//     but not the --force rule.

// checkWrite applies the output rule above to output.
func checkWrite(cmd, output string, force bool, inputs ...string) error {
	if output == "-" {
		return nil
	}
	if err := paths.CheckOutput(cmd, output, inputs...); err != nil {
		return err
	}
	return paths.CheckReplace(cmd, output, force)
}

// lockOutput takes the lock of output for cmd, saying on stderr when it
// takes over the stale lock of a process that is gone. The caller defers
// the returned release; the interrupt handler releases it too before an
// immediate exit (lock.ReleaseAll).
func lockOutput(env *Env, cmd, output string) (release func(), err error) {
	l, err := lock.Take(output, "longrecipe "+cmd, func(s string) {
		fmt.Fprintf(env.Stderr, "longrecipe %s: %s\n", cmd, s)
	})
	if err != nil {
		return nil, err
	}
	return func() { l.Release() }, nil
}
