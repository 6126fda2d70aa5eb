package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hfRunCLI(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestInspectCommand(t *testing.T) {
	dir := "../merge/testdata/bf16-b-sharded"
	out, errOut, code := hfRunCLI("inspect", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"llama (LlamaForCausalLM)", "parameters   3.6k (3632)", "GQA: 2 key/value heads", "BF16: 12 tensors", "256 tokens", "theta 10000, no scaling", "3 file(s)", "model-00002-of-00003.safetensors"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = hfRunCLI("inspect", dir, "--json")
	if code != 0 {
		t.Fatalf("--json exit %d: %s", code, errOut)
	}
	var s struct {
		Parameters int64 `json:"parameters"`
		Shards     []any `json:"shards"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil || s.Parameters != 3632 || len(s.Shards) != 3 {
		t.Errorf("json %v: %s", err, out)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type":"gpt2"}`), 0o644)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inspect"}, 2, "exactly one model folder"},
		{[]string{"inspect", "a", "b"}, 2, "exactly one model folder"},
		{[]string{"inspect", filepath.Join(bad, "nope")}, 1, "no such file"},
		{[]string{"inspect", bad}, 1, `unsupported model_type "gpt2"`},
	}
	for _, tc := range tests {
		_, errOut, code := hfRunCLI(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q on one line", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
