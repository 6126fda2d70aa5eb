package merge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/internal/progress"
)

// ChunkElements is how many elements of a tensor are averaged at a time.
const ChunkElements = 1 << 18

// Options controls Merge.
type Options struct {
	// Weights has one positive finite weight per model; nil means equal
	// weights. Weights are normalised to sum to 1, so 1,1 and 0.5,0.5 mean
	// the same.
	Weights []float64
	// DType is the stored type of the averaged tensors: "" keeps each
	// tensor's input dtype; otherwise F32, BF16 or F16 (hf.ParseDType
	// spellings). Non-float tensors are never converted.
	DType hf.DType
	// MaxShardBytes splits the output as transformers does; 0 writes one
	// model.safetensors.
	MaxShardBytes int64
	// Overwrite allows replacing an existing non-empty output folder.
	Overwrite bool
	// Progress, when not nil, receives a progress bar.
	Progress io.Writer
}

// Result describes a finished merge.
type Result struct {
	Tensors int
	Bytes   int64
	// Weights are the normalised weights used.
	Weights []float64
	// Notes lists differences between the models' configs that do not
	// prevent merging (e.g. rope_theta); the output keeps the first
	// model's values.
	Notes []string
}

// NormalizeWeights checks that there is one positive finite weight per
// model (nil: equal weights) and returns them scaled to sum to 1.
func NormalizeWeights(weights []float64, models int) ([]float64, error) {
	if weights == nil {
		w := make([]float64, models)
		for i := range w {
			w[i] = 1 / float64(models)
		}
		return w, nil
	}
	if len(weights) != models {
		return nil, fmt.Errorf("%d weights for %d models", len(weights), models)
	}
	var sum float64
	for i, w := range weights {
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("weight %d is %v; weights must be positive and finite", i+1, w)
		}
		sum += w
	}
	if math.IsInf(sum, 0) {
		return nil, errors.New("weights overflow when summed")
	}
	out := make([]float64, len(weights))
	for i, w := range weights {
		out[i] = w / sum
	}
	return out, nil
}

// ParseWeights parses a comma-separated weight list such as "0.5,0.5".
func ParseWeights(s string) ([]float64, error) {
	parts := strings.Split(s, ",")
	out := make([]float64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("weight %q is not a number", p)
		}
		out[i] = v
	}
	return out, nil
}

