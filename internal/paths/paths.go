// Package paths holds the file-system checks every command that reads or
// writes shares:
//
//   - Resolve turns a path into an absolute one with every symbolic link in
//     its existing part resolved, so two spellings of one file compare equal
//     (a link to the input model is the input model).
//   - CheckOutput refuses an output that is one of the inputs or contains one
//     (replacing the output would delete it), after resolving both. An
//     output inside an input folder (a run folder under a model folder) is
//     allowed.
//   - CheckRegular and OpenRegular refuse a FIFO, socket or device in place
//     of a data file before opening it, since open(2) on a FIFO blocks until
//     a writer appears, deaf to signals.
//   - CheckReplace is the one overwrite rule: an existing output (a non-empty
//     folder or a file) is replaced only with --force.
package paths

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Resolve returns path made absolute and cleaned, with the symbolic links
// of its longest existing prefix resolved; the part that does not exist yet
// is appended as written.
func Resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", path, err)
	}
	var rest []string
	cur := abs
	for {
		real, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("resolve %s: %w", path, err)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
		cur = parent
	}
}

// Within reports whether p is dir or lies inside it (both resolved, as by
// Resolve).
func Within(p, dir string) bool { return within(p, dir) }

// within reports whether p is dir or lies inside it (both resolved).
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// CheckOutput returns an error when output, once resolved, is one of the
// inputs or contains one: writing it would overwrite or delete an input. Empty inputs are skipped, as is "-" (standard input or
// output). what names the command in the error ("train", "merge").
func CheckOutput(what, output string, inputs ...string) error {
	if output == "" || output == "-" {
		return nil
	}
	out, err := Resolve(output)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for _, in := range inputs {
		if in == "" || in == "-" {
			continue
		}
		r, err := Resolve(in)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		switch {
		case out == r:
			return fmt.Errorf("%s: output %s is the input %s (resolved: %s); it would be overwritten", what, output, in, out)
		case within(r, out):
			return fmt.Errorf("%s: output %s contains the input %s (resolved: %s); replacing it would delete the input", what, output, in, r)
		}
	}
	return nil
}

// CheckReplace is the overwrite rule of every writing command: a missing
// output or an empty folder may be written; an existing file or non-empty
// folder only with force (the --force flag). what names the command.
func CheckReplace(what, output string, force bool) error {
	st, err := os.Stat(output)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !st.IsDir() {
		if st.Mode().IsRegular() && !force {
			return fmt.Errorf("%s: output %s already exists (use --force to replace it)", what, output)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s: output %s exists and is a %s, not a regular file", what, output, kind(st.Mode()))
		}
		return nil
	}
	entries, err := os.ReadDir(output)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(entries) > 0 && !force {
		return fmt.Errorf("%s: output folder %s is not empty (use --force to replace it)", what, output)
	}
	return nil
}

// kind names a non-regular file type for error messages.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return "folder"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	default:
		return "special file"
	}
}

// CheckRegular returns an error unless path (links followed) is a regular
// file. It does not open the file, so a FIFO is refused without blocking.
func CheckRegular(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is a %s, not a regular file", path, kind(st.Mode()))
	}
	return nil
}

// OpenRegular opens path for reading after CheckRegular, and checks the
// opened file again (the path may have been swapped in between; the
// open itself does not block on a FIFO on Unix, see openFlags).
func OpenRegular(path string) (*os.File, error) {
	if err := CheckRegular(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is a %s, not a regular file", path, kind(st.Mode()))
	}
	if err == nil {
		err = clearNonblock(f)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadRegular is os.ReadFile for a path that must be a regular file; it
// reads through OpenRegular, so a FIFO swapped in after the check is still
// refused without blocking.
func ReadRegular(path string) ([]byte, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
