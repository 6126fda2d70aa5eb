package plan

import (
	"bufio"
	"encoding/json"
	"fmt"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// stepMetrics is the part of a metrics.jsonl line (the Go trainer's and the
// torch backend's schema) that throughput needs.
type stepMetrics struct {
	Step       int     `json:"step"`
	Tokens     float64 `json:"tokens"`
	TokensPerS float64 `json:"tokens_per_s"`
}

// ThroughputFromMetrics returns the tokens per second of the whole job that
// wrote the metrics.jsonl at path: the tokens of its steps over their summed
// durations (tokens / tokens_per_s each), leaving out the first step (start-up,
// compilation, allocator warm-up) when there are others. It returns the steps
// used.
func ThroughputFromMetrics(path string) (float64, int, error) {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return 0, 0, fmt.Errorf("metrics: %w", err)
	}
	defer f.Close()
	var steps []stepMetrics
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var m stepMetrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return 0, 0, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if !(m.Tokens > 0 && m.TokensPerS > 0) {
			return 0, 0, fmt.Errorf("%s:%d: step %d has tokens %g, tokens_per_s %g: want both > 0", path, n, m.Step, m.Tokens, m.TokensPerS)
		}
		steps = append(steps, m)
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if len(steps) == 0 {
		return 0, 0, fmt.Errorf("%s: no steps", path)
	}
	if len(steps) > 1 {
		steps = steps[1:]
	}
	var tokens, seconds float64
	for _, m := range steps {
		tokens += m.Tokens
		seconds += m.Tokens / m.TokensPerS
	}
	return tokens / seconds, len(steps), nil
}
