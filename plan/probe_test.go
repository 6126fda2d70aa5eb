package plan

import (
	"strings"
	"testing"
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
