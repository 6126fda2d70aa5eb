package experiment

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
)

// Report file names inside the output folder.
const (
	ResultsJSON   = "results.json"
	ResultsMD     = "results.md"
	AccuracyPlot  = "accuracy_vs_length.png"
	PPLPlot       = "ppl_by_position.png"
	NLLPlot       = "answer_nll_vs_length.png"
	RatioPlot     = "ratio_ablation.png"
	StagePlot     = "stage_ablation.png"
	FLOPsFormula  = "6·W·T + 6·L·H·HD·T² per row of T tokens (W: weights in matrix multiplies incl. the LM head; L layers; H·HD query width)"
	longAccDefine = "mean greedy accuracy of the evaluated tasks over the lengths above the base window"
)

// Results is everything the experiment measured: results.json.
type Results struct {
	Command  string         `json:"command"`
	Seed     int64          `json:"seed"`
	Settings Settings       `json:"settings"`
	Models   []*ModelResult `json:"models"`
	Targets  []Target       `json:"targets"`
	// ClaimTasks are the ranked tasks whose copy baseline above the base
	// window is at most eval.MaxClaimCopy (measured on the prompts): the
	// only ones retrieval claims use.
	ClaimTasks []string `json:"claim_tasks"`
	// ItemCopy is the copy baseline of each claim-task prompt above the
	// window (eval.CopyTop1), by item key (itemKey); the same prompts for
	// every model.
	ItemCopy map[string]float64 `json:"item_copy,omitempty"`
}

// Settings record how the experiment was run.
type Settings struct {
	Base          string    `json:"base"`
	Quick         bool      `json:"quick"`
	Window        int       `json:"base_window"`
	TargetLength  int       `json:"target_length"`
	Factor        int       `json:"factor"`
	BaseTheta     float64   `json:"base_rope_theta"`
	RopeTheta     float64   `json:"rope_theta"`
	Params        int64     `json:"params"`
	MatmulWeights int64     `json:"matmul_weights"`
	Tokens        int64     `json:"tokens_per_run"`
	AnnealTokens  int64     `json:"anneal_tokens"`
	Batch         int       `json:"batch_rows"`
	LR            float64   `json:"lr"`
	AnnealLR      float64   `json:"anneal_lr"`
	Threads       int       `json:"threads"`
	Precision     string    `json:"precision"`
	MaxDocs       int       `json:"max_docs"`
	Tasks         []string  `json:"tasks"`
	Lengths       []int     `json:"lengths"`
	Depths        []float64 `json:"depths"`
	Samples       int       `json:"samples"`
	FLOPsFormula  string    `json:"flops_formula"`
	LongAccuracy  string    `json:"long_accuracy"`
	// KeptFraction is the expected fraction of tokens the digit
	// selection keeps; the random-drop control drops sentences with
	// probability 1 − KeptFraction.
	KeptFraction float64 `json:"digit_kept_fraction"`
}

