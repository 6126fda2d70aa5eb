package plan

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/torchlaunch"
)

// LaunchOf returns the launcher settings of p (torchlaunch.Launch, which
// "run" and "train --backend torch" read) with p itself recorded under
// "plan". masterAddr is the host of rank 0, required with several nodes;
// every node uses the file with its own node_rank. It refuses a plan whose
// checks failed, naming them, and checks the result with
// torchlaunch.Launch.Validate.
func LaunchOf(p *Plan, masterAddr string) (torchlaunch.Launch, error) {
	if !p.OK {
		return torchlaunch.Launch{}, fmt.Errorf("plan failed its checks (%s): not writing a launcher config", strings.Join(failed(p), ", "))
	}
	if p.Nodes > 1 && masterAddr == "" {
		return torchlaunch.Launch{}, fmt.Errorf("master addr: required with %d nodes (the host of rank 0)", p.Nodes)
	}
	record, err := json.Marshal(p)
	if err != nil {
		return torchlaunch.Launch{}, err
	}
	ckpt := true
	l := torchlaunch.Launch{
		Launcher: "torchrun", NprocPerNode: p.GPUs / p.Nodes, NNodes: p.Nodes, MasterAddr: masterAddr,
		MasterPort: 29500, Sharding: p.Sharding, Precision: p.Precision, ActivationCheckpointing: &ckpt,
		AttnImplementation: "auto", CEChunkTokens: p.CEChunk, ContextParallel: p.CP, CPUOffload: p.Offload,
		Plan: record,
	}
	if err := l.Validate(); err != nil {
		return torchlaunch.Launch{}, fmt.Errorf("launcher config: %w", err)
	}
	return l.WithDefaults(), nil
}

// WriteLaunch writes the launcher settings of p to path (atomically) as
// indented JSON.
func WriteLaunch(path string, p *Plan, masterAddr string) error {
	l, err := LaunchOf(p, masterAddr)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write launcher config %s: %w", path, err)
	}
	return nil
}

// failed names p's failed (non-advisory) checks.
func failed(p *Plan) []string {
	var names []string
	for _, c := range p.Checks {
		if !c.OK && !c.Warn {
			names = append(names, c.Name)
		}
	}
	return names
}
