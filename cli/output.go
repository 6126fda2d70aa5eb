package cli

import (
	"fmt"
	"os"
	"path/filepath"

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
//   - publishDir: a folder output is written under a temporary name beside
//     it and renamed into place, so it is the complete new output or the
//     old one, never a mix (a report of --force keeps no file of the one
//     it replaces).

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

// publishDir fills a temporary folder beside output with write and renames
// it into place, replacing an existing output folder (the caller has
// applied checkWrite). On error nothing is left but the old output.
func publishDir(cmd, output string, write func(dir string) error) error {
	out, err := paths.Resolve(output)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := write(tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if _, err := os.Stat(out); err != nil {
		return os.Rename(tmp, out)
	}
	old := tmp + ".old"
	if err := os.Rename(out, old); err != nil {
		return fmt.Errorf("%s: move the old output aside: %w", cmd, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Rename(old, out)
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return os.RemoveAll(old)
}