// ModelResult is one evaluated model.
type ModelResult struct {
	// Name is its key (base, flt, longrecipe-30+merge, ...).
	Name  RunName `json:"name"`
	Label string  `json:"label"`
	// Run is the stage-1 run it comes from ("base" for the base model).
	Run    RunName `json:"run"`
	Method string  `json:"method,omitempty"`
	// Stage is "base", "stage 1", "stage 2" (after replay) or "stage 3"
	// (after merge).
	Stage       string  `json:"stage"`
	Ratio       float64 `json:"ratio,omitempty"`
	TrainLength int     `json:"train_length,omitempty"`
	// Training counts every training step that led to the model.
	Training *Training `json:"training,omitempty"`
	// ComputeVsFLT is Training.FLOPs / FLT's training FLOPs.
	ComputeVsFLT float64 `json:"compute_vs_flt,omitempty"`
	Evaluated    bool    `json:"evaluated"`
	// Accuracy holds the mean score per task and length.
	Accuracy []Accuracy `json:"accuracy,omitempty"`
	// LongAccuracy is the mean of Accuracy over the tasks and the lengths
	// above the base window.
	LongAccuracy float64 `json:"long_accuracy"`
	// AnswerNLL is the mean negative log-likelihood (nats per token) of
	// the gold answers of the same retrieval prompts, per task and length
	// (teacher forcing; lower is better), and LongAnswerNLL its mean over
	// the tasks and the lengths above the base window.
	AnswerNLL     []Accuracy `json:"answer_nll,omitempty"`
	LongAnswerNLL float64    `json:"long_answer_nll"`
	// Top1 is the rate at which the gold answer is the most likely of 10
	// candidates (chance 0.1), NeedleGain the mean gain of its
	// log-likelihood from the needle (nats), per task and length; the
	// Long values are their means over the tasks and the lengths above
	// the base window.
	Top1           []Accuracy `json:"top1,omitempty"`
	NeedleGain     []Accuracy `json:"needle_gain,omitempty"`
	LongTop1       float64    `json:"long_top1"`
	LongNeedleGain float64    `json:"long_needle_gain"`
	// LongTop1 is over the claim tasks (Results.ClaimTasks) only;
	// LongCopy is their copy baseline and ReachTop1 the top-1 rate over
	// the other ranked tasks (copy baseline above eval.MaxClaimCopy: they
	// show whether a model reaches the needle at all).
	LongCopy  float64 `json:"long_copy"`
	ReachTop1 float64 `json:"reach_top1"`
	// ItemTop1 is the top-1 credit of each claim-task prompt above the
	// window, by item key, and DocLastNLL the mean loss (nats) of each
	// perplexity document's last position bucket, by document index: the
	// paired bootstrap resamples them.
	ItemTop1   map[string]float64 `json:"item_top1,omitempty"`
	DocLastNLL map[int]float64    `json:"doc_last_nll,omitempty"`
	// LastPPL is the perplexity of the last position bucket (the second
	// half of the target window).
	LastPPL  float64          `json:"last_ppl"`
	PPL      []eval.PPLBucket `json:"ppl_by_position,omitempty"`
	ShortPPL float64          `json:"short_ppl"`
	EvalDir  string           `json:"eval_dir"`
}

// Training summarises the training of a model.
type Training struct {
	Steps int   `json:"steps"`
	Rows  int64 `json:"rows"`
	// Epochs is Rows over the dataset's rows (one row per document).
	Epochs float64 `json:"epochs"`
	Tokens int64   `json:"tokens"`
	FLOPs  float64 `json:"flops"`
	// FullFLOPs is the analytic cost of the same number of rows at Lt
	// tokens each: FLT on as many sequences (not trained).
	FullFLOPs float64  `json:"full_length_flops"`
	Seconds   float64  `json:"wall_seconds"`
	LastLoss  *float64 `json:"last_loss"`
	RowLen    float64  `json:"mean_row_length"`
}

// Accuracy is a task's mean score at one length.
type Accuracy struct {
	Task   string  `json:"task"`
	Length int     `json:"length"`
	Score  float64 `json:"score"`
}

// Target is one of the claims the experiment checks.
type Target struct {
	Claim    string `json:"claim"`
	Measured string `json:"measured"`
	// Value is the measured ratio or difference (nil when undefined).
	Value *float64 `json:"value"`
	// Met is nil when a number it needs is missing or the intervals do
	// not decide; Holds says which ("yes", "**no**", "undecided (…)",
	// "n/a").
	Met   *bool  `json:"met"`
	Holds string `json:"holds"`
}

func (x *runner) newResults() *Results {
	r := &Results{Command: x.o.Command, Seed: x.o.Seed}
	r.Settings = Settings{
		Base: x.o.Base, Quick: x.o.Quick, Window: x.window, TargetLength: x.lt, Factor: x.o.Factor,
		BaseTheta: x.base.RopeTheta, RopeTheta: x.theta, Params: x.base.ParameterCount(), MatmulWeights: MatmulWeights(x.base),
		Tokens: x.o.Tokens, AnnealTokens: x.o.AnnealTokens, Batch: x.o.Batch, LR: x.o.LR, AnnealLR: x.o.AnnealLR,
		Threads: x.o.Threads, Precision: x.o.Precision.String(), MaxDocs: x.o.MaxDocs, Tasks: evalTasks, Lengths: x.lengths(), Depths: x.depths(),
		Samples: x.o.Samples, FLOPsFormula: FLOPsFormula, LongAccuracy: longAccDefine, KeptFraction: x.keptFraction,
	}
	return r
}

