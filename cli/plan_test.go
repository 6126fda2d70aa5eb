package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/torchlaunch"
)

const llama3Dir = "../plan/testdata/llama-3-8b"

func TestPlanCommand(t *testing.T) {
	launch := filepath.Join(t.TempDir(), "launch.json")
	out, errOut, code := hfRunCLI("plan", llama3Dir, "--target-length", "128k", "--ratio", "0.3", "--gpus", "8", "--gpu-mem", "80", "--write-launch", launch)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"8.03B parameters (from config.json sizes)", "train 39322 tokens", "sharding fsdp, cpu offload false, context parallel 1",
		"weights (fp32 master)", "activations", "wall-clock", "OK: ready to launch"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	l, err := torchlaunch.LoadLaunch(launch)
	if err != nil || l.NprocPerNode != 8 || l.Sharding != "fsdp" {
		t.Errorf("launch config %+v: %v", l, err)
	}

	out, errOut, code = hfRunCLI("plan", llama3Dir, "--json", "--target-length", "131072", "--gpus", "1", "--gpu-mem", "80", "--tokens-per-sec", "1500")
	if code != 0 {
		t.Fatalf("--json exit %d: %s", code, errOut)
	}
	var p struct {
		Offload bool `json:"cpu_offload"`
		Time    struct {
			Source string `json:"throughput_source"`
		} `json:"time"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || !p.Offload || p.Time.Source != "measured" {
		t.Errorf("json %v: %s", err, out)
	}
}

func TestPlanMetrics(t *testing.T) {
	metrics := filepath.Join(t.TempDir(), "metrics.jsonl")
	os.WriteFile(metrics, []byte(`{"step":1,"tokens":39322,"tokens_per_s":100}
{"step":2,"tokens":39322,"tokens_per_s":1200}
{"step":3,"tokens":39322,"tokens_per_s":1200}
`), 0o644)
	out, errOut, code := hfRunCLI("plan", llama3Dir, "--target-length", "128k", "--gpus", "1", "--gpu-mem", "80", "--metrics", metrics)
	if code != 0 || !strings.Contains(out, "1200 tokens/s (measured ("+metrics+", 2 steps); MFU") {
		t.Errorf("exit %d, stderr %q, out:\n%s", code, errOut, out)
	}
	_, errOut, code = hfRunCLI("plan", llama3Dir, "--target-length", "128k", "--gpus", "1", "--gpu-mem", "80", "--metrics", metrics, "--tokens-per-sec", "5")
	if code != 2 || !strings.Contains(errOut, "give one") {
		t.Errorf("both: exit %d, %q", code, errOut)
	}
}

func TestPlanCommandErrors(t *testing.T) {
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type":"llama","vocab_size":10}`), 0o644)
	launch := filepath.Join(t.TempDir(), "launch.json")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plan", llama3Dir}, 2, "--target-length, --gpus and --gpu-mem are required"},
		{[]string{"plan", "--gpus", "8", "--gpu-mem", "80", "--target-length", "128k"}, 2, "exactly one model folder"},
		{[]string{"plan", llama3Dir, "--gpus", "8", "--gpu-mem", "80", "--target-length", "big"}, 2, "--target-length"},
		{[]string{"plan", llama3Dir, "--gpus", "8", "--gpu-mem", "80", "--target-length", "128k", "--offload", "maybe"}, 2, "--offload"},
		{[]string{"plan", llama3Dir, "--gpus", "8", "--gpu-mem", "80", "--target-length", "128k", "--steps", "0"}, 2, "--steps 0"},
		{[]string{"plan", llama3Dir, "--gpus", "8", "--gpu-mem", "80", "--target-length", "128k", "--ratio", "2"}, 1, "ratio 2"},
		{[]string{"plan", llama3Dir, "--gpus", "8", "--gpu-mem", "80", "--target-length", "128k", "--sharding", "zero3"}, 1, `sharding "zero3"`},
		{[]string{"plan", bad, "--gpus", "8", "--gpu-mem", "80", "--target-length", "128k"}, 1, "missing required field hidden_size"},
		{[]string{"plan", llama3Dir, "--gpus", "1", "--gpu-mem", "24", "--target-length", "128k", "--write-launch", launch}, 1, "not writing a launcher config"},
		{[]string{"plan", llama3Dir, "--gpus", "8", "--gpu-mem", "80", "--target-length", "128k", "--context-parallel", "3"}, 1, "plan failed its checks"},
		{[]string{"plan", llama3Dir, "--gpus", "8", "--gpu-mem", "80", "--target-length", "128k", "--link-gbps", "0"}, 2, "--link-gbps"},
		{[]string{"plan", llama3Dir, "--gpus", "8", "--gpu-mem", "80", "--target-length", "128k", "--python", "/nonexistent/py"}, 1, "probe /nonexistent/py"},
	}
	for _, tc := range tests {
		_, errOut, code := hfRunCLI(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q on one line", tc.args[1:], code, errOut, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(launch); err == nil {
		t.Error("a failing plan wrote its launcher config")
	}
}

func TestPlanServed(t *testing.T) {
	dir := t.TempDir()
	cfg := `{"model_type":"llama","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"max_position_embeddings":%d,"rope_theta":1e6}`
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(cfg, "%d", "131072", 1)), 0o644)
	out, errOut, code := hfRunCLI("plan", "--served", dir, "--target-length", "128k")
	if code != 0 || !strings.Contains(out, "served window 131072 tokens (config.json max_position_embeddings)") {
		t.Errorf("exit %d, out %q, err %q", code, out, errOut)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"model_max_length": 8192}`), 0o644)
	_, errOut, code = hfRunCLI("plan", "--served", dir, "--target-length", "128k")
	if code != 1 || !strings.Contains(errOut, "vLLM derives a window of 8192 tokens (tokenizer_config.json model_max_length)") {
		t.Errorf("exit %d, err %q", code, errOut)
	}
}
