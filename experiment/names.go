package experiment

// RunName is the key of a model in the experiment: a stage-1 run, the base
// model, or the later stages of the stage ablation. It names the run's
// folders (runs/NAME, eval/NAME) and its entry in results.json.
type RunName string

// The models of the experiment.
const (
	Base         RunName = "base"
	FLT          RunName = "flt"
	PoSE         RunName = "pose"
	RandPos      RunName = "randpos"
	LongRecipe30 RunName = "longrecipe-30"
	LongRecipe10 RunName = "longrecipe-10"
	LongRecipe20 RunName = "longrecipe-20"
	LongRecipe40 RunName = "longrecipe-40"
	// LongRecipe30Replay and LongRecipe30Merge are LongRecipe30 after stage 2
	// (replay annealing) and stage 3 (merge with the original weights).
	LongRecipe30Replay RunName = LongRecipe30 + "+replay"
	LongRecipe30Merge  RunName = LongRecipe30 + "+merge"
)

// afterReplay and afterMerge name the stage-2 and stage-3 models of a run.
func (n RunName) afterReplay() RunName { return n + "+replay" }
func (n RunName) afterMerge() RunName  { return n + "+merge" }