// model returns the entry of name, or nil.
func (r *Results) model(name RunName) *ModelResult {
	for _, m := range r.Models {
		if m.Name == name {
			return m
		}
	}
	return nil
}

func (r *Results) addModel(name RunName, label string, s runSpec, stage string, ls int, t *trained) {
	m := r.model(name)
	if m == nil {
		m = &ModelResult{Name: name}
		r.Models = append(r.Models, m)
	}
	m.Label, m.Run, m.Stage, m.TrainLength = label, s.Name, stage, ls
	if s.Method != "" {
		m.Method, m.Ratio = string(s.Method), s.Ratio
	}
	if t != nil {
		m.Training = &Training{Steps: t.Steps, Rows: t.Rows, Tokens: t.Tokens, FLOPs: t.FLOPs, FullFLOPs: t.FullFLOPs, Seconds: t.Seconds, LastLoss: t.LastLoss, RowLen: t.RowLength}
		if t.DataRows > 0 {
			m.Training.Epochs = float64(t.Rows) / float64(t.DataRows)
		}
	}
}

func (r *Results) addEval(name RunName, res *eval.Results, nll []Accuracy) {
	m := r.model(name)
	m.Evaluated = true
	m.EvalDir = filepath.Join("eval", string(name))
	m.Accuracy = nil
	var sum float64
	var n int
	for _, t := range evalTasks {
		for _, l := range res.Lengths {
			v, ok := res.Mean(t, l)
			if !ok {
				continue
			}
			m.Accuracy = append(m.Accuracy, Accuracy{Task: t, Length: l, Score: v})
			if l > r.Settings.Window {
				sum += v
				n++
			}
		}
	}
	m.LongAccuracy = math.NaN()
	if n > 0 {
		m.LongAccuracy = sum / float64(n)
	}
	m.AnswerNLL, m.LongAnswerNLL = nll, math.NaN()
	sum, n = 0, 0
	for _, a := range nll {
		if a.Length > r.Settings.Window {
			sum += a.Score
			n++
		}
	}
	if n > 0 {
		m.LongAnswerNLL = sum / float64(n)
	}
	m.PPL, m.ShortPPL, m.LastPPL = nil, math.NaN(), math.NaN()
	if res.PPL != nil {
		m.PPL, m.ShortPPL = res.PPL.Buckets, res.PPL.ShortPPL
		if n := len(m.PPL); n > 0 {
			m.LastPPL = m.PPL[n-1].PPL
		}
	}
	m.Top1, m.NeedleGain = nil, nil
	for _, t := range evalTasks {
		for _, l := range res.Lengths {
			if c, ok := res.PartialMean(t, l); ok {
				m.Top1 = append(m.Top1, Accuracy{Task: t, Length: l, Score: c.Top1})
				m.NeedleGain = append(m.NeedleGain, Accuracy{Task: t, Length: l, Score: c.NeedleGain})
			}
		}
	}
	r.setClaimTasks(res)
	m.LongTop1, m.LongCopy, m.ReachTop1 = r.longPartial(res, true, top1Of), r.longPartial(res, true, copyOf), r.longPartial(res, false, top1Of)
	m.LongNeedleGain = longMean(m.NeedleGain, r.Settings.Window)
	m.ItemTop1, m.DocLastNLL = map[string]float64{}, map[int]float64{}
	for _, it := range res.Items {
		if it.Partial != nil && it.Length > r.Settings.Window && slices.Contains(r.ClaimTasks, it.Task) {
			m.ItemTop1[itemKey(it)] = it.Partial.Top1
			r.ItemCopy[itemKey(it)] = it.Partial.Copy
		}
	}
	if res.PPL != nil {
		for _, d := range res.PPL.Docs {
			if n := len(d.BucketNLL); n > 0 {
				m.DocLastNLL[d.Doc] = d.BucketNLL[n-1]
			}
		}
	}
}