// Merge averages the checkpoints in the model folders models (at least
// two) into the folder output. Every model must have the same
// architecture sizes in config.json and the same tensor names, shapes and
// dtypes. Float tensors (F32, BF16, F16, F64) are averaged in float64
// chunk by chunk and stored in opts.DType (default: their own dtype);
// other tensors must be byte-identical in every model and are copied.
// config.json and the tokenizer files come from the first model. The output
// is assembled in a temporary folder next to output and renamed into place
// at the end, so a failed merge leaves no partial output.
func Merge(ctx context.Context, models []string, output string, opts Options) (*Result, error) {
	weights, err := checkArgs(models, output, opts)
	if err != nil {
		return nil, err
	}
	cfgs, cks, err := openModels(models)
	defer func() {
		for _, ck := range cks {
			if ck != nil {
				ck.Close()
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	res := &Result{Weights: weights}
	if res.Notes, err = compareConfigs(models, cfgs); err != nil {
		return nil, err
	}
	srcs, total, err := plan(ctx, models, cks, weights, opts.DType)
	if err != nil {
		return nil, err
	}
	res.Tensors, res.Bytes = len(srcs), total
	tmp, stale, err := prepareOutput(output)
	res.Notes = append(res.Notes, stale...)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	if err := writeMerged(tmp, output, models, weights, cfgs[0], srcs, total, opts); err != nil {
		return nil, err
	}
	if err := replaceDir(tmp, output); err != nil {
		return nil, err
	}
	return res, nil
}

// checkArgs checks Merge's arguments and returns the normalized weights.
func checkArgs(models []string, output string, opts Options) ([]float64, error) {
	if len(models) < 2 {
		return nil, fmt.Errorf("merge needs at least two models, got %d", len(models))
	}
	weights, err := NormalizeWeights(opts.Weights, len(models))
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	if opts.DType != "" && opts.DType != hf.F32 && opts.DType != hf.BF16 && opts.DType != hf.F16 {
		return nil, fmt.Errorf("merge: output dtype %s not supported (want F32, BF16 or F16)", opts.DType)
	}
	if err := checkOutput(output, models, opts.Overwrite); err != nil {
		return nil, err
	}
	return weights, nil
}

// openModels opens every model folder's config and checkpoint; the
// checkpoints opened are returned, for the caller to close, even on error.
func openModels(models []string) ([]*hf.Config, []*hf.Checkpoint, error) {
	cfgs := make([]*hf.Config, len(models))
	cks := make([]*hf.Checkpoint, len(models))
	for i, dir := range models {
		var err error
		cfgs[i], cks[i], err = hf.OpenModelDir(dir) // tensors are streamed: no model-sized allocation
		if err != nil {
			return nil, cks, fmt.Errorf("merge: %w", err)
		}
	}
	return cfgs, cks, nil
}

// prepareOutput creates output's parent, removes what a stale earlier
// merge left there (noted) and returns a fresh temporary folder beside
// output.
func prepareOutput(output string) (tmp string, notes []string, err error) {
	parent := filepath.Dir(filepath.Clean(output))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", nil, fmt.Errorf("merge: %w", err)
	}
	notes, err = removeStale(output)
	if err != nil {
		return "", notes, err
	}
	tmp, err = os.MkdirTemp(parent, "."+filepath.Base(output)+".tmp-*")
	if err != nil {
		return "", notes, fmt.Errorf("merge: %w", err)
	}
	return tmp, notes, nil
}

// writeMerged writes the merged tensors srcs, the first model's config
// (with the output dtype) and its tokenizer files into tmp.
func writeMerged(tmp, output string, models []string, weights []float64, cfg0 *hf.Config, srcs []hf.TensorSource, total int64, opts Options) error {
	var bar *progress.Bar
	wopts := hf.WriteOptions{MaxShardBytes: opts.MaxShardBytes, Metadata: map[string]string{"format": "pt", "merged_from": describe(models, weights)}}
	if opts.Progress != nil {
		bar = progress.New(opts.Progress, "merge", total, "B")
		wopts.Progress = func(n int64) { bar.Add(n) }
	}
	if err := hf.WriteCheckpoint(tmp, srcs, wopts); err != nil {
		return fmt.Errorf("merge into %s: %w", output, err)
	}
	if bar != nil {
		bar.Finish()
	}
	cfg := cfg0.Clone()
	if opts.DType != "" {
		cfg.TorchDtype = torchName(opts.DType)
	}
	if err := cfg.Save(filepath.Join(tmp, hf.ConfigFileName)); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if _, err := hf.CopyTokenizerFiles(models[0], tmp); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	return nil
}

// checkOutput refuses an output that resolves (symbolic links included) to
// one of the inputs, lies inside one or contains one, and an existing
// output unless overwrite is set (the --force rule of every command).
func checkOutput(output string, models []string, overwrite bool) error {
	if output == "" {
		return errors.New("merge: no output folder")
	}
	if err := paths.CheckOutput("merge", output, models...); err != nil {
		return err
	}
	return paths.CheckReplace("merge", output, overwrite)
}

// removeStale deletes the temporary folders that an interrupted merge into
// output left next to it (".NAME.tmp-*", up to the size of a model each)
// and returns notes naming them.
func removeStale(output string) ([]string, error) {
	pattern := filepath.Join(filepath.Dir(filepath.Clean(output)), "."+filepath.Base(output)+".tmp-*")
	stale, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	var notes []string
	for _, dir := range stale {
		if err := os.RemoveAll(dir); err != nil {
			return notes, fmt.Errorf("merge: remove stale temporary folder: %w", err)
		}
		notes = append(notes, fmt.Sprintf("removed %s, left by an interrupted merge", dir))
	}
	return notes, nil
}

// replaceDir renames the finished folder tmp to output, replacing an
// existing output folder.
func replaceDir(tmp, output string) error {
	if _, err := os.Stat(output); err == nil {
		old := tmp + ".old"
		if err := os.Rename(output, old); err != nil {
			return fmt.Errorf("merge: move old output aside: %w", err)
		}
		if err := os.Rename(tmp, output); err != nil {
			os.Rename(old, output)
			return fmt.Errorf("merge: %w", err)
		}
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("merge: remove old output: %w", err)
		}
		return nil
	}
	if err := os.Rename(tmp, output); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	return nil
}

// compareConfigs requires equal architecture sizes and returns notes on
// the other differences that matter to a reader (RoPE, window).
func compareConfigs(models []string, cfgs []*hf.Config) ([]string, error) {
	a := cfgs[0]
	var notes []string
	for i, b := range cfgs[1:] {
		fields := []struct {
			key  string
			x, y any
		}{
			{"model_type", a.ModelType, b.ModelType},
			{"vocab_size", a.VocabSize, b.VocabSize},
			{"hidden_size", a.HiddenSize, b.HiddenSize},
			{"intermediate_size", a.IntermediateSize, b.IntermediateSize},
			{"num_hidden_layers", a.NumHiddenLayers, b.NumHiddenLayers},
			{"num_attention_heads", a.NumAttentionHeads, b.NumAttentionHeads},
			{"num_key_value_heads", a.NumKeyValueHeads, b.NumKeyValueHeads},
			{"head_dim", a.HeadDim, b.HeadDim},
			{"tie_word_embeddings", a.TieWordEmbeddings, b.TieWordEmbeddings},
			{"attention_bias", a.AttentionBias, b.AttentionBias},
			{"mlp_bias", a.MLPBias, b.MLPBias},
		}
		for _, f := range fields {
			if f.x != f.y {
				return nil, fmt.Errorf("merge: %s differs: %v in %s, %v in %s", f.key, f.x, models[0], f.y, models[i+1])
			}
		}
		soft := []struct {
			key  string
			x, y any
		}{
			{"rope_theta", a.RopeTheta, b.RopeTheta},
			{"rope_scaling", ropeString(a.RopeScaling), ropeString(b.RopeScaling)},
			{"max_position_embeddings", a.MaxPositionEmbeddings, b.MaxPositionEmbeddings},
			{"sliding_window", a.SlidingWindow, b.SlidingWindow},
		}
		for _, f := range soft {
			if f.x != f.y {
				notes = append(notes, fmt.Sprintf("%s differs (%v in %s, %v in %s); the output keeps %v", f.key, f.x, models[0], f.y, models[i+1], f.x))
			}
		}
	}
	return notes, nil
}

func ropeString(s *hf.RopeScaling) string {
	if s == nil {
		return "none"
	}
	return fmt.Sprintf("%+v", *s)
}

// plan checks that every model has the same tensors and builds the
// streaming sources.
func plan(ctx context.Context, models []string, cks []*hf.Checkpoint, weights []float64, outDType hf.DType) ([]hf.TensorSource, int64, error) {
	names := cks[0].Names()
	for i, ck := range cks[1:] {
		if n := len(ck.Names()); n != len(names) {
			for _, name := range ck.Names() {
				if _, ok := cks[0].Info(name); !ok {
					return nil, 0, fmt.Errorf("merge: tensor %q of %s is not in %s", name, models[i+1], models[0])
				}
			}
		}
	}
	var srcs []hf.TensorSource
	var total int64
	buf := &buffers{}
	for _, name := range names {
		info, _ := cks[0].Info(name)
		for i, ck := range cks[1:] {
			other, ok := ck.Info(name)
			switch {
			case !ok:
				return nil, 0, fmt.Errorf("merge: tensor %q of %s is missing from %s", name, models[0], models[i+1])
			case !slices.Equal(info.Shape, other.Shape):
				return nil, 0, fmt.Errorf("merge: tensor %q has shape %v in %s but %v in %s", name, info.Shape, models[0], other.Shape, models[i+1])
			case info.DType != other.DType:
				return nil, 0, fmt.Errorf("merge: tensor %q has dtype %s in %s but %s in %s", name, info.DType, models[0], other.DType, models[i+1])
			}
		}
		if !info.DType.IsFloat() {
			src, err := copySource(models, cks, info)
			if err != nil {
				return nil, 0, err
			}
			srcs = append(srcs, src)
			total += info.Bytes()
			continue
		}
		dt := info.DType
		if outDType != "" {
			dt = outDType
		}
		srcs = append(srcs, hf.TensorSource{Name: name, Shape: info.Shape, DType: dt, Chunks: averager(ctx, models, cks, weights, info, buf)})
		total += info.NumElements() * int64(dt.Size())
	}
	return srcs, total, nil
}

// buffers are the chunk buffers shared by the averagers (tensors are
// written one after the other, never concurrently).
type buffers struct {
	acc     []float64
	in, out []float32
}

func (b *buffers) grow(n int) {
	if len(b.acc) < n {
		b.acc = make([]float64, n)
		b.in = make([]float32, n)
		b.out = make([]float32, n)
	}
}

// averager returns the Chunks producer of the weighted average of one
// tensor.
func averager(ctx context.Context, models []string, cks []*hf.Checkpoint, weights []float64, info hf.TensorInfo, buf *buffers) func(func([]float32) error) error {
	return func(yield func([]float32) error) error {
		n := info.NumElements()
		size := int(min(n, ChunkElements))
		buf.grow(size)
		acc, in, out := buf.acc, buf.in, buf.out
		for start := int64(0); start < n; start += int64(size) {
			if err := ctx.Err(); err != nil {
				return err
			}
			m := int(min(int64(size), n-start))
			clear(acc[:m])
			for k, ck := range cks {
				if err := ck.Float32Range(info.Name, start, in[:m]); err != nil {
					return fmt.Errorf("read %s: %w", models[k], err)
				}
				w := weights[k]
				for j, v := range in[:m] {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						return fmt.Errorf("tensor %q of %s has the value %v at element %d; refusing to merge non-finite weights", info.Name, models[k], v, start+int64(j))
					}
					acc[j] += w * float64(v)
				}
			}
			for j, v := range acc[:m] {
				out[j] = float32(v)
			}
			if err := yield(out[:m]); err != nil {
				return err
			}
		}
		return nil
	}
}

