package eval

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Names of the synthetic tasks.
const (
	Passkey         = "passkey"
	NIAHSingle      = "niah_single"
	NIAHMultiKey    = "niah_multikey"
	NIAHMultiValue  = "niah_multivalue"
	NIAHMultiQuery  = "niah_multiquery"
	VariableTrack   = "vt"
	CommonWords     = "cwe"
	FrequentWords   = "fwe"
	PerplexityTask  = "ppl"
	needlesMultiple = 4 // needles of the multi-key/value/query tasks (RULER's default)
)

// SyntheticTasks lists the generated tasks in report order.
var SyntheticTasks = []string{Passkey, NIAHSingle, NIAHMultiKey, NIAHMultiValue, NIAHMultiQuery, VariableTrack, CommonWords, FrequentWords,
	DecoyPasskey, DecoyMultiKey, DecoyMultiValue, DecoyMultiQuery, DecoyVT}

// UsesDepth reports whether a task places its needle at a chosen depth
// (the others spread their content over the whole context).
func UsesDepth(task string) bool {
	switch baseTask(task) {
	case Passkey, NIAHSingle, NIAHMultiKey, NIAHMultiValue, NIAHMultiQuery:
		return true
	}
	return false
}

// defaultMaxNew is how many tokens each task may generate (RULER's budgets;
// passkey answers are a short number).
var defaultMaxNew = map[string]int{
	Passkey: 20, NIAHSingle: 32, NIAHMultiKey: 32, NIAHMultiValue: 64, NIAHMultiQuery: 64,
	VariableTrack: 48, CommonWords: 120, FrequentWords: 50,
	DecoyPasskey: 20, DecoyMultiKey: 32, DecoyMultiValue: 48, DecoyMultiQuery: 48, DecoyVT: 32,
}

// Tokenizer is what the suite needs of a tokenizer (tokenizer.Tokenizer
// satisfies it).
type Tokenizer interface {
	Encode(text string, addSpecial bool) []int32
	Decode(ids []int32, skipSpecial bool) string
}

// Prompt is one generated test case.
type Prompt struct {
	Task   string
	Length int     // requested length in tokens
	Depth  float64 // needle depth in [0, 1]; NaN for tasks without one
	Index  int     // sample number
	Text   string
	Tokens []int32 // Text encoded with special tokens
	// Answers are the strings a correct output contains.
	Answers []string
	// MaxNew is the generation budget in tokens.
	MaxNew int
	// Gold is the answer ranked by log-likelihood against Distractors
	// (ScorePartial): the single answer, or a decoy task's answers as
	// one text ("" when nothing is ranked).
	Gold string
	// Distractors are answers of the same form as Gold. On the older
	// needle tasks none occurs in the prompt; on the decoy tasks the
	// first InContext do (decoy.go). nil for tasks with several answers
	// (other than the decoy tasks) or no needle.
	Distractors []string
	// InContext is how many of Distractors (the first ones) occur in the
	// prompt.
	InContext int
	// Ablated is the prompt without the needle that holds the answer
	// (other needles stay), encoded like Tokens; nil where Distractors is.
	Ablated []int32
}

// NumDistractors is how many distractor answers a prompt carries: with
// the answer, ten candidates, so guessing ranks the answer first 10 % of
// the time.
const NumDistractors = 9

// Generator makes prompts deterministically from a seed, sized in tokens
// of Tok. It is not safe for concurrent use.
type Generator struct {
	Tok Tokenizer
	// Haystack holds the needle tasks' filler; nil means NoiseHaystack.
	// Passkey and vt always use the noise filler (as PoSE and RULER do).
	Haystack *Haystack
	Seed     uint64
	// Wording is the prompts' fixed text; nil means HeldOutWording.
	Wording *Wording

	costs *wordCost // token counts of words, kept between calls
}

// rng returns the random source of one test case: a function of the seed
// and the case alone, so adding tasks or lengths changes no other prompt.
func (g *Generator) rng(task string, length int, depth float64, index int) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%d|%.6f|%d", task, length, depth, index)
	return rand.New(rand.NewPCG(g.Seed, h.Sum64()))
}

