package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/model"
)

// Checkpoint layout, under the output folder:
//
//	checkpoints/latest                       name of the newest complete checkpoint
//	checkpoints/step-00000040/weights.safetensors    fp32 master weights
//	checkpoints/step-00000040/optimizer.safetensors  AdamW moments (exp_avg.NAME, exp_avg_sq.NAME)
//	checkpoints/step-00000040/state.json             State
//	checkpoints/step-00000040/manifest.json          size and SHA-256 of the three files above
//
// A checkpoint directory is written completely (each file atomically, the
// manifest last, see manifest.go) before "latest" is replaced atomically;
// older checkpoint directories are removed afterwards. A crash at any point leaves "latest" naming a
// complete checkpoint (or absent, before the first one).
const (
	checkpointDir  = "checkpoints"
	latestFile     = "latest"
	stateFile      = "state.json"
	weightsFile    = "weights.safetensors"
	optimizerFile  = "optimizer.safetensors"
	stateFormat    = "longrecipe-train-checkpoint/1"
	metricsFile    = "metrics.jsonl"
	stepDirPattern = "step-%08d"
)

// stepDirName matches the names stepDirPattern makes.
var stepDirName = regexp.MustCompile(`^step-[0-9]{8,}$`)

// Hyper is every setting that determines the trained weights. It is stored
// in each checkpoint; resuming with different values is an error unless
// forced.
type Hyper struct {
	Steps     int     `json:"steps"`
	Batch     int     `json:"batch"`
	GradAccum int     `json:"grad_accum"`
	Schedule  string  `json:"schedule"`
	LR        float64 `json:"lr"`
	Warmup    int     `json:"warmup"`
	MinLR     float64 `json:"min_lr"`
	AdamW     struct {
		Beta1       float64 `json:"beta1"`
		Beta2       float64 `json:"beta2"`
		Eps         float64 `json:"eps"`
		WeightDecay float64 `json:"weight_decay"`
		DecayAll    bool    `json:"decay_all"`
	} `json:"adamw"`
	GradClip float64 `json:"grad_clip"`
	Seed     int64   `json:"seed"`
	// Extra holds caller settings that also determine the result (model
	// and data paths, thread count, dtype...), compared like the others.
	Extra map[string]string `json:"extra,omitempty"`
}

// AdamWConfig returns the optimizer settings.
func (h *Hyper) AdamWConfig() AdamWConfig {
	a := h.AdamW
	return AdamWConfig{Beta1: a.Beta1, Beta2: a.Beta2, Eps: a.Eps, WeightDecay: a.WeightDecay, DecayAll: a.DecayAll}
}

// SetAdamW sets the optimizer settings.
func (h *Hyper) SetAdamW(c AdamWConfig) {
	h.AdamW.Beta1, h.AdamW.Beta2, h.AdamW.Eps = c.Beta1, c.Beta2, c.Eps
	h.AdamW.WeightDecay, h.AdamW.DecayAll = c.WeightDecay, c.DecayAll
}

// ScheduleOf returns the learning-rate schedule.
func (h *Hyper) ScheduleOf() Schedule {
	return Schedule{Kind: h.Schedule, LR: h.LR, Warmup: h.Warmup, MinLR: h.MinLR, Total: h.Steps}
}

