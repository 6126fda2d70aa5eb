package cli

import "github.com/longrecipe/longrecipe/internal/paths"

// checkWrite is the rule of every command that writes output: the output,
// once resolved (symbolic links included), is none of the inputs, is not
// inside one and does not contain one; and an existing output (a file or a
// non-empty folder) is replaced only with --force. "-" (stdout) passes.
func checkWrite(cmd, output string, force bool, inputs ...string) error {
	if output == "-" {
		return nil
	}
	if err := paths.CheckOutput(cmd, output, inputs...); err != nil {
		return err
	}
	return paths.CheckReplace(cmd, output, force)
}
