//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFOInputsRefused: a FIFO in place of model.safetensors, config.json
// or a score input is refused with a clear error instead of blocking in
// open(2) forever (F5).
func TestFIFOInputsRefused(t *testing.T) {
	dir := initTiny(t, 50, "f32")
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in.jsonl")
	os.WriteFile(in, []byte(`{"input_ids": [1, 2]}`+"\n"), 0o644)
	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	broken := filepath.Join(tmp, "model")
	os.Mkdir(broken, 0o755)
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	os.WriteFile(filepath.Join(broken, "config.json"), b, 0o644)
	if err := syscall.Mkfifo(filepath.Join(broken, "model.safetensors"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCfg := filepath.Join(tmp, "badcfg")
	os.Mkdir(badCfg, 0o755)
	if err := syscall.Mkfifo(filepath.Join(badCfg, "config.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"input", []string{"score", "--model", dir, "--input", fifo, "--output", filepath.Join(tmp, "o1")}},
		{"weights", []string{"score", "--model", broken, "--input", in, "--output", filepath.Join(tmp, "o2")}},
		{"config", []string{"score", "--model", badCfg, "--input", in, "--output", filepath.Join(tmp, "o3")}},
		{"tokenizer", []string{"generate", "--model", dir, "--tokenizer", fifo, "--prompt", "x"}},
		{"corpus", []string{"prepare", "--input", fifo, "--output", filepath.Join(tmp, "o4"), "--method", "randpos", "--target-length", "100", "--train-length", "10"}},
		{"recipe", []string{"run", fifo}},
		{"gguf", []string{"import", "--gguf", fifo, "--output", filepath.Join(tmp, "o5")}},
		{"launch config", []string{"train", "--model", dir, "--data", in, "--output", filepath.Join(tmp, "o6"), "--backend", "torch", "--launch-config", fifo}},
		{"tokenizer corpus", []string{"tokenizer", "train", "--input", fifo, "--output", filepath.Join(tmp, "o7.json")}},
		{"haystack", []string{"eval", "--model", dir, "--lengths", "64", "--tasks", "passkey", "--haystack", fifo, "--output", filepath.Join(tmp, "o8")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan string, 1)
			go func() {
				_, stderr, code := runCLI(t, "", tc.args...)
				if code != 1 {
					stderr += " (exit " + itoa(code) + ")"
				}
				done <- stderr
			}()
			select {
			case stderr := <-done:
				if !strings.Contains(stderr, "FIFO") || strings.Contains(stderr, "exit") {
					t.Errorf("stderr %q", stderr)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("blocked on a FIFO")
			}
		})
	}
}
