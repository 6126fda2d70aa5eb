package eval

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// The decoy tasks are retrieval tasks whose ranking candidates include
// answers that occur in the prompt: the values of other keys, decoy pass
// keys, other chains. On the older tasks every distractor is absent from
// the prompt and the gold answer present, so a rule that copies any
// candidate found in the context ranks the gold answer first (their copy
// baseline, CopyTop1, is near 100 %); on these it is 1/(1 + the in-context
// distractors), 20–25 %. Each prompt has NumDistractors distractors: the
// in-context ones first (Prompt.InContext of them), then answers of the
// same form found nowhere in the prompt.
const (
	DecoyPasskey    = "decoy_passkey"    // the pass key among decoy keys of the same form
	DecoyMultiKey   = "decoy_multikey"   // one key asked of several; the other keys' values rank
	DecoyMultiValue = "decoy_multivalue" // both values of one key; other pairs of values rank
	DecoyMultiQuery = "decoy_multiquery" // two keys asked of several; other pairs of values rank
	DecoyVT         = "decoy_vt"         // one chain of variables among distractor chains
)

// DecoyTasks lists the decoy tasks in report order.
var DecoyTasks = []string{DecoyPasskey, DecoyMultiKey, DecoyMultiValue, DecoyMultiQuery, DecoyVT}

// Shapes of the decoy tasks: small enough to fit a prompt of 256 tokens
// of the shipped tokenizer (the tiny base's window), with at least three
// in-context distractors each (copy baseline ≤ 25 %).
const (
	decoyKeys     = 4 // decoy_passkey: decoy keys; decoy_multikey and decoy_multiquery: needles
	decoyMVKeys   = 2 // decoy_multivalue: keys, with decoyMVValues values each
	decoyMVValues = 2
	decoyPairs    = 4 // decoy_multivalue and decoy_multiquery: in-context pairs ranked
	decoyChains   = 3 // decoy_vt: chains of decoyHops+1 variables
	decoyHops     = 2
	decoyMixed    = 2 // decoy_vt: gold chains with one name from another chain
)

// baseTask is the task whose prompt shape, scoring budget and answers a
// decoy task shares (the task itself for the others).
func baseTask(task string) string {
	switch task {
	case DecoyPasskey:
		return Passkey
	case DecoyMultiKey, DecoyMultiValue, DecoyMultiQuery:
		return NIAHMultiKey
	case DecoyVT:
		return VariableTrack
	}
	return task
}

// decoyPasskey is passkey with decoyKeys decoy keys (five digits, each
// in a PasskeyDecoy sentence) at random depths; the gold needle sits at
// depth. Ablated, it loses the gold needle only.
func decoyPasskey(rng *rand.Rand, hay *Haystack, wc *wordCost, w *Wording, depth float64) taskSpec {
	ks := distinctNumbers(rng, 1+decoyKeys, 10000, 90000)
	needles := []needle{{fill(w.PasskeyNeedle, "key", ks[0]), depth}}
	for _, k := range ks[1:] {
		needles = append(needles, needle{fill(w.PasskeyDecoy, "key", k), rng.Float64()})
	}
	start := hay.start(rng)
	build := func(n int, all bool) string {
		words := hay.words(start, n)
		hidden := needles
		if !all {
			hidden = needles[1:]
		}
		return w.PasskeyIntro + "\n" + hide(words, wc.cum(words), hidden) + "\n" + w.PasskeyQuestion
	}
	return taskSpec{build: build, answers: ks[:1], ablatable: true, decoys: ks[1:], fresh: freshNumber(5)}
}

// decoyNIAH is a needle prompt of nKeys keys with nValues values each
// that asks for the first nQueries keys; the first needle sits at depth,
// the others at random depths. With one value asked, the other keys'
// values are the in-context distractors; with two, decoyPairs pairs of
// the prompt's values that are not the gold pair (in either order).
func decoyNIAH(rng *rand.Rand, hay *Haystack, wc *wordCost, w *Wording, depth float64, nKeys, nValues, nQueries int) taskSpec {
	spec := niah(rng, hay, wc, w, depth, nKeys, nValues, nQueries)
	gold, all := spec.answers, spec.values
	var others []string
	for _, v := range all {
		if !slices.Contains(gold, v) {
			others = append(others, v)
		}
	}
	if len(gold) == 1 {
		spec.decoys, spec.fresh = others, freshNumber(7)
		return spec
	}
	spec.gold = strings.Join(gold, ", ")
	spec.decoys = decoyPairsOf(rng, gold, all, decoyPairs)
	spec.fresh = func(rng *rand.Rand) string {
		pair := slices.Clone(gold)
		pair[rng.IntN(len(pair))] = freshNumber(7)(rng)
		return strings.Join(pair, ", ")
	}
	return spec
}

