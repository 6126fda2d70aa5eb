package paths

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// openCall matches the standard library's read-opens, which block on a FIFO.
var openCall = regexp.MustCompile(`\bos\.(Open|ReadFile)\(`)

// allowedOpens are the files that may call os.Open or os.ReadFile
// directly, each with the reason its path cannot be a user's FIFO.
var allowedOpens = map[string]string{
	"internal/paths/paths.go":           "the helpers themselves",
	"internal/atomicfile/atomicfile.go": "opens the folder it just wrote into, to fsync it",
	"hf/size.go":                        "reads /proc/meminfo",
}

// TestInputsOpenedThroughOneCheck: every file the project reads is opened
// through OpenRegular or ReadRegular (a FIFO, device or folder given as an
// input is refused at once, never waited on). A new os.Open or
// os.ReadFile outside the short list above fails this test.
func TestInputsOpenedThroughOneCheck(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	var bad []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "scaleout") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if _, ok := allowedOpens[rel]; ok {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if openCall.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
				bad = append(bad, rel+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("%s: open inputs with paths.OpenRegular or paths.ReadRegular", b)
	}
}
