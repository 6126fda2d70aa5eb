package plan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFSDPMemory checks the FSDP2 terms against two gloo ranks on the CPU
// (testdata/fsdp_mem.py, FSDPMemTracker): sharded parameters, gradients
// and optimizer states exact; the gathered units and the unit gradient
// (FSDPMemTracker's unsharded params + all-gather + reduce-scatter buffers)
// within 0 … +40 %; activations and the total within −5 % … +20 %. It takes
// about 20 s of CPU (two Python processes), so it runs only with
// LONGRECIPE_PLAN_FSDP=1.
func TestFSDPMemory(t *testing.T) {
	if os.Getenv("LONGRECIPE_PLAN_FSDP") != "1" {
		t.Skip("set LONGRECIPE_PLAN_FSDP=1 to run two gloo ranks")
	}
	py := pythonForTest(t)
	const tokens = 1024
	cmd := exec.Command(filepath.Join(filepath.Dir(py), "torchrun"), "--nproc-per-node", "2", "--master-port", "29613",
		filepath.Join("testdata", "fsdp_mem.py"), "1024")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("torchrun: %v\n%s", err, lastLine(stderr.String()))
	}
	cfg := tinyConfig(t, map[string]any{"vocab_size": 2000, "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
		"num_attention_heads": 8, "num_key_value_heads": 4, "max_position_embeddings": 16384})
	mem := estimate(shapeOf(ConfigModel(cfg), tokens, 256, "fp32", false), layout{sharding: "fsdp", sp: 1}, 2)
	sc := bufio.NewScanner(bytes.NewReader(out))
	ranks := 0
	for sc.Scan() {
		var r struct {
			P    int64
			Peak map[string]int64
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Peak == nil {
			continue
		}
		ranks++
		pk := r.Peak
		if r.P != cfg.ParameterCount() || pk["SHARDED_PARAM"] != mem.Weights || pk["SHARDED_GRAD"] != mem.Grads || pk["OPT"]-mem.Optimizer > 1024 || pk["OPT"] < mem.Optimizer {
			t.Errorf("states: torch %v, plan %+v", pk, mem)
		}
		within(t, "gathered + unit gradient", mem.Gathered+mem.GradUnit, pk["UNSHARDED_PARAM"]+pk["ALL_GATHER"]+pk["REDUCE_SCATTER"]+pk["UNSHARDED_GRAD"], 0, 0.40)
		within(t, "activations", mem.Activations, pk["ACT"]+pk["TEMP"], -0.05, 0.20)
		within(t, "total", mem.Total-mem.Headroom, pk["Total"], -0.05, 0.20)
	}
	if ranks != 2 {
		t.Fatalf("%d rank results:\n%s", ranks, out)
	}
}

func within(t *testing.T, what string, plan, measured int64, lo, hi float64) {
	t.Helper()
	r := float64(plan)/float64(measured) - 1
	t.Logf("%s: plan %d, measured %d (%+.1f %%)", what, plan, measured, 100*r)
	if r < lo || r > hi {
		t.Errorf("%s: plan %d is %+.1f %% off the measured %d (want %+.0f %% … %+.0f %%)", what, plan, 100*r, measured, 100*lo, 100*hi)
	}
}
