package gguf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportNeverOverInput: an output that is the GGUF, holds it or links
// to a folder that holds it is refused, --force or not, and the GGUF is
// left in place (import used to replace the folder holding its input).
func TestImportNeverOverInput(t *testing.T) {
	dir := t.TempDir()
	models := filepath.Join(dir, "models")
	os.Mkdir(models, 0o755)
	in := writeFile(t, models, "tiny.gguf", tinyModel("llama", "qwen2", nil))
	os.Symlink(models, filepath.Join(dir, "link"))
	for _, out := range []string{models, in, filepath.Join(dir, "link"), dir} {
		_, err := Import(in, out, ImportOptions{Force: true})
		if err == nil || !strings.Contains(err.Error(), "input") || strings.Contains(err.Error(), "\n") {
			t.Errorf("output %s: error %v, want one line refusing the input", out, err)
		}
		if _, err := os.Stat(in); err != nil {
			t.Fatalf("output %s: the input is gone: %v", out, err)
		}
	}
}
