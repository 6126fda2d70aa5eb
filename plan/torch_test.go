package plan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/torchlaunch"
)

// torchCase is one measurement of testdata/measure_step.py.
type torchCase struct {
	Config    map[string]any `json:"config"`
	Tokens    int            `json:"tokens"`
	Precision string         `json:"precision"`
	CEChunk   int            `json:"ce_chunk"`
	Cache     bool           `json:"autocast_cache"`
}

type torchResult struct {
	Params, Grads, Optimizer int64
	Peak                     map[string]int64 `json:"peak_categories"`
}

// pythonForTest returns the interpreter of the cached environment
// (installing it when absent, as the README's test command does); it skips
// the test when there is no Python at all.
func pythonForTest(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no Python")
	}
	side, _ := filepath.Abs(filepath.Join("..", "scaleout"))
	py, err := torchlaunch.Python("", side)
	if err != nil {
		t.Skipf("no Python environment: %v", err)
	}
	return py
}

// TestTorchMemory checks the memory model against PyTorch: a tiny Llama
// trained one step the way the torch backend trains (checkpointed layers,
// SDPA, chunked cross-entropy, AdamW), its memory tracked by
// torch.distributed._tools.mem_tracker on the CPU. Parameter, gradient and
// optimizer bytes must be exact; the activation estimate must lie within
// −5 % … +20 % of the measured activation peak (MemTracker's act + temp).
func TestTorchMemory(t *testing.T) {
	t.Parallel() // Python start-up dominates: overlap it with the other Python tests
	py := pythonForTest(t)
	small := map[string]any{"vocab_size": 2000, "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 2,
		"num_attention_heads": 8, "num_key_value_heads": 4, "max_position_embeddings": 16384}
	wideVocab := map[string]any{"vocab_size": 16000, "hidden_size": 128, "intermediate_size": 344, "num_hidden_layers": 2,
		"num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 16384}
	cases := []torchCase{
		{small, 512, "fp32", 256, false}, // the layer phase dominates
		{small, 1024, "bf16", 256, false},
		{wideVocab, 512, "bf16", 512, false}, // the loss phase dominates
		{small, 512, "bf16", 256, true},      // autocast's weight cache: the forward dominates
	}
	results := runMeasure(t, py, cases)
	for i, c := range cases {
		r := results[i]
		cfg := tinyConfig(t, c.Config)
		m := ConfigModel(cfg)
		s := shapeOf(m, c.Tokens, c.CEChunk, c.Precision, c.Cache)
		mem := estimate(s, layout{sharding: "none", sp: 1}, 1)
		if r.Params != mem.Weights || r.Grads != mem.Grads || r.Optimizer != mem.Optimizer {
			t.Errorf("case %d: torch params/grads/optimizer %d/%d/%d bytes, plan %d/%d/%d", i, r.Params, r.Grads, r.Optimizer, mem.Weights, mem.Grads, mem.Optimizer)
		}
		measured := r.Peak["act"] + r.Peak["temp"]
		ratio := float64(mem.Activations) / float64(measured)
		t.Logf("case %d (%s, cache %v, %d tokens): activations measured %d, plan %d (%+.1f %%)", i, c.Precision, c.Cache, c.Tokens, measured, mem.Activations, 100*(ratio-1))
		if ratio < 0.95 || ratio > 1.20 {
			t.Errorf("case %d: plan's activations %d are %+.1f %% off the measured %d (want −5 %% … +20 %%)", i, mem.Activations, 100*(ratio-1), measured)
		}
	}
}

func runMeasure(t *testing.T, py string, cases []torchCase) []torchResult {
	t.Helper()
	arg, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join("testdata", "measure_step.py"), string(arg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("measure_step.py: %v\n%s", err, stderr.String())
	}
	var results []torchResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r torchResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("measure_step.py output %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) != len(cases) {
		t.Fatalf("measure_step.py: %d results for %d cases:\n%s", len(results), len(cases), stderr.String())
	}
	return results
}

func tinyConfig(t *testing.T, fields map[string]any) *hf.Config {
	t.Helper()
	raw := map[string]any{"model_type": "llama"}
	for k, v := range fields {
		raw[k] = v
	}
	data, _ := json.Marshal(raw)
	cfg, err := hf.ParseConfig(data, "tiny config")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
