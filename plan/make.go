package plan

import (
	"fmt"
	"math"

	"github.com/longrecipe/longrecipe/positions"
)

// Make checks in, chooses the layout (unless in forces it) and returns the
// plan. An error means a bad input and names the field; a plan whose
// pre-flight checks fail is returned with OK false.
func Make(in Input) (*Plan, error) {
	in, err := withDefaults(in)
	if err != nil {
		return nil, err
	}
	ls := trainLength(in)
	if ls > in.TargetLength {
		return nil, fmt.Errorf("train length %d: longer than the target length %d", ls, in.TargetLength)
	}
	p := &Plan{
		Model: in.Model.Dir, Parameters: in.Model.Params, ParamSource: in.Model.ParamSource,
		TargetLength: in.TargetLength, TrainLength: ls, GPUs: in.GPUs, Nodes: in.Nodes,
		GPUMemGiB: in.GPUMemGiB, Precision: in.Precision, CEChunk: in.CEChunk,
	}
	l, mem := choose(in, ls, p)
	p.Sharding, p.Offload, p.CP, p.Memory = l.sharding, l.offload, l.sp, mem
	p.DataParallel = max(1, in.GPUs/l.sp)
	p.RowsPerGPU = (in.GlobalBatch + p.DataParallel - 1) / p.DataParallel
	p.HostBytes = hostBytes(in, p.Sharding, mem)
	p.Time = timing(in, ls)
	addRing(&p.Time, in, p)
	p.Checks = checks(in, p)
	if p.Offload && in.Offload == nil {
		if sp := minSeqPar(in, ls); sp > 1 {
			p.Notes = append(p.Notes, fmt.Sprintf("without offload, fsdp would need context parallel %d (set it to trade offload's host transfers for the ring's)", sp))
		}
	}
	p.OK = len(failed(p)) == 0
	return p, nil
}

// withDefaults validates in and fills its optional fields.
func withDefaults(in Input) (Input, error) {
	if in.Model.Config == nil {
		return in, fmt.Errorf("model: no config.json read")
	}
	if in.Nodes == 0 {
		in.Nodes = 1
	}
	if in.Precision == "" {
		in.Precision = "bf16"
	}
	in.CEChunk = orDefault(in.CEChunk, DefaultCEChunk)
	in.Steps = orDefault(in.Steps, DefaultSteps)
	in.GlobalBatch = orDefault(in.GlobalBatch, DefaultGlobalBatch)
	if in.PeakTFLOPS == 0 {
		in.PeakTFLOPS = DefaultPeakTFLOPS
	}
	if in.MFU == 0 {
		in.MFU = DefaultMFU
	}
	if in.LinkGBps == 0 {
		in.LinkGBps = DefaultLinkGBps
	}
	return in, validate(in)
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// validate names the first bad field of in.
func validate(in Input) error {
	ints := []struct {
		name string
		v    int
		min  int
	}{
		{"target length", in.TargetLength, 1}, {"train length", in.TrainLength, 0},
		{"gpus", in.GPUs, 1}, {"nodes", in.Nodes, 1}, {"context parallel", in.CP, 0},
		{"ce chunk", in.CEChunk, 1}, {"steps", in.Steps, 1}, {"global batch", in.GlobalBatch, 1},
	}
	for _, f := range ints {
		if f.v < f.min {
			return fmt.Errorf("%s %d: want >= %d", f.name, f.v, f.min)
		}
	}
	floats := []struct {
		name     string
		v        float64
		min, max float64
		minOpen  bool
	}{
		{"gpu memory (GiB)", in.GPUMemGiB, 0, math.Inf(1), true},
		{"tokens/s", in.TokensPerSec, 0, math.Inf(1), false},
		{"peak TFLOPS", in.PeakTFLOPS, 0, math.Inf(1), true},
		{"link GB/s", in.LinkGBps, 0, math.Inf(1), true},
		{"mfu", in.MFU, 0, 1, true},
		{"host memory (GiB)", in.HostMemGiB, 0, math.Inf(1), false},
	}
	for _, f := range floats {
		if math.IsNaN(f.v) || f.v < f.min || (f.minOpen && f.v == f.min) || f.v > f.max || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s %g: want a number in %s", f.name, f.v, interval(f.min, f.max, f.minOpen))
		}
	}
	if in.TrainLength == 0 && !(in.Ratio > 0 && in.Ratio <= 1) {
		return fmt.Errorf("ratio %g: want (0, 1] (or give the train length)", in.Ratio)
	}
	if in.Precision != "bf16" && in.Precision != "fp32" {
		return fmt.Errorf("precision %q: want bf16 or fp32", in.Precision)
	}
	switch in.Sharding {
	case "", "fsdp", "ddp":
	case "none":
		if in.GPUs > 1 {
			return fmt.Errorf("sharding none: runs one process, but gpus is %d (use ddp or fsdp)", in.GPUs)
		}
	default:
		return fmt.Errorf("sharding %q: want none, ddp or fsdp", in.Sharding)
	}
	if in.Offload != nil && *in.Offload && in.Sharding != "" && in.Sharding != "fsdp" {
		return fmt.Errorf("cpu offload: needs sharding fsdp (FSDP2 CPUOffloadPolicy), not %s", in.Sharding)
	}
	return nil
}

func interval(lo, hi float64, open bool) string {
	l := "["
	if open {
		l = "("
	}
	if math.IsInf(hi, 1) {
		return fmt.Sprintf("%s%g, ∞)", l, lo)
	}
	return fmt.Sprintf("%s%g, %g]", l, lo, hi)
}

// trainLength is Ls: given, or round(ratio·Lt) (the recipe's rule).
func trainLength(in Input) int {
	if in.TrainLength > 0 {
		return in.TrainLength
	}
	return positions.TrainLength(in.Ratio, in.TargetLength)
}

// hostBytes is the host memory a node needs. Under fsdp the model is built
// on the meta device and rank 0 alone reads it in fp32 and broadcasts it
// (each local rank keeps its shard); with ddp and none every local rank
// loads it in fp32 (from_pretrained). With offload the states of the
// node's GPUs live there afterwards.
func hostBytes(in Input, sharding string, m Memory) int64 {
	perNode := int64(in.GPUs / in.Nodes)
	if perNode == 0 {
		perNode = 1
	}
	P := in.Model.Params
	if sharding == "fsdp" {
		return max(4*P+perNode*ceilDiv(4*P, int64(in.GPUs)), perNode*m.OffloadedStates)
	}
	return perNode * max(4*P, m.OffloadedStates)
}
