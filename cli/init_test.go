package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitOverwriteRule: init, like every writing command, replaces an
// existing model only with --force.
func TestInitOverwriteRule(t *testing.T) {
	dir := initTiny(t, 50, "f32")
	cfg := filepath.Join(t.TempDir(), "c.json")
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	os.WriteFile(cfg, b, 0o644)
	if _, stderr, code := runCLI(t, "", "init", "--config", cfg, "--output", dir); code != 1 || !strings.Contains(stderr, "not empty (use --force") {
		t.Errorf("existing output: exit %d, %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, "", "init", "--config", cfg, "--output", dir, "--force"); code != 0 {
		t.Errorf("--force: exit %d, %s", code, stderr)
	}
}

// TestHugeConfigCommands is the F2 regression test at the command level:
// init, score, generate and inspect refuse a config with vocab_size 1e12
// or one that disagrees with the weights, with a one-line error and exit
// 1, instead of dying with "fatal error: out of memory".
func TestHugeConfigCommands(t *testing.T) {
	dir := initTiny(t, 50, "f32")
	tmp := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	huge := strings.Replace(string(b), `"vocab_size": 50`, `"vocab_size": 1000000000000`, 1)
	if huge == string(b) {
		t.Fatalf("config has no vocab_size 50:\n%s", b)
	}
	hugeCfg := filepath.Join(tmp, "huge.json")
	os.WriteFile(hugeCfg, []byte(huge), 0o644)
	// A folder with the real weights and a config whose vocabulary is
	// larger than the embedding on disk.
	bad := filepath.Join(tmp, "bad")
	os.Mkdir(bad, 0o755)
	w, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	os.WriteFile(filepath.Join(bad, "model.safetensors"), w, 0o644)
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(strings.Replace(string(b), `"vocab_size": 50`, `"vocab_size": 50000000`, 1)), 0o644)
	in := filepath.Join(tmp, "in.jsonl")
	os.WriteFile(in, []byte(`{"input_ids": [1, 2]}`+"\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"init", []string{"init", "--config", hugeCfg, "--output", filepath.Join(tmp, "o")}, "more than the limit"},
		{"score", []string{"score", "--model", bad, "--input", in, "--output", filepath.Join(tmp, "s.jsonl")}, "vocab_size 50000000 and hidden_size 32, but model.embed_tokens.weight on disk has shape [50 32]"},
		{"generate", []string{"generate", "--model", bad, "--tokenizer", filepath.Join("..", "assets", "tokenizer.json"), "--prompt", "x"}, "on disk has shape [50 32]"},
		{"inspect", []string{"inspect", bad}, "on disk has shape [50 32]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, "", tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q, want %q", code, stderr, tc.want)
			}
			if tc.name == "inspect" && !strings.Contains(stdout, "PROBLEM") {
				t.Errorf("inspect printed:\n%s", stdout)
			}
		})
	}
}
