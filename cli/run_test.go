package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunFromStageUnknown: an unknown --from-stage is a command-line
// mistake (exit 2) that lists the valid stage names, before the recipe is
// even read.
func TestRunFromStageUnknown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.toml")
	if err := os.WriteFile(path, []byte("name = \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"run", path, "--from-stage", "foo"},
		{"run", "--from-stage", "foo", path},
		{"run", "/nonexistent/r.toml", "--from-stage", "Extend"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(args, strings.NewReader(""), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "prepare, extend, replay, anneal, merge, eval") {
			t.Errorf("%q: exit %d, stderr %q; want 2 listing the stages", args, code, stderr.String())
		}
	}
}
