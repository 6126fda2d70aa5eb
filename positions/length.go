package positions

import "math"

// DefaultRatio is Ls/Lt in the paper's main setting (LongRecipe trains on
// 30 % of the target window).
const DefaultRatio = 0.3

// TrainLength is the one rule for the training length Ls given as a ratio
// of the target length Lt: round(ratio·lt), halves away from zero, and at
// least 1. Callers validate ratio ∈ (0, 1] and lt ≥ 1 first.
func TrainLength(ratio float64, lt int) int {
	return max(1, int(math.Round(ratio*float64(lt))))
}