// copySource returns a source copying a non-float tensor that must be
// byte-identical in every model.
func copySource(models []string, cks []*hf.Checkpoint, info hf.TensorInfo) (hf.TensorSource, error) {
	first, err := cks[0].Raw(info.Name)
	if err != nil {
		return hf.TensorSource{}, fmt.Errorf("merge: %w", err)
	}
	for k, ck := range cks[1:] {
		b, err := ck.Raw(info.Name)
		if err != nil {
			return hf.TensorSource{}, fmt.Errorf("merge: %w", err)
		}
		if !bytes.Equal(first, b) {
			return hf.TensorSource{}, fmt.Errorf("merge: tensor %q has dtype %s, which cannot be averaged, and differs between %s and %s", info.Name, info.DType, models[0], models[k+1])
		}
	}
	name := info.Name
	return hf.TensorSource{Name: name, Shape: info.Shape, DType: info.DType, Raw: func() ([]byte, error) { return cks[0].Raw(name) }}, nil
}

func describe(models []string, weights []float64) string {
	parts := make([]string, len(models))
	for i, m := range models {
		parts[i] = fmt.Sprintf("%g*%s", weights[i], filepath.Base(filepath.Clean(m)))
	}
	return strings.Join(parts, " + ")
}

func torchName(d hf.DType) string {
	switch d {
	case hf.BF16:
		return "bfloat16"
	case hf.F16:
		return "float16"
	case hf.F64:
		return "float64"
	}
	return "float32"
}
