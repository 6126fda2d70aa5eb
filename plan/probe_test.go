package plan

import (
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/torchlaunch"
)

func TestEnvChecks(t *testing.T) {
	pins, err := ReadPins("../scaleout/requirements.lock")
	if err != nil || pins["torch"] == "" || pins["transformers"] == "" {
		t.Fatalf("pins %v: %v", pins, err)
	}
	pl := &Plan{Sharding: "fsdp", GPUs: 8, Nodes: 1, GPUMemGiB: 80, OK: true}
	good := Probe{Versions: map[string]string{"torch": pins["torch"] + "+cu132", "transformers": pins["transformers"]}}
	tests := []struct {
		name   string
		probe  Probe
		failed string // the failed check, "" for none
		warn   string // an advisory that must be there
	}{
		{"pinned, no GPU here", good, "", ""},
		{"old torch", Probe{Versions: map[string]string{"torch": "2.4.1", "transformers": pins["transformers"]}, FSDP2Error: "cannot import name 'fully_shard'"}, "torch FSDP2", "untested combination"},
		{"no transformers", Probe{Versions: map[string]string{"torch": pins["torch"]}}, "transformers version", ""},
		{"4 GPUs here", Probe{Versions: good.Versions, CUDADevices: 4, MinDeviceGiB: 79.3}, "visible GPUs", "flash-attn"},
		{"8 small GPUs", Probe{Versions: good.Versions, CUDADevices: 8, MinDeviceGiB: 39.4}, "visible GPUs", ""},
		{"8 × 80 with flash-attn", Probe{Versions: map[string]string{"torch": pins["torch"], "transformers": pins["transformers"], "flash-attn": "2.8.3"}, CUDADevices: 8, MinDeviceGiB: 80}, "", ""},
	}
	for _, tc := range tests {
		p := *pl
		p.AddChecks(EnvChecks(tc.probe, pins, &p)...)
		got := strings.Join(failed(&p), ",")
		if got != tc.failed || p.OK != (tc.failed == "") {
			t.Errorf("%s: failed %q (ok %v), want %q", tc.name, got, p.OK, tc.failed)
		}
		var details []string
		for _, c := range p.Checks {
			details = append(details, c.Name+": "+c.Detail)
		}
		if tc.warn != "" && !strings.Contains(strings.Join(details, "\n"), tc.warn) {
			t.Errorf("%s: no %q in %q", tc.name, tc.warn, details)
		}
	}
}

func TestProbeEnv(t *testing.T) {
	t.Parallel() // Python start-up dominates: overlap it with the other Python tests
	if testing.Short() {
		t.Skip("-short: no Python")
	}
	py := torchlaunch.CachedPython()
	if py == "" {
		t.Skip("no cached Python environment (bash scripts/pyenv.sh)")
	}
	p, err := ProbeEnv(py)
	if err != nil {
		t.Fatal(err)
	}
	pins, _ := ReadPins("../scaleout/requirements.lock")
	if p.FSDP2Error != "" || !versionMatches(p.Versions["torch"], pins["torch"]) || p.Versions["transformers"] != pins["transformers"] {
		t.Errorf("probe of the pinned environment: %+v (pins torch %s, transformers %s)", p, pins["torch"], pins["transformers"])
	}
	if _, err := ProbeEnv("/nonexistent/python"); err == nil || !strings.Contains(err.Error(), "/nonexistent/python") {
		t.Errorf("missing interpreter: %v", err)
	}
}
