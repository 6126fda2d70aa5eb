package recipe

import (
	"fmt"
	"slices"

	"github.com/longrecipe/longrecipe/stage"
)

// StageFile is the manifest each finished stage writes into its folder
// (stage.json): its input hash, settings and outputs. Package stage
// defines what done, partial and changed mean.
type StageFile = stage.Record

// StageFileName is the manifest name inside each stage folder.
const StageFileName = stage.FileName

// Stages lists the stage names in order.
var Stages = []string{"prepare", "extend", "replay", "anneal", "merge", "eval"}

func stageIndex(name string) int { return slices.Index(Stages, name) }

// checkFromStage validates Options.FromStage.
func checkFromStage(from string) error {
	if from != "" && stageIndex(from) < 0 {
		return fmt.Errorf("--from-stage %q: want one of %v", from, Stages)
	}
	return nil
}

// forced reports whether --from-stage from forces stage name to rerun.
func forced(name, from string) bool {
	return from != "" && stageIndex(name) >= stageIndex(from)
}
