package experiment

// RunName is the key of a model in the experiment: a stage-1 run, the base
// model, or the later stages of the stage ablation. It names the run's
// folders (runs/NAME, eval/NAME) and its entry in results.json.
type RunName string

// The models of the experiment.
const (
	Base RunName = "base"
	// Start is the start model: the base with θ raised and the window set
	// to Lt, untrained (the control that credits training for a gain).
	Start RunName = "start"
	// FLT trains full-length rows on the token budget (equal tokens);
	// FLTSequences on as many rows as LongRecipe30 (equal sequences, the
	// paper's main comparison).
	FLT          RunName = "flt"
	FLTSequences RunName = "flt-sequences"
	PoSE         RunName = "pose"
	RandPos      RunName = "randpos"
	LongRecipe30 RunName = "longrecipe-30"
	LongRecipe10 RunName = "longrecipe-10"
	LongRecipe20 RunName = "longrecipe-20"
	LongRecipe40 RunName = "longrecipe-40"
	// Controls of LongRecipe 30 %: its positions without sentence
	// selection, with random sentence drops at the kept fraction of its
	// digit selection, and with the impactful set of an analysis of the
	// base and the FLT model instead of digits.
	LongRecipe30NoSelect RunName = "longrecipe-30-nosel"
	LongRecipe30Random   RunName = "longrecipe-30-random"
	LongRecipe30Analysis RunName = "longrecipe-30-analysis"
	// LongRecipe30Replay and LongRecipe30Merge are LongRecipe30 after stage 2
	// (replay annealing) and stage 3 (merge with the original weights).
	LongRecipe30Replay RunName = LongRecipe30 + "+replay"
	LongRecipe30Merge  RunName = LongRecipe30 + "+merge"
)

// afterReplay and afterMerge name the stage-2 and stage-3 models of a run.
func (n RunName) afterReplay() RunName { return n + "+replay" }
func (n RunName) afterMerge() RunName  { return n + "+merge" }
