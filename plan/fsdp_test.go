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
// (testdata/fsdp_mem.py, FSDPMemTracker), in fp32 and in bf16 through
// MixedPrecisionPolicy: sharded parameters, gradients and optimizer states
// exact; the drop from fp32 to bf16 within 10 %; the gathered units and the unit gradient
// (FSDPMemTracker's unsharded params + all-gather + reduce-scatter buffers)
// within 0 … +40 %; activations and the total within −5 % … +20 %. It takes
// about 40 s of CPU (two runs of two Python processes), so it runs only with
// LONGRECIPE_PLAN_FSDP=1.
func TestFSDPMemory(t *testing.T) {
	if os.Getenv("LONGRECIPE_PLAN_FSDP") != "1" {
		t.Skip("set LONGRECIPE_PLAN_FSDP=1 to run two gloo ranks")
	}
	py := pythonForTest(t)
	const tokens = 1024
	cfg := tinyConfig(t, map[string]any{"vocab_size": 2000, "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
		"num_attention_heads": 8, "num_key_value_heads": 4, "max_position_embeddings": 16384})
	totals := map[string][2]int64{} // precision: plan, measured (rank 0)
	for _, prec := range []string{"fp32", "bf16"} {
		mem := estimate(shapeOf(ConfigModel(cfg), tokens, 256, prec, false), layout{sharding: "fsdp", sp: 1}, 2)
		peaks := fsdpPeaks(t, py, prec)
		for _, r := range peaks {
			pk := r.Peak
			if r.P != cfg.ParameterCount() || pk["SHARDED_PARAM"] != mem.Weights || pk["SHARDED_GRAD"] != mem.Grads || pk["OPT"]-mem.Optimizer > 1024 || pk["OPT"] < mem.Optimizer {
				t.Errorf("%s states: torch %v, plan %+v", prec, pk, mem)
			}
			within(t, prec+" gathered + unit gradient", mem.Gathered+mem.GradUnit, pk["UNSHARDED_PARAM"]+pk["ALL_GATHER"]+pk["REDUCE_SCATTER"]+pk["UNSHARDED_GRAD"], 0, 0.40)
			within(t, prec+" activations", mem.Activations, pk["ACT"]+pk["TEMP"], -0.05, 0.20)
			within(t, prec+" total", mem.Total-mem.Headroom, pk["Total"], -0.05, 0.20)
		}
		totals[prec] = [2]int64{mem.Total - mem.Headroom, peaks[0].Peak["Total"]}
	}
	// bf16 through MixedPrecisionPolicy: the plan predicts the drop from
	// fp32 within 10 % of the drop measured.
	within(t, "bf16 drop", totals["fp32"][0]-totals["bf16"][0], totals["fp32"][1]-totals["bf16"][1], -0.10, 0.10)
}

type fsdpPeak struct {
	P    int64
	Peak map[string]int64
}

// fsdpPeaks runs testdata/fsdp_mem.py on two gloo ranks and returns each
// rank's peaks by FSDPMemTracker category.
func fsdpPeaks(t *testing.T, py, prec string) []fsdpPeak {
	t.Helper()
	cmd := exec.Command(filepath.Join(filepath.Dir(py), "torchrun"), "--nproc-per-node", "2", "--master-port", "29613",
		filepath.Join("testdata", "fsdp_mem.py"), "1024", prec)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("torchrun: %v\n%s", err, lastLine(stderr.String()))
	}
	var peaks []fsdpPeak
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r fsdpPeak
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Peak != nil {
			peaks = append(peaks, r)
		}
	}
	if len(peaks) != 2 {
		t.Fatalf("%s: %d rank results:\n%s", prec, len(peaks), out)
	}
	return peaks
}

func within(t *testing.T, what string, plan, measured int64, lo, hi float64) {
	t.Helper()
	r := float64(plan)/float64(measured) - 1
	t.Logf("%s: plan %d, measured %d (%+.1f %%)", what, plan, measured, 100*r)
	if r < lo || r > hi {
		t.Errorf("%s: plan %d is %+.1f %% off the measured %d (want %+.0f %% … %+.0f %%)", what, plan, 100*r, measured, 100*lo, 100*hi)
	}
}