// Generate returns sample index of task at length tokens with the needle
// at depth (ignored, and recorded as NaN, by tasks without depth).
func (g *Generator) Generate(task string, length int, depth float64, index int) (*Prompt, error) {
	if g.Tok == nil {
		return nil, fmt.Errorf("eval: generator has no tokenizer")
	}
	if UsesDepth(task) {
		if !(depth >= 0 && depth <= 1) {
			return nil, fmt.Errorf("eval: %s: depth %v outside [0, 1]", task, depth)
		}
	} else {
		depth = math.NaN()
	}
	w := g.Wording
	if w == nil {
		w = HeldOutWording
	}
	hay := g.Haystack
	if b := baseTask(task); hay == nil || hay.Noisy() || b == Passkey || b == VariableTrack {
		hay = w.NoiseHaystack()
	}
	rng := g.rng(task, length, depth, index)
	if g.costs == nil || g.costs.tok != g.Tok {
		g.costs = &wordCost{tok: g.Tok, cache: map[string]int{}}
	}
	wc := g.costs
	var spec taskSpec
	switch task {
	case Passkey:
		spec = passkey(rng, hay, wc, w, depth)
	case NIAHSingle:
		spec = niah(rng, hay, wc, w, depth, 1, 1, 1)
	case NIAHMultiKey:
		spec = niah(rng, hay, wc, w, depth, needlesMultiple, 1, 1)
	case NIAHMultiValue:
		spec = niah(rng, hay, wc, w, depth, 1, needlesMultiple, 1)
	case NIAHMultiQuery:
		spec = niah(rng, hay, wc, w, depth, needlesMultiple, 1, needlesMultiple)
	case VariableTrack:
		spec = variableTracking(rng, hay, wc, w)
	case CommonWords:
		spec = commonWords(rng, w, length)
	case FrequentWords:
		spec = frequentWords(rng, w)
	case DecoyPasskey:
		spec = decoyPasskey(rng, hay, wc, w, depth)
	case DecoyMultiKey:
		spec = decoyNIAH(rng, hay, wc, w, depth, decoyKeys, 1, 1)
	case DecoyMultiValue:
		spec = decoyNIAH(rng, hay, wc, w, depth, decoyMVKeys, decoyMVValues, 1)
	case DecoyMultiQuery:
		spec = decoyNIAH(rng, hay, wc, w, depth, decoyKeys, 1, 2)
	case DecoyVT:
		spec = decoyVT(rng, hay, wc, w)
	default:
		return nil, fmt.Errorf("eval: unknown task %q (known: %s)", task, strings.Join(SyntheticTasks, ", "))
	}
	what := fmt.Sprintf("eval: %s at %d tokens", task, length)
	f, err := fit(g.Tok, length, what, func(n int) (string, error) { return spec.build(n, true), nil })
	if err != nil {
		return nil, err
	}
	p := &Prompt{Task: task, Length: length, Depth: depth, Index: index, Text: f.text, Tokens: f.ids, Answers: spec.answers, MaxNew: defaultMaxNew[task]}
	if spec.ablatable && (len(spec.answers) == 1 || spec.gold != "") {
		p.Ablated = g.Tok.Encode(spec.build(f.n, false), true)
		p.setCandidates(spec, g.rng("distractors|"+task, length, depth, index))
	}
	return p, nil
}

// setCandidates sets the ranked answer and its distractors (drawn from
// rng) of a prompt built from spec.
func (p *Prompt) setCandidates(spec taskSpec, rng *rand.Rand) {
	p.Gold = spec.answers[0]
	if spec.fresh == nil {
		p.Distractors = distractors(rng, p.Gold, p.Text, NumDistractors)
		return
	}
	if spec.gold != "" {
		p.Gold = spec.gold
	}
	p.InContext = len(spec.decoys)
	p.Distractors = append(slices.Clone(spec.decoys), outOfContext(rng, spec.fresh, p.Gold, p.Text, spec.decoys, NumDistractors-len(spec.decoys))...)
}

// taskSpec is a task's prompt: build(n, true) is the text with n filler
// units, build(n, false) the same text without the needles that hold the
// answers (ablatable tasks only).
type taskSpec struct {
	build     func(n int, needles bool) string
	answers   []string
	ablatable bool
	// values are the needles' values (niah), in needle order.
	values []string
	// Decoy tasks: gold is the ranked answer ("": answers[0]), decoys
	// the in-context distractors and fresh a maker of answers of the
	// same form (the out-of-context distractors). Without fresh, the
	// distractors are numbers absent from the prompt.
	gold   string
	decoys []string
	fresh  func(*rand.Rand) string
}

