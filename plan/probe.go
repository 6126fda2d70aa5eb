package plan

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/torchlaunch"
)

// Probe is what the Python environment of the launch machine offers
// (torchlaunch.ProbeEnv, the one probe that doctor shares).
type Probe = torchlaunch.Env

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// ReadPins reads the pinned versions of a requirements lock file
// ("name==version" lines; names lower-cased).
func ReadPins(path string) (map[string]string, error) {
	data, err := paths.ReadRegular(path)
	if err != nil {
		return nil, fmt.Errorf("pins: %w", err)
	}
	pins := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, ver, ok := strings.Cut(strings.TrimSpace(sc.Text()), "==")
		if ok && !strings.HasPrefix(name, "#") {
			pins[strings.ToLower(name)] = ver
		}
	}
	return pins, sc.Err()
}

// EnvChecks are the checks of p's environment against plan pl: the
// backend's FSDP2 import works (torch >= 2.6 exports fully_shard and
// CPUOffloadPolicy from torch.distributed.fsdp), torch and transformers
// are the tested pins (else an advisory: an untested combination), and when
// the machine has GPUs, as many per node and as large as planned.
func EnvChecks(p Probe, pins map[string]string, pl *Plan) []Check {
	var cs []Check
	if pl.Sharding == "fsdp" {
		c := Check{Name: "torch FSDP2", OK: p.FSDP2Error == "", Detail: "from torch.distributed.fsdp import fully_shard, CPUOffloadPolicy"}
		if !c.OK {
			c.Detail = fmt.Sprintf("%s: %s (torch %s; install torch >= 2.6, the pinned %s: bash scripts/pyenv.sh)", c.Detail, p.FSDP2Error, orNone(p.Versions["torch"]), orNone(pins["torch"]))
		}
		cs = append(cs, c)
	}
	for _, name := range []string{"torch", "transformers"} {
		have, want := p.Versions[name], pins[name]
		c := Check{Name: name + " version", OK: have != "" && versionMatches(have, want), Warn: have != ""}
		c.Detail = fmt.Sprintf("%s %s, tested with %s", name, orNone(have), orNone(want))
		if have != "" && !c.OK {
			c.Detail += ": untested combination"
		}
		cs = append(cs, c)
	}
	if p.CUDADevices > 0 {
		perNode := pl.GPUs / pl.Nodes
		cs = append(cs, Check{Name: "visible GPUs", OK: p.CUDADevices >= perNode && p.MinDeviceGiB >= pl.GPUMemGiB,
			Detail: fmt.Sprintf("this machine: %d CUDA device(s), the smallest %.1f GiB; planned %d × %g GiB per node", p.CUDADevices, p.MinDeviceGiB, perNode, pl.GPUMemGiB)})
		if p.Versions["flash-attn"] == "" {
			cs = append(cs, Check{Name: "flash-attn", OK: true, Warn: true, Detail: "not installed: attention runs on SDPA (same O(T) memory in the plan)"})
		}
	}
	return cs
}

// versionMatches compares an installed version with a pin, ignoring a
// local build suffix ("2.15.0+cu132" matches "2.15.0").
func versionMatches(have, pin string) bool {
	base, _, _ := strings.Cut(have, "+")
	return pin != "" && base == pin
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// AddChecks appends cs to p's checks and recomputes p.OK.
func (p *Plan) AddChecks(cs ...Check) {
	p.Checks = append(p.Checks, cs...)
	p.OK = len(failed(p)) == 0
}
