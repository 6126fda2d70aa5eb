package plan

import "fmt"

const gib = 1 << 30

// checks runs the pre-flight checks on a plan whose layout is chosen.
func checks(in Input, p *Plan) []Check {
	cs := []Check{
		fitsCheck(in, p),
		{Name: "nodes", OK: in.GPUs%in.Nodes == 0,
			Detail: fmt.Sprintf("%d GPUs over %d node(s): want the same number on every node", in.GPUs, in.Nodes)},
		batchCheck(in, p),
	}
	cs = append(cs, cpChecks(in, p)...)
	cs = append(cs, windowCheck(in), hostCheck(in, p))
	if c, ok := slidingCheck(in); ok {
		cs = append(cs, c)
	}
	return cs
}

func fitsCheck(in Input, p *Plan) Check {
	c := Check{Name: "fits", OK: float64(p.Memory.Total) <= in.GPUMemGiB*gib}
	c.Detail = fmt.Sprintf("%.1f GiB of %.0f GiB per GPU", float64(p.Memory.Total)/gib, in.GPUMemGiB)
	if !c.OK {
		c.Detail += fmt.Sprintf("; to change: a shorter train length (Ls %d), more GPUs (and context parallelism), ce chunk below %d, or cpu offload", p.TrainLength, in.CEChunk)
		if sp := minSeqPar(in, p.TrainLength); sp > 1 && !p.Offload {
			c.Detail += fmt.Sprintf(" (fsdp fits with context parallel %d)", sp)
		}
	}
	return c
}

// cpChecks are the rules of a row split over cp GPUs (context parallelism,
// scaleout/longrecipe_torch/cp.py); the row itself is padded to a multiple of
// 2·cp by the ranks, so any train length splits.
func cpChecks(in Input, p *Plan) []Check {
	cp := p.CP
	if cp <= 1 {
		return nil
	}
	perNode := in.GPUs / max(1, in.Nodes)
	pad := cpTokens(p.TrainLength, cp)*cp - p.TrainLength
	sw := in.Model.Config.SlidingWindow
	return []Check{
		{Name: "cp without sliding window", OK: sw == 0,
			Detail: fmt.Sprintf("sliding_window %d: the ring attention of context parallelism implements full causal attention only", sw)},
		{Name: "cp divides gpus", OK: in.GPUs%cp == 0,
			Detail: fmt.Sprintf("%d GPUs, context parallel %d: want a divisor of the GPU count", in.GPUs, cp)},
		{Name: "cp with fsdp", OK: p.Sharding == "fsdp",
			Detail: fmt.Sprintf("context parallel %d with sharding %s: context parallelism runs with fsdp only", cp, p.Sharding)},
		{Name: "cp group on one node", OK: perNode%cp == 0, Warn: true,
			Detail: fmt.Sprintf("%d GPUs per node, context parallel %d: a group that spans nodes runs its ring over the network", perNode, cp)},
		{Name: "cp split", OK: true, Warn: true,
			Detail: fmt.Sprintf("each %d-token row padded by %d to %d tokens, %d per GPU in two zigzag halves", p.TrainLength, pad, p.TrainLength+pad, cpTokens(p.TrainLength, cp))},
	}
}

func windowCheck(in Input) Check {
	w := in.Model.Config.MaxPositionEmbeddings
	return Check{Name: "extends the window", OK: in.TargetLength > w, Warn: true,
		Detail: fmt.Sprintf("target length %d, model window (max_position_embeddings) %d", in.TargetLength, w)}
}

// hostCheck: the host memory of loading (hostBytes); with offload the
// states stay there.
func hostCheck(in Input, p *Plan) Check {
	c := Check{Name: "host memory", OK: true, Warn: in.HostMemGiB == 0}
	c.Detail = fmt.Sprintf("%.1f GiB per node (each of %d local ranks loads the model in fp32", float64(p.HostBytes)/gib, max(1, in.GPUs/in.Nodes))
	if p.Sharding == "fsdp" {
		c.Detail = fmt.Sprintf("%.1f GiB per node (rank 0 loads the model in fp32 and broadcasts it; each of %d local ranks keeps its shard", float64(p.HostBytes)/gib, max(1, in.GPUs/in.Nodes))
	}
	if p.Offload {
		c.Detail += "; offloaded states stay there"
	}
	c.Detail += ")"
	if in.HostMemGiB > 0 {
		c.OK = float64(p.HostBytes) <= in.HostMemGiB*gib
		c.Detail += fmt.Sprintf(" of %.0f GiB", in.HostMemGiB)
	}
	return c
}

// slidingCheck warns when the model attends only within a window shorter
// than the target (Mistral, Qwen2 with use_sliding_window).
func slidingCheck(in Input) (Check, bool) {
	w := in.Model.Config.SlidingWindow
	if w <= 0 || w >= in.TargetLength {
		return Check{}, false
	}
	return Check{Name: "sliding window", OK: false, Warn: true,
		Detail: fmt.Sprintf("sliding_window %d < target length %d: tokens further apart never attend to each other", w, in.TargetLength)}, true
}

// batchCheck: the backend deals a step's rows (batch·grad_accum, the same
// on any number of GPUs) round-robin over the ranks; when they do not divide
// evenly the ranks without a row run a zero-weighted one (wasted compute).
func batchCheck(in Input, p *Plan) Check {
	c := Check{Name: "global batch", OK: in.GlobalBatch%p.DataParallel == 0, Warn: true}
	c.Detail = fmt.Sprintf("%d rows per step over %d data-parallel ranks: %d passes each", in.GlobalBatch, p.DataParallel, p.RowsPerGPU)
	if !c.OK {
		c.Detail += fmt.Sprintf("; %d rank passes run a zero-weighted row (a multiple of %d wastes none)", p.RowsPerGPU*p.DataParallel-in.GlobalBatch, p.DataParallel)
	}
	return c
}
