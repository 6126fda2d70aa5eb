package gguf

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/longrecipe/longrecipe/hf"
)

// planExport maps every checkpoint tensor to its GGUF tensor (a tensor
// llama.cpp does not know, a missing one or a wrong shape is an error
// naming it) in llama.cpp's order, with llama3 RoPE factors first.
func planExport(ck *hf.Checkpoint, cfg *hf.Config, arch string, opts ExportOptions) ([]OutTensor, *ExportResult, error) {
	shapes := expectedShapes(cfg) // lm_head absent when tied (check.go, shared with import)
	tied := cfg.TieWordEmbeddings
	if _, ok := ck.Info("lm_head.weight"); !ok {
		tied = true
	}
	res := &ExportResult{Arch: arch, Types: map[string]int{}}
	var out []OutTensor
	for _, name := range ck.Names() {
		info, _ := ck.Info(name)
		if strings.HasSuffix(name, ".rotary_emb.inv_freq") || (name == "lm_head.weight" && cfg.TieWordEmbeddings) {
			continue // recomputed by the runtime / the tied embedding
		}
		want, known := shapes[name]
		gname := GGUFName(name)
		if !known || gname == "" {
			return nil, nil, fmt.Errorf("export %s: tensor %q is not part of a %s model llama.cpp reads", ck.Dir(), name, cfg.ModelType)
		}
		if !slices.Equal(info.Shape, want) {
			return nil, nil, fmt.Errorf("export %s: tensor %q has shape %v, config.json implies %v", ck.Dir(), name, info.Shape, want)
		}
		delete(shapes, name)
		t, err := exportTensor(ck, name, gname, info.Shape, permuteHeads(arch, gname, cfg), tensorType(gname, info.Shape, opts.Type, tied))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, t)
	}
	for name := range shapes {
		return nil, nil, fmt.Errorf("export %s: tensor %q is missing", ck.Dir(), name)
	}
	if s := cfg.RopeScaling; s != nil && s.Type == "llama3" {
		out = append(out, ropeFreqsTensor(cfg))
	}
	slices.SortStableFunc(out, func(a, b OutTensor) int { return tensorOrder(a.Name) - tensorOrder(b.Name) })
	for i := range out {
		res.Tensors++
		res.Types[out[i].Type.String()]++
		if p := opts.Progress; p != nil {
			w, size := out[i].Write, out[i].Size()
			out[i].Write = func(dst io.Writer) error {
				if err := w(dst); err != nil {
					return err
				}
				p(size)
				return nil
			}
		}
	}
	return out, res, nil
}

// tensorOrder sorts as llama.cpp's converter writes: rope_freqs,
// token_embd, the layers in order, output_norm, output.
func tensorOrder(name string) int {
	switch name {
	case "rope_freqs.weight":
		return -2
	case "token_embd.weight":
		return -1
	case "output_norm.weight":
		return 1 << 30
	case "output.weight":
		return 1<<30 + 1
	}
	m := blockRE.FindStringSubmatch(name)
	layer, _ := strconv.Atoi(m[1])
	return layer
}

// tensorType follows llama.cpp's convention: 1-D tensors (norms, biases)
// stay F32; with Q4_K the output matrix (the tied embedding when there is
// none) is Q6_K; a matrix whose rows do not fill the type's blocks falls
// back to Q8_0 (rows of a multiple of 32) or F16.
func tensorType(gname string, shape []int, want GGMLType, tied bool) GGMLType {
	if len(shape) == 1 {
		return F32
	}
	t := want
	if want == Q4_K && (gname == "output.weight" || tied && gname == "token_embd.weight") {
		t = Q6_K
	}
	cols := shape[len(shape)-1]
	if cols%t.BlockSize() != 0 {
		t = Q8_0
		if want == Q8_0 || cols%32 != 0 {
			t = F16
		}
	}
	return t
}

// exportTensor returns the streamed GGUF tensor for a checkpoint tensor of
// HF shape; heads > 0 permutes its rows per head as llama.cpp expects.
func exportTensor(ck *hf.Checkpoint, name, gname string, shape []int, heads int, typ GGMLType) (OutTensor, error) {
	rows, cols := int64(shape[0]), int64(1)
	dims := []int64{rows}
	if len(shape) == 2 {
		cols = int64(shape[1])
		dims = []int64{cols, rows}
	}
	if heads > 0 && (rows%int64(heads) != 0 || (rows/int64(heads))%2 != 0) {
		return OutTensor{}, fmt.Errorf("export %s: tensor %q: %d rows do not split into %d heads of even size", ck.Dir(), name, rows, heads)
	}
	write := func(w io.Writer) error {
		group := max(1, chunkValues/cols)
		if heads > 0 {
			group = rows / int64(heads) // one head at a time
		}
		vals := make([]float32, min(group, rows)*cols)
		perm := make([]float32, len(vals))
		buf := make([]byte, int64(len(vals))/int64(typ.BlockSize())*int64(typ.TypeSize()))
		for r0 := int64(0); r0 < rows; r0 += group {
			n := min(group, rows-r0)
			v := vals[:n*cols]
			if err := ck.Float32Range(name, r0*cols, v); err != nil {
				return err
			}
			if heads > 0 {
				for g := range n {
					s := hfRow(g, n)
					copy(perm[g*cols:(g+1)*cols], v[s*cols:(s+1)*cols])
				}
				v = perm[:n*cols]
			}
			b := buf[:n*cols/int64(typ.BlockSize())*int64(typ.TypeSize())]
			if err := Quantize(b, v, typ); err != nil {
				return err
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	return OutTensor{Name: gname, Dims: dims, Type: typ, Write: write}, nil
}

// ropeFreqsTensor stores llama3 RoPE scaling as llama.cpp's converter
// does: per-frequency divisors in rope_freqs.weight (F32, head_dim/2).
func ropeFreqsTensor(cfg *hf.Config) OutTensor {
	s := cfg.RopeScaling
	f := llama3Factors(cfg.RopeTheta, cfg.HeadDim, s.Factor, s.LowFreqFactor, s.HighFreqFactor, float64(s.OriginalMaxPositionEmbeddings))
	vals := make([]float32, len(f))
	for i, v := range f {
		vals[i] = float32(v)
	}
	return OutTensor{Name: "rope_freqs.weight", Dims: []int64{int64(len(vals))}, Type: F32, Write: func(w io.Writer) error {
		b := make([]byte, 4*len(vals))
		qF32(b, vals)
		_, err := w.Write(b)
		return err
	}}
}
