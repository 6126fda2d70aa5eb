package eval

import (
	"fmt"
	"math"
)

// Tolerance is the largest relative difference between a generated
// prompt's token count and the requested length.
const Tolerance = 0.01

// MinSlack is the smallest allowed difference, in tokens: below 800
// tokens 1 % is less than a filler word or a sentence boundary can move.
const MinSlack = 8

// Slack returns the allowed difference between a prompt's token count and
// the requested length: Tolerance of it, but at least MinSlack tokens.
func Slack(length int) int {
	return max(int(math.Floor(Tolerance*float64(length))), MinSlack)
}

// fitted is a prompt sized to a token budget.
type fitted struct {
	text string
	ids  []int32
	n    int // filler units used
}

// fit finds the number of filler units n for which build(n), tokenized
// with special tokens, is closest to target tokens, and fails when that is
// more than Tolerance away. build must grow with n.
func fit(tok Tokenizer, target int, what string, build func(n int) (string, error)) (*fitted, error) {
	if target <= 0 {
		return nil, fmt.Errorf("%s: length %d must be positive", what, target)
	}
	cache := map[int]*fitted{}
	measure := func(n int) (*fitted, error) {
		if f, ok := cache[n]; ok {
			return f, nil
		}
		text, err := build(n)
		if err != nil {
			return nil, err
		}
		f := &fitted{text: text, ids: tok.Encode(text, true), n: n}
		cache[n] = f
		return f, nil
	}
	tol := Slack(target)
	off := func(f *fitted) int { return absInt(len(f.ids) - target) }
	base, err := measure(0)
	if err != nil {
		return nil, err
	}
	f0 := len(base.ids)
	if f0 > target+tol {
		return nil, fmt.Errorf("%s: the prompt without filler is already %d tokens, more than the requested %d", what, f0, target)
	}
	best := base
	// Secant steps on tokens per filler unit, then a local walk.
	n := max(1, target-f0)
	for iter := 0; iter < 8; iter++ {
		f, err := measure(n)
		if err != nil {
			return nil, err
		}
		if off(f) < off(best) {
			best = f
		}
		if off(best) == 0 {
			return best, nil
		}
		perUnit := float64(len(f.ids)-f0) / float64(n)
		if perUnit <= 0 {
			return nil, fmt.Errorf("%s: prompt does not grow with filler (%d tokens at %d units)", what, len(f.ids), n)
		}
		next := int(math.Round(float64(n) + float64(target-len(f.ids))/perUnit))
		next = max(next, 1)
		if next == n {
			break
		}
		n = next
	}
	// Walk one unit at a time from the best point towards the target
	// until the count crosses it.
	dir := 1
	if len(best.ids) > target {
		dir = -1
	}
	for cur, step := best.n, 0; step < 64 && off(best) > 0; step++ {
		cur += dir
		if cur < 0 {
			break
		}
		f, err := measure(cur)
		if err != nil {
			return nil, err
		}
		if off(f) < off(best) {
			best = f
		}
		if (len(f.ids)-target)*dir >= 0 {
			break
		}
	}
	if off(best) > tol {
		return nil, fmt.Errorf("%s: cannot size the prompt to %d±%d tokens: closest is %d tokens", what, target, tol, len(best.ids))
	}
	return best, nil
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