// fields lists the settings as name/value pairs for comparison.
func (h *Hyper) fields() [][2]string {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	out := [][2]string{
		{"steps", strconv.Itoa(h.Steps)},
		{"batch", strconv.Itoa(h.Batch)},
		{"grad-accum", strconv.Itoa(h.GradAccum)},
		{"schedule", h.Schedule},
		{"lr", g(h.LR)},
		{"warmup", strconv.Itoa(h.Warmup)},
		{"min-lr", g(h.MinLR)},
		{"beta1", g(h.AdamW.Beta1)},
		{"beta2", g(h.AdamW.Beta2)},
		{"eps", g(h.AdamW.Eps)},
		{"weight-decay", g(h.AdamW.WeightDecay)},
		{"decay-all", strconv.FormatBool(h.AdamW.DecayAll)},
		{"grad-clip", g(h.GradClip)},
		{"seed", strconv.FormatInt(h.Seed, 10)},
	}
	keys := make(map[string]bool)
	for k := range h.Extra {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		out = append(out, [2]string{k, h.Extra[k]})
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// diffHyper lists the settings that differ between a checkpoint (old) and
// the current run (cur), as "name: checkpoint X, now Y".
func diffHyper(old, cur *Hyper) []string {
	om := map[string]string{}
	for _, kv := range old.fields() {
		om[kv[0]] = kv[1]
	}
	cm := map[string]string{}
	all := map[string]bool{}
	for _, kv := range cur.fields() {
		cm[kv[0]] = kv[1]
		all[kv[0]] = true
	}
	for k := range om {
		all[k] = true
	}
	var out []string
	for _, k := range sortedKeys(all) {
		o, oin := om[k]
		c, cin := cm[k]
		switch {
		case !oin:
			out = append(out, fmt.Sprintf("%s: absent in the checkpoint, now %q", k, c))
		case !cin:
			out = append(out, fmt.Sprintf("%s: checkpoint %q, absent now", k, o))
		case o != c:
			out = append(out, fmt.Sprintf("%s: checkpoint %s, now %s", k, o, c))
		}
	}
	return out
}

// State is a checkpoint's state.json.
type State struct {
	Format string `json:"format"`
	// Step is the number of optimizer steps done.
	Step int `json:"step"`
	// NextRow is the data position: the index (before wrapping around the
	// data) of the next row to train on, Step·Batch·GradAccum.
	NextRow  int64 `json:"next_row"`
	DataRows int   `json:"data_rows"`
	// DataSample fingerprints the data (see dataSample) so that a resume
	// on other data of the same length is caught.
	DataSample string `json:"data_sample"`
	// Tokens is the number of input tokens trained on so far.
	Tokens int64 `json:"tokens"`
	// ElapsedS is the training wall time so far, across resumes.
	ElapsedS float64 `json:"elapsed_s"`
	// MetricsBytes is the length of metrics.jsonl at this checkpoint.
	MetricsBytes int64 `json:"metrics_bytes"`
	// OptimizerSteps is AdamW's step count t (equal to Step).
	OptimizerSteps int64 `json:"optimizer_steps"`
	// LR is the learning rate of the next step.
	LR    float64 `json:"next_lr"`
	Hyper Hyper   `json:"hyperparameters"`
	// RNG: the loop draws no random numbers (rows in file order, no
	// dropout), so there is no generator state to save.
}

// writeCheckpoint writes a complete checkpoint of params and opt with
// state st under out/checkpoints, then points "latest" at it and removes
// the older ones.
func writeCheckpoint(out string, params []*model.Param, opt *AdamW, st *State) error {
	root := filepath.Join(out, checkpointDir)
	name := fmt.Sprintf(stepDirPattern, st.Step)
	dir := filepath.Join(root, name)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	ws := make([]tensor, len(params))
	ms := make([]tensor, 0, 2*len(params))
	for i, p := range params {
		ws[i] = tensor{p.Name, p.Shape, p.W}
		ms = append(ms, tensor{"exp_avg." + p.Name, p.Shape, opt.M[i]}, tensor{"exp_avg_sq." + p.Name, p.Shape, opt.V[i]})
	}
	if err := writeF32Safetensors(filepath.Join(dir, weightsFile), ws); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := writeF32Safetensors(filepath.Join(dir, optimizerFile), ms); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint state: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, stateFile), append(b, '\n')); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := writeManifest(dir); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(root, latestFile), []byte(name+"\n")); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "step-") && e.Name() != name {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				return fmt.Errorf("checkpoint: removing an older one: %w", err)
			}
		}
	}
	return nil
}

// latestCheckpoint returns the directory named by out/checkpoints/latest
// and its state, or "" and nil when there is none yet.
func latestCheckpoint(out string) (string, *State, error) {
	root := filepath.Join(out, checkpointDir)
	b, err := paths.ReadRegular(filepath.Join(root, latestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("checkpoint: %w", err)
	}
	name, ok := strings.CutSuffix(string(b), "\n")
	if !ok || !stepDirName.MatchString(name) {
		return "", nil, fmt.Errorf("checkpoint: %s holds %q, not the name of a step-NNNNNNNN directory (damaged)", filepath.Join(root, latestFile), b)
	}
	dir := filepath.Join(root, name)
	if err := verifyManifest(dir); err != nil {
		return "", nil, err
	}
	sb, err := paths.ReadRegular(filepath.Join(dir, stateFile))
	if err != nil {
		return "", nil, fmt.Errorf("checkpoint named by %s: %w", filepath.Join(root, latestFile), err)
	}
	var st State
	if err := json.Unmarshal(sb, &st); err != nil {
		return "", nil, fmt.Errorf("checkpoint %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Format != stateFormat {
		return "", nil, fmt.Errorf("checkpoint %s: format %q, want %q", filepath.Join(dir, stateFile), st.Format, stateFormat)
	}
	if st.Step < 0 || st.OptimizerSteps != int64(st.Step) || st.MetricsBytes < 0 {
		return "", nil, fmt.Errorf("checkpoint %s: inconsistent state (step %d, optimizer steps %d, metrics bytes %d)", filepath.Join(dir, stateFile), st.Step, st.OptimizerSteps, st.MetricsBytes)
	}
	return dir, &st, nil
}

// loadCheckpoint reads the weights and moments of the checkpoint in dir
// into params and opt. The tensor names and shapes must match exactly.
func loadCheckpoint(dir string, params []*model.Param, opt *AdamW) error {
	wf, err := hf.OpenSafetensors(filepath.Join(dir, weightsFile))
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer wf.Close()
	of, err := hf.OpenSafetensors(filepath.Join(dir, optimizerFile))
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer of.Close()
	if n := len(wf.Tensors()); n != len(params) {
		return fmt.Errorf("checkpoint %s: %d tensors, the model has %d parameters", wf.Path(), n, len(params))
	}
	if n := len(of.Tensors()); n != 2*len(params) {
		return fmt.Errorf("checkpoint %s: %d tensors, want %d (two moments per parameter)", of.Path(), n, 2*len(params))
	}
	for i, p := range params {
		if err := readF32(wf, p.Name, p.Shape, p.W); err != nil {
			return fmt.Errorf("checkpoint does not match the model: %w", err)
		}
		if err := readF32(of, "exp_avg."+p.Name, p.Shape, opt.M[i]); err != nil {
			return fmt.Errorf("checkpoint does not match the model: %w", err)
		}
		if err := readF32(of, "exp_avg_sq."+p.Name, p.Shape, opt.V[i]); err != nil {
			return fmt.Errorf("checkpoint does not match the model: %w", err)
		}
	}
	return nil
}
