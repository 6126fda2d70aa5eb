package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportCommandLine: bad command lines exit 2; an output on the
// input's path, an existing output without --force and a missing model
// exit 1 with one line, and leave nothing behind. A good export prints
// its summary. (Exported files are checked in package gguf and with
// gguf-py and transformers in scaleout/tests/test_gguf_export.py.)
func TestExportCommandLine(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m")
	writeExportModel(t, model)
	out := filepath.Join(dir, "m.gguf")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"export"}, 2, "want --gguf OUT.gguf and --model DIR"},
		{[]string{"export", "--gguf", out, "--model", model, "--type", "q5_0"}, 2, `--type "q5_0"`},
		{[]string{"export", "--gguf", "-", "--model", model}, 2, "must be a path"},
		{[]string{"export", "--gguf", model, "--model", model, "--force"}, 1, "is the input"},
		{[]string{"export", "--gguf", filepath.Join(model, "model.safetensors"), "--model", model, "--force"}, 1, "is the input"},
		{[]string{"export", "--gguf", out, "--model", filepath.Join(dir, "none")}, 1, "none"},
		{[]string{"export", "--gguf", out, "--model", model, "--type", "q8_0"}, 0, ""},
		{[]string{"export", "--gguf", out, "--model", model}, 1, "--force"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := Main(c.args, strings.NewReader(""), &stdout, &stderr)
		lines := strings.Count(stderr.String(), "\n")
		if code != c.code || !strings.Contains(stderr.String(), c.want) || (c.code != 0) != (lines == 1) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line with %q", c.args, code, stderr.String(), c.code, c.want)
		}
		if c.code == 0 && !strings.Contains(stdout.String(), "exported") {
			t.Errorf("%v: stdout %q", c.args, stdout.String())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("folder holds %d entries, want the model and m.gguf", len(entries))
	}
}

// writeExportModel writes a 1-layer random llama with the bundled tokenizer.
func writeExportModel(t *testing.T, dir string) {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfgPath, []byte(`{"model_type":"llama","vocab_size":4096,"hidden_size":32,"intermediate_size":64,
"num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":2,"max_position_embeddings":128}`), 0o644)
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"init", "--config", cfgPath, "--output", dir}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("init: %s", stderr.String())
	}
	tok, err := os.ReadFile(filepath.Join("..", "assets", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644); err != nil {
		t.Fatal(err)
	}
}