// decoyPairsOf returns k distinct ordered pairs of values from all, none
// made of the gold values (in any order), joined by ", ".
func decoyPairsOf(rng *rand.Rand, gold, all []string, k int) []string {
	var cands []string
	for _, a := range all {
		for _, b := range all {
			if a == b || (slices.Contains(gold, a) && slices.Contains(gold, b)) {
				continue
			}
			cands = append(cands, a+", "+b)
		}
	}
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	return cands[:min(k, len(cands))]
}

// decoyVT is variable tracking with decoyChains chains of decoyHops hops,
// each from its own value, their statements spread through the filler in
// chain order; the question asks for the first chain. The in-context
// distractors are the other chains and decoyMixed copies of the gold
// chain with one name taken from another chain. There is no solved
// example (it would not fit short prompts). Ablated, the prompt loses
// the gold chain.
func decoyVT(rng *rand.Rand, hay *Haystack, wc *wordCost, w *Wording) taskSpec {
	n := decoyHops + 1
	names := varNames(rng, decoyChains*n, 5)
	values := distinctNumbers(rng, decoyChains, 10000, 90000)
	chains := make([][]string, decoyChains)
	var needles []needle
	for c := range chains {
		chains[c] = names[c*n : (c+1)*n]
		for i, d := range sortedDepths(rng, n) {
			st := fill(w.VTAssign, "name", chains[c][i], "value", values[c])
			if i > 0 {
				st = fill(w.VTChain, "name", chains[c][i], "prev", chains[c][i-1])
			}
			needles = append(needles, needle{st, d})
		}
	}
	build := func(k int, all bool) string {
		words := hay.words(0, k)
		hidden := needles
		if !all {
			hidden = needles[n:]
		}
		return w.VTIntro + "\n\n" + hide(words, wc.cum(words), hidden) + "\n" +
			fill(w.VTQuestion, "value", values[0], "count", strconv.Itoa(n))
	}
	var decoys []string
	for _, c := range chains[1:] {
		decoys = append(decoys, strings.Join(c, " "))
	}
	for len(decoys) < decoyChains-1+decoyMixed {
		mixed := slices.Clone(chains[0])
		mixed[rng.IntN(n)] = names[n+rng.IntN(len(names)-n)]
		if s := strings.Join(mixed, " "); !slices.Contains(decoys, s) {
			decoys = append(decoys, s)
		}
	}
	fresh := func(rng *rand.Rand) string {
		mixed := slices.Clone(chains[0])
		mixed[rng.IntN(n)] = varNames(rng, 1, 5)[0]
		return strings.Join(mixed, " ")
	}
	return taskSpec{build: build, answers: chains[0], ablatable: true, gold: strings.Join(chains[0], " "), decoys: decoys, fresh: fresh}
}

// distinctNumbers returns n distinct numbers lo + [0, span).
func distinctNumbers(rng *rand.Rand, n, lo, span int) []string {
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		v := strconv.Itoa(lo + rng.IntN(span))
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// freshNumber returns a maker of random numbers of digits digits.
func freshNumber(digits int) func(*rand.Rand) string {
	lo := 1
	for i := 1; i < digits; i++ {
		lo *= 10
	}
	return func(rng *rand.Rand) string { return strconv.Itoa(lo + rng.IntN(9*lo)) }
}

// outOfContext returns k distinct answers from fresh, none equal to gold
// or to one of taken, and each with a word the prompt text lacks (so the
// copy rule does not pick it).
func outOfContext(rng *rand.Rand, fresh func(*rand.Rand) string, gold, text string, taken []string, k int) []string {
	seen := map[string]bool{gold: true}
	for _, t := range taken {
		seen[t] = true
	}
	var out []string
	for tries := 0; len(out) < k && tries < 1000*k; tries++ {
		v := fresh(rng)
		if !seen[v] && !allWordsIn(text, v) {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
