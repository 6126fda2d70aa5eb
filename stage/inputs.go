package stage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// Content is the record of one declared input (Stage.Inputs): where it
// was, its content hash, and the size, modification time and hash of each
// of its files.
//
// A file's hash is the SHA-256 of its bytes (the tokenizer's content key,
// tokenizer.Hash, is the same). A folder (a model folder) is keyed by its
// top-level regular files, symbolic links followed, names starting with
// "." skipped: its hash is the SHA-256 of the lines "NAME SHA256\n" in
// name order. Subfolders are not part of it (a run folder may lie inside a
// model folder without changing the model).
//
// Size and modification time are the fast check: a file whose size and
// modification time equal the recorded ones keeps its recorded hash and is
// not read; any other file is hashed again (streamed, never held in
// memory), so a touched but unchanged file keeps the stage done and a
// replaced one reruns it.
type Content struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Files are the file itself (Name "") or the folder's files.
	Files []Stamp `json:"files"`
}

// Stamp is one file of an input.
type Stamp struct {
	Name   string `json:"name,omitempty"`
	Size   int64  `json:"size"`
	MTime  int64  `json:"mtime_ns"`
	SHA256 string `json:"sha256"`
}

// contentOf returns the content record of the input at path, reusing the
// hashes of known files (by resolved path) whose size and modification
// time are unchanged, and the number of bytes it read to hash the others.
func contentOf(path string, known map[string]Stamp) (*Content, int64, error) {
	res, err := paths.Resolve(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := os.Stat(res)
	if err != nil {
		return nil, 0, err
	}
	c := &Content{Path: res}
	var read int64
	if !st.IsDir() {
		s, n, err := stampOf(res, "", known)
		if err != nil {
			return nil, 0, err
		}
		c.Files, c.SHA256 = []Stamp{s}, s.SHA256
		return c, n, nil
	}
	entries, err := os.ReadDir(res)
	if err != nil {
		return nil, 0, err
	}
	h := sha256.New()
	for _, e := range entries { // in name order
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		fi, err := os.Stat(filepath.Join(res, e.Name()))
		if err != nil || !fi.Mode().IsRegular() {
			continue // a subfolder, or a dangling link: not part of the input
		}
		s, n, err := stampOf(res, e.Name(), known)
		if err != nil {
			return nil, 0, err
		}
		read += n
		c.Files = append(c.Files, s)
		fmt.Fprintf(h, "%s %s\n", s.Name, s.SHA256)
	}
	c.SHA256 = hex.EncodeToString(h.Sum(nil))
	return c, read, nil
}

// stampOf stamps the file name inside dir (name "": dir is the file) and
// returns the bytes it read (0 when the known hash holds).
func stampOf(dir, name string, known map[string]Stamp) (Stamp, int64, error) {
	p := filepath.Join(dir, name)
	fi, err := os.Stat(p)
	if err != nil {
		return Stamp{}, 0, err
	}
	s := Stamp{Name: name, Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	if k, ok := known[p]; ok && k.Size == s.Size && k.MTime == s.MTime && k.SHA256 != "" {
		s.SHA256 = k.SHA256
		return s, 0, nil
	}
	f, err := paths.OpenRegular(p) // a FIFO is refused, not waited on
	if err != nil {
		return Stamp{}, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Stamp{}, 0, fmt.Errorf("%s: %w", p, err)
	}
	s.SHA256 = hex.EncodeToString(h.Sum(nil))
	return s, n, nil
}

// remember adds the files of the inputs recorded in rec to known.
func remember(known map[string]Stamp, rec *Record) {
	if rec == nil {
		return
	}
	for _, c := range rec.Inputs {
		for _, s := range c.Files {
			known[filepath.Join(c.Path, s.Name)] = s
		}
	}
}

// sameStamps reports whether two input records list the same files with
// the same sizes and modification times.
func sameStamps(a, b map[string]*Content) bool {
	if len(a) != len(b) {
		return false
	}
	for n, c := range a {
		d, ok := b[n]
		if !ok || c.Path != d.Path || !slices.Equal(c.Files, d.Files) {
			return false
		}
	}
	return true
}

// CheckInputs refuses stages whose declared inputs lie inside the folder
// of one of the stages (its own or another's), symbolic links resolved:
// the runner clears a stage's folder before it runs, which would delete
// the input. Pipelines call it on all their stages before running any; Run
// checks each stage against its own folder too.
func CheckInputs(stages ...Stage) error {
	for _, s := range stages {
		names := make([]string, 0, len(s.Inputs))
		for n := range s.Inputs {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			in, err := paths.Resolve(s.Inputs[n])
			if err != nil {
				return fmt.Errorf("stage %s: input %s: %w", s.Name, n, err)
			}
			for _, o := range stages {
				dir, err := paths.Resolve(o.Dir)
				if err != nil {
					return fmt.Errorf("stage %s: %w", o.Name, err)
				}
				if paths.Within(in, dir) {
					return fmt.Errorf("stage %s: input %s %s lies inside the folder of stage %s (%s), which is cleared when that stage (re)runs; move it out of the run folder",
						s.Name, n, s.Inputs[n], o.Name, o.Dir)
				}
			}
		}
	}
	return nil
}
