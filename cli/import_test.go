package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportCommandLine: bad command lines exit 2, a bad file exits 1 with
// one line naming it and leaves no output folder. (Imports themselves are
// tested in package gguf and against transformers in
// scaleout/tests/test_gguf_import.py.)
func TestImportCommandLine(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.gguf")
	os.WriteFile(junk, []byte("GGUF\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff"), 0o644)
	out := filepath.Join(dir, "out")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import"}, 2, "want --gguf FILE and --output DIR"},
		{[]string{"import", "--gguf", junk}, 2, "want --gguf FILE and --output DIR"},
		{[]string{"import", "--gguf", junk, "--output", out, "--dtype", "f16"}, 2, `--dtype "f16": want bf16 or f32`},
		{[]string{"import", "--gguf", junk, "--output", out, "--max-shard-size", "x"}, 2, "--max-shard-size"},
		{[]string{"import", "--gguf", junk, "--output", out}, 1, "junk.gguf: tensor count"},
		{[]string{"import", "--gguf", filepath.Join(dir, "none.gguf"), "--output", out}, 1, "none.gguf"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := Main(c.args, strings.NewReader(""), &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line with %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed import left an output folder")
	}
}
