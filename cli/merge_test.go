package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

func TestMergeCommand(t *testing.T) {
	a, b := "../merge/testdata/bf16-a", "../merge/testdata/bf16-b-sharded"
	out := filepath.Join(t.TempDir(), "merged")
	stdout, stderr, code := hfRunCLI("merge", "--models", a, b, "--weights", "7,3", "--dtype", "f32", "--max-shard-size", "4KB", "--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "merged 12 tensors") || !strings.Contains(stderr, "note: rope_theta differs") {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	want, err := hf.OpenSafetensors("../merge/testdata/expected-f32-a7-b3.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	got, err := hf.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if !got.Sharded() {
		t.Error("--max-shard-size 4KB gave one file")
	}
	for _, ti := range want.Tensors() {
		w, _ := want.Raw(ti.Name)
		g, err := got.Raw(ti.Name)
		if err != nil || string(w) != string(g) {
			t.Fatalf("%s differs from the torch average (%v)", ti.Name, err)
		}
	}
	// Comma-separated --models works too; the existing output needs --force.
	if _, stderr, code := hfRunCLI("merge", "--models", a+","+b, "--output", out); code != 1 || !strings.Contains(stderr, "not empty") {
		t.Errorf("existing output: exit %d %q", code, stderr)
	}
	if _, stderr, code := hfRunCLI("merge", "--models", a+","+b, "--output", out, "--force", "--max-shard-size", "0"); code != 0 {
		t.Errorf("--force: exit %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, hf.SingleFileName)); err != nil {
		t.Errorf("--max-shard-size 0: %v", err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"merge", "--models", a, "--output", out}, "at least two"},
		{[]string{"merge", "--models", a, b}, "--output is required"},
		{[]string{"merge", "--models", a, b, "--weights", "1,-1", "--output", out}, "positive"},
		{[]string{"merge", "--models", a, b, "--weights", "1,1,1", "--output", out}, "3 weights for 2 models"},
		{[]string{"merge", "--models", a, b, "--dtype", "i8", "--output", out}, "--dtype"},
		{[]string{"merge", "--models", a, b, "--max-shard-size", "lots", "--output", out}, "--max-shard-size"},
	}
	for _, tc := range tests {
		_, stderr, code := hfRunCLI(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", tc.args[1:], code, stderr, tc.want)
		}
	}
}