// distractors returns k distinct numbers with as many digits as answer
// (a number), none equal to it or found in the prompt text.
func distractors(rng *rand.Rand, answer, text string, k int) []string {
	lo := 1
	for i := 1; i < len(answer); i++ {
		lo *= 10
	}
	span := 9 * lo
	seen := map[string]bool{answer: true}
	var out []string
	for tries := 0; len(out) < k && tries < 1000*k; tries++ {
		v := strconv.Itoa(lo + rng.IntN(span))
		if !seen[v] && !contains(text, v) {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// passkey is PoSE's passkey retrieval task (a five-digit key) with n
// filler words.
func passkey(rng *rand.Rand, hay *Haystack, wc *wordCost, w *Wording, depth float64) taskSpec {
	key := strconv.Itoa(10000 + rng.IntN(90000))
	info := fill(w.PasskeyNeedle, "key", key)
	start := hay.start(rng)
	build := func(n int, needle bool) string {
		words := hay.words(start, n)
		k := insertAt(words, wc.cum(words), depth)
		lines := []string{w.PasskeyIntro, strings.Join(words[:k], " ")}
		if needle {
			lines = append(lines, info)
		}
		lines = append(lines, strings.Join(words[k:], " "), w.PasskeyQuestion)
		return strings.Join(lines, "\n")
	}
	return taskSpec{build: build, answers: []string{key}, ablatable: true}
}

// needle is a sentence hidden in the haystack at a depth.
type needle struct {
	text  string
	depth float64
}

// hide inserts needles into words at their depths (ties keep needle
// order) and joins everything with spaces.
func hide(words []string, cum []int, needles []needle) string {
	type ins struct {
		at, order int
		text      string
	}
	var all []ins
	for i, nd := range needles {
		all = append(all, ins{insertAt(words, cum, nd.depth), i, nd.text})
	}
	slices.SortStableFunc(all, func(a, b ins) int { return a.at - b.at })
	var sb strings.Builder
	j := 0
	for i := 0; i <= len(words); i++ {
		for j < len(all) && all[j].at == i {
			if sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(all[j].text)
			j++
		}
		if i < len(words) {
			if sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[i])
		}
	}
	return sb.String()
}

// keys returns n distinct "adjective-noun" keys.
func keys(rng *rand.Rand, n int) []string {
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		k := adjectives[rng.IntN(len(adjectives))] + "-" + nouns[rng.IntN(len(nouns))]
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// magicNumbers returns n distinct 7-digit numbers.
func magicNumbers(rng *rand.Rand, n int) []string {
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		v := strconv.Itoa(1000000 + rng.IntN(9000000))
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// niah is RULER's needle-in-a-haystack prompt with nKeys keys of nValues
// values each, asking for nQueries of the keys. The first needle sits at
// depth; the others at random depths. Ablated, it loses the needles of
// the keys asked for.
func niah(rng *rand.Rand, hay *Haystack, wc *wordCost, w *Wording, depth float64, nKeys, nValues, nQueries int) taskSpec {
	ks := keys(rng, nKeys)
	vals := magicNumbers(rng, nKeys*nValues)
	var needles []needle
	for i, k := range ks {
		for j := 0; j < nValues; j++ {
			d := depth
			if len(needles) > 0 {
				d = rng.Float64()
			}
			needles = append(needles, needle{fill(w.NIAHNeedle, "key", k, "value", vals[i*nValues+j]), d})
		}
	}
	// RULER asks for the first key (multikey: the others are distractors)
	// or for the first nQueries keys.
	queried := ks[:nQueries]
	answers := vals[:nQueries*nValues]
	query := queried[0]
	if nQueries > 1 {
		query = strings.Join(queried[:nQueries-1], ", ") + ", and " + queried[nQueries-1]
	}
	start := hay.start(rng)
	build := func(n int, all bool) string {
		words := hay.words(start, n)
		hidden := needles
		if !all {
			hidden = needles[len(answers):]
		}
		ctx := hide(words, wc.cum(words), hidden)
		return w.NIAHIntro + "\n" + ctx + "\n" + fill(w.NIAHQuestion, "query", query)
	}
	return taskSpec{build: build, answers: answers, ablatable: true, values: vals}
}

// varNames returns n distinct names of k uppercase letters.
func varNames(rng *rand.Rand, n, k int) []string {
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte('A' + rng.IntN(26))
		}
		if s := string(b); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// vtPrompt is RULER's variable tracking prompt for one chain of names
// (the first assigned value, each next one the previous variable), spread
// at the given depths through the filler words.
func vtPrompt(wc *wordCost, w *Wording, words, names []string, value string, depths []float64, answer bool) string {
	needles := make([]needle, len(names))
	for i, nm := range names {
		st := fill(w.VTAssign, "name", nm, "value", value)
		if i > 0 {
			st = fill(w.VTChain, "name", nm, "prev", names[i-1])
		}
		needles[i] = needle{st, depths[i]}
	}
	s := w.VTIntro + "\n\n" + hide(words, wc.cum(words), needles) + "\n" +
		fill(w.VTQuestion, "value", value, "count", strconv.Itoa(len(names)))
	if answer {
		s += strings.Join(names, " ") + "\n\n"
	}
	return s
}

// sortedDepths returns n sorted uniform depths.
func sortedDepths(rng *rand.Rand, n int) []float64 {
	d := make([]float64, n)
	for i := range d {
		d[i] = rng.Float64()
	}
	slices.Sort(d)
	return d
}

// variableTracking is RULER's vt task (one chain, four hops) with a short
// solved example first, as RULER prompts it.
func variableTracking(rng *rand.Rand, hay *Haystack, wc *wordCost, w *Wording) taskSpec {
	exNames := varNames(rng, 5, 3)
	exValue := strconv.Itoa(10000 + rng.IntN(90000))
	exDepths := sortedDepths(rng, 5)
	example := vtPrompt(wc, w, hay.words(0, 36), exNames, exValue, exDepths, true)
	names := varNames(rng, 5, 5)
	for slices.ContainsFunc(names, func(s string) bool { return slices.Contains(exNames, s) }) {
		names = varNames(rng, 5, 5)
	}
	value := strconv.Itoa(10000 + rng.IntN(90000))
	for value == exValue {
		value = strconv.Itoa(10000 + rng.IntN(90000))
	}
	depths := sortedDepths(rng, 5)
	return taskSpec{build: func(n int, _ bool) string {
		return example + vtPrompt(wc, w, hay.words(0, n), names, value, depths, false)
	}, answers: names}
}

// wordPool returns the distinct list words in a random order followed by
// made-up words (three consonant-vowel syllables) for long contexts.
func wordPool(rng *rand.Rand) (pool []string, extra func(i int) string) {
	seen := map[string]bool{}
	for _, list := range [][]string{nouns, adjectives, verbs} {
		for _, w := range list {
			if !seen[w] {
				seen[w] = true
				pool = append(pool, w)
			}
		}
	}
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	const cons, vows = "bdfgklmnprstvz", "aeiou"
	syl := func(k int) string { return string(cons[k/len(vows)]) + string(vows[k%len(vows)]) }
	ns := len(cons) * len(vows)
	// Made-up word i, skipping real words: a mixed-radix number in
	// syllables, permuted so that consecutive words differ early.
	var made []string
	extra = func(i int) string {
		for len(made) <= i {
			k := len(made)*7919 + 13 // 7919 is prime: a bijection mod ns³
			w := ""
			for x, s := k%(ns*ns*ns), 0; s < 3; s++ {
				w += syl(x % ns)
				x /= ns
			}
			if !seen[w] {
				seen[w] = true
				made = append(made, w)
			} else {
				made = append(made, w+"o")
			}
		}
		return made[i]
	}
	return pool, extra
}

// numbered formats words as RULER's numbered list "1. w 2. w ...".
func numbered(words []string) string {
	var sb strings.Builder
	for i, w := range words {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.Itoa(i + 1))
		sb.WriteString(". ")
		sb.WriteString(w)
	}
	return sb.String()
}

// commonWords is RULER's common words extraction: ten words repeated
// often among words repeated rarely, as a shuffled numbered list, after a
// solved example. RULER's frequencies: from 4k tokens up, common words 30
// times and the others 3 times (example: 40 words, 10 and 3 times);
// below 4k, 6 and 1 times (example: 20 words, 3 and 1 times).
func commonWords(rng *rand.Rand, w *Wording, length int) taskSpec {
	const numCommon = 10
	freqCommon, freqUncommon, exWords, exCommonRep, exUncommonRep := 30, 3, 40, 10, 3
	if length < 4096 {
		freqCommon, freqUncommon, exWords, exCommonRep, exUncommonRep = 6, 1, 20, 3, 1
	}
	pool, extra := wordPool(rng)
	word := func(i int) string {
		if i < len(pool) {
			return pool[i]
		}
		return extra(i - len(pool))
	}
	// The example uses the last words of the pool; the question's words
	// skip them.
	exStart := len(pool) - exWords
	var exCommon, exList []string
	for i := 0; i < numCommon; i++ {
		exCommon = append(exCommon, word(exStart+i))
	}
	for r := 0; r < exCommonRep; r++ {
		exList = append(exList, exCommon...)
	}
	for i := numCommon; i < exWords; i++ {
		for r := 0; r < exUncommonRep; r++ {
			exList = append(exList, word(exStart+i))
		}
	}
	rng.Shuffle(len(exList), func(i, j int) { exList[i], exList[j] = exList[j], exList[i] })
	question := func(ctx string) string {
		return w.CWEIntro + "\n" + ctx + "\n" + w.CWEQuestion
	}
	example := question(numbered(exList)) + " " + numbered(exCommon) + "\n"
	common := make([]string, numCommon)
	for i := range common {
		common[i] = word(i)
	}
	shuffleSeed := rng.Uint64()
	// n is the number of uncommon list entries: entry k is word
	// numCommon + k/freqUncommon (so the last word may appear fewer times).
	return taskSpec{build: func(n int, _ bool) string {
		list := make([]string, 0, numCommon*freqCommon+n)
		for r := 0; r < freqCommon; r++ {
			list = append(list, common...)
		}
		for k := 0; k < n; k++ {
			idx := numCommon + k/freqUncommon
			if idx >= exStart { // skip the example's words
				idx += exWords
			}
			list = append(list, word(idx))
		}
		r := rand.New(rand.NewPCG(shuffleSeed, uint64(n)))
		r.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
		return example + question(numbered(list))
	}, answers: common}
}

// zeta2 is ζ(2) = π²/6, the normaliser of Zipf's law with exponent 2.
const zeta2 = math.Pi * math.Pi / 6

// zipfWords returns RULER's frequent-words text of about n words: word of
// rank k (from 1) repeated ⌊n·k⁻²/ζ(2)⌋ times, shuffled.
func zipfWords(rng *rand.Rand, vocab []string, n int) []string {
	var out []string
	for k := 1; k <= len(vocab); k++ {
		c := int(float64(n) / float64(k*k) / zeta2)
		if c == 0 {
			break
		}
		for i := 0; i < c; i++ {
			out = append(out, vocab[k-1])
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// codedVocab returns n distinct random lowercase words of six letters,
// the first being the dots "....", as RULER's fwe vocabulary.
func codedVocab(rng *rand.Rand, n int) []string {
	seen := map[string]bool{"....": true}
	out := []string{"...."}
	for len(out) < n {
		b := make([]byte, 6)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		if s := string(b); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// frequentWords is RULER's frequent words extraction: coded words with
// Zipf frequencies (exponent 2); the answer is the three most frequent
// after the dots. A small solved example comes first.
func frequentWords(rng *rand.Rand, w *Wording) taskSpec {
	question := func(ctx string) string {
		return w.FWEIntro + " " + ctx + "\n" + w.FWEQuestion
	}
	exVocab := codedVocab(rng, 50)
	example := question(strings.Join(zipfWords(rng, exVocab, 60), " ")) + " " + strings.Join(exVocab[1:4], " ") + "\n\n"
	vocab := codedVocab(rng, 2000)
	for slices.ContainsFunc(vocab[1:4], func(s string) bool { return slices.Contains(exVocab, s) }) {
		vocab = codedVocab(rng, 2000)
	}
	shuffleSeed := rng.Uint64()
	return taskSpec{build: func(n int, _ bool) string {
		r := rand.New(rand.NewPCG(shuffleSeed, uint64(n)))
		return example + question(strings.Join(zipfWords(r, vocab, n), " "))
	}, answers: vocab[1:4]}
}