func top1Of(c eval.PartialCell) float64 { return c.Top1 }
func copyOf(c eval.PartialCell) float64 { return c.Copy }

// setClaimTasks sets r.ClaimTasks from res (once; every model of a seed
// sees the same prompts): the evaluated tasks whose copy baseline over
// the lengths above the window is at most eval.MaxClaimCopy.
func (r *Results) setClaimTasks(res *eval.Results) {
	if r.ItemCopy == nil {
		r.ItemCopy = map[string]float64{}
	}
	if r.ClaimTasks != nil {
		return
	}
	r.ClaimTasks = []string{}
	for _, t := range evalTasks {
		var sum float64
		var n int
		for _, l := range res.Lengths {
			if c, ok := res.PartialMean(t, l); ok && l > r.Settings.Window {
				sum += c.Copy
				n++
			}
		}
		if n > 0 && sum/float64(n) <= eval.MaxClaimCopy {
			r.ClaimTasks = append(r.ClaimTasks, t)
		}
	}
}

// longPartial is the mean of f over the ranked cells above the window of
// the claim tasks (claim) or of the other ranked tasks; NaN when none.
func (r *Results) longPartial(res *eval.Results, claim bool, f func(eval.PartialCell) float64) float64 {
	var sum float64
	var n int
	for _, t := range evalTasks {
		if slices.Contains(r.ClaimTasks, t) != claim {
			continue
		}
		for _, l := range res.Lengths {
			if c, ok := res.PartialMean(t, l); ok && l > r.Settings.Window {
				sum += f(c)
				n++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// itemKey names a prompt of an evaluation: task, length, depth, sample.
func itemKey(it eval.SampleResult) string {
	d := -1.0
	if it.Depth != nil {
		d = *it.Depth
	}
	return fmt.Sprintf("%s|%d|%g|%d", it.Task, it.Length, d, it.Index)
}

// longMean is the mean of as over the lengths above window (NaN: none).
func longMean(as []Accuracy, window int) float64 {
	var sum float64
	var n int
	for _, a := range as {
		if a.Length > window {
			sum += a.Score
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Epochs is the number of passes stage 1 made over its data (0 when
// unknown).
func (m *ModelResult) Epochs() float64 {
	if m.Training == nil {
		return 0
	}
	return m.Training.Epochs
}

// acc returns a model's mean score of task at length ("" task: the mean
// over tasks); NaN when not measured.
func (m *ModelResult) acc(task string, length int) float64 {
	return meanAt(m.Accuracy, task, length)
}

// top1At returns a model's top-1 rate of the gold answer among its
// distractors for task at length ("" task: the mean over tasks); NaN when
// not measured.
func (m *ModelResult) top1At(task string, length int) float64 {
	return meanAt(m.Top1, task, length)
}

// meanAt is the mean score of the entries of as for task ("": every task)
// at length; NaN when there is none.
func meanAt(as []Accuracy, task string, length int) float64 {
	var sum float64
	var n int
	for _, a := range as {
		if a.Length == length && (task == "" || a.Task == task) {
			sum += a.Score
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// longAcc is the mean of a task's accuracy over the lengths above the
// base window ("" task: both tasks).
func (r *Results) longAcc(m *ModelResult, task string) float64 {
	if task == "" {
		return m.LongAccuracy
	}
	return r.overLong(func(l int) float64 { return m.acc(task, l) })
}

// finish computes compute ratios (against FLT at equal tokens) and the
// final-model claims on this seed alone.
func (r *Results) finish() {
	flt := r.model(FLT)
	for _, m := range r.Models {
		m.ComputeVsFLT = 0
		if flt != nil && flt.Training != nil && m.Training != nil && flt.Training.FLOPs > 0 {
			m.ComputeVsFLT = m.Training.FLOPs / flt.Training.FLOPs
		}
	}
	r.Targets = nil
	nb := Bootstrap{Lo: math.NaN(), Hi: math.NaN()} // one seed: the mean decides
	for _, c := range claims {
		iv := tInterval([]float64{c.value(r, finalStage)})
		r.Targets = append(r.Targets, c.target(iv, nb))
	}
}

func pct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f %%", 100*v)
}

// write writes results.json and results.md into dir.
// (The charts are drawn once, at the end of the seed: drawing them after
// every evaluation cost more than a quick run's evaluations.)
func (r *Results) write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("experiment: encode results: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultsJSON), append(b, '\n')); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultsMD), []byte(r.Markdown())); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	return nil
}

// MarshalJSON writes NaN (not measured) as null.
func (m *ModelResult) MarshalJSON() ([]byte, error) {
	type plain ModelResult
	return json.Marshal(struct {
		*plain
		LongAccuracy   *float64 `json:"long_accuracy"`
		LongAnswerNLL  *float64 `json:"long_answer_nll"`
		ShortPPL       *float64 `json:"short_ppl"`
		LongTop1       *float64 `json:"long_top1"`
		LongNeedleGain *float64 `json:"long_needle_gain"`
		LastPPL        *float64 `json:"last_ppl"`
		LongCopy       *float64 `json:"long_copy"`
		ReachTop1      *float64 `json:"reach_top1"`
	}{(*plain)(m), finite(m.LongAccuracy), finite(m.LongAnswerNLL), finite(m.ShortPPL), finite(m.LongTop1), finite(m.LongNeedleGain), finite(m.LastPPL),
		finite(m.LongCopy), finite(m.ReachTop1)})
}

// UnmarshalJSON reads null as NaN.
func (m *ModelResult) UnmarshalJSON(b []byte) error {
	type plain ModelResult
	aux := struct {
		*plain
		LongAccuracy   *float64 `json:"long_accuracy"`
		LongAnswerNLL  *float64 `json:"long_answer_nll"`
		ShortPPL       *float64 `json:"short_ppl"`
		LongTop1       *float64 `json:"long_top1"`
		LongNeedleGain *float64 `json:"long_needle_gain"`
		LastPPL        *float64 `json:"last_ppl"`
		LongCopy       *float64 `json:"long_copy"`
		ReachTop1      *float64 `json:"reach_top1"`
	}{plain: (*plain)(m)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	for _, f := range []struct {
		dst *float64
		src *float64
	}{{&m.LongAccuracy, aux.LongAccuracy}, {&m.LongAnswerNLL, aux.LongAnswerNLL}, {&m.ShortPPL, aux.ShortPPL},
		{&m.LongTop1, aux.LongTop1}, {&m.LongNeedleGain, aux.LongNeedleGain}, {&m.LastPPL, aux.LastPPL},
		{&m.LongCopy, aux.LongCopy}, {&m.ReachTop1, aux.ReachTop1}} {
		*f.dst = math.NaN()
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return nil
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// order is the report order of the models: each run's stages together.
var order = func() []RunName {
	o := []RunName{Base, Start}
	for _, s := range runs {
		o = append(o, s.Name, s.Name.afterReplay(), s.Name.afterMerge())
	}
	return o
}()

func (r *Results) sorted() []*ModelResult {
	ms := slices.Clone(r.Models)
	slices.SortStableFunc(ms, func(a, b *ModelResult) int { return slices.Index(order, a.Name) - slices.Index(order, b.Name) })
	return ms
}

// longTop1 is the mean of a task's top-1 rate over the lengths above the
// base window ("" task: both tasks).
func (r *Results) longTop1(m *ModelResult, task string) float64 {
	if task == "" {
		return m.LongTop1
	}
	return r.overLong(func(l int) float64 { return m.top1At(task, l) })
}

// overLong is the mean of at(length) over the measured lengths above the
// base window; NaN when there is none.
func (r *Results) overLong(at func(length int) float64) float64 {
	var sum float64
	var n int
	for _, l := range r.Settings.Lengths {
		if v := at(l); l > r.Settings.Window && !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
