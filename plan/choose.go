package plan

import "fmt"

// choose returns the first layout that fits, trying the context-parallel
// degrees in increasing order (1 first) and at each the candidates of
// candidates (fsdp only when cp > 1); when none fits it returns the
// layout with the smallest total. It records why in p.Notes.
func choose(in Input, ls int, p *Plan) (layout, Memory) {
	limit := int64(in.GPUMemGiB * (1 << 30))
	var best layout
	var bestMem Memory
	for _, sp := range spDegrees(in) {
		s := shapeOf(in.Model, cpTokens(ls, sp), in.CEChunk, in.Precision, cacheOn(in))
		for _, l := range candidates(in) {
			if sp > 1 && l.sharding != "fsdp" && in.Sharding == "" {
				continue // context parallelism runs with fsdp only
			}
			l.sp = sp
			m := estimate(s, l, in.GPUs)
			if m.Total <= limit {
				p.Notes = append(p.Notes, fitNote(in, ls, l))
				return l, m
			}
			if best.sp == 0 || m.Total < bestMem.Total {
				best, bestMem = l, m
			}
		}
	}
	p.Notes = append(p.Notes, "nothing tried fits; shown: the layout with the least memory")
	return best, bestMem
}

// candidates lists sharding/offload pairs from the least to the most
// memory-saving (and the fastest to the slowest).
func candidates(in Input) []layout {
	var shardings []string
	switch {
	case in.Sharding != "":
		shardings = []string{in.Sharding}
	case in.GPUs == 1:
		shardings = []string{"none"}
	default:
		shardings = []string{"ddp", "fsdp"}
	}
	var out []layout
	if in.Offload == nil || !*in.Offload {
		for _, s := range shardings {
			out = append(out, layout{sharding: s})
		}
	}
	offloadOK := in.Sharding == "" || in.Sharding == "fsdp"
	if offloadOK && (in.Offload == nil || *in.Offload) {
		out = append(out, layout{sharding: "fsdp", offload: true})
	}
	return out
}

// spDegrees are the context-parallel degrees to try: the one given, or
// every divisor of the GPU count.
func spDegrees(in Input) []int {
	if in.CP > 0 {
		return []int{in.CP}
	}
	var ds []int
	for d := 1; d <= in.GPUs; d++ {
		if in.GPUs%d == 0 {
			ds = append(ds, d)
		}
	}
	return ds
}

func fitNote(in Input, ls int, l layout) string {
	forced := in.Sharding != "" || in.Offload != nil || in.CP > 0
	what := fmt.Sprintf("sharding %s", l.sharding)
	if l.offload {
		what += " with CPU offload of parameters, gradients and optimizer states"
	}
	if l.sp > 1 {
		what += fmt.Sprintf(", each %d-token row split over %d GPUs", ls, l.sp)
	}
	if forced {
		return what + " (as asked)"
	}
	return what + ": the first layout that fits, trying context parallelism 1 first, and at each degree no offload before offload"
}

// minSeqPar is the least context-parallel degree with which fsdp without
// offload fits, 0 when none does; for the advice when offload was chosen.
func minSeqPar(in Input, ls int) int {
	if in.GPUs < 2 {
		return 0
	}
	limit := int64(in.GPUMemGiB * (1 << 30))
	for _, sp := range spDegrees(Input{GPUs: in.GPUs}) {
		s := shapeOf(in.Model, cpTokens(ls, sp), in.CEChunk, in.Precision, cacheOn(in))
		if estimate(s, layout{sharding: "fsdp", sp: sp}, in.GPUs).Total <= limit {
			return sp
		}
	}
	return 0
}
