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
var SyntheticTasks = []string{Passkey, NIAHSingle, NIAHMultiKey, NIAHMultiValue, NIAHMultiQuery, VariableTrack, CommonWords, FrequentWords}

// UsesDepth reports whether a task places its needle at a chosen depth
// (the others spread their content over the whole context).
func UsesDepth(task string) bool {
	switch task {
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
}

// Generator makes prompts deterministically from a seed, sized in tokens
// of Tok. It is not safe for concurrent use.
type Generator struct {
	Tok Tokenizer
	// Haystack holds the needle tasks' filler; nil means NoiseHaystack.
	// Passkey and vt always use the noise filler (as PoSE and RULER do).
	Haystack *Haystack
	Seed     uint64

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
	hay := g.Haystack
	if hay == nil || task == Passkey || task == VariableTrack {
		hay = NoiseHaystack()
	}
	rng := g.rng(task, length, depth, index)
	if g.costs == nil || g.costs.tok != g.Tok {
		g.costs = &wordCost{tok: g.Tok, cache: map[string]int{}}
	}
	wc := g.costs
	var (
		build   func(n int) (string, error)
		answers []string
	)
	switch task {
	case Passkey:
		build, answers = passkey(rng, hay, wc, depth)
	case NIAHSingle:
		build, answers = niah(rng, hay, wc, depth, 1, 1, 1)
	case NIAHMultiKey:
		build, answers = niah(rng, hay, wc, depth, needlesMultiple, 1, 1)
	case NIAHMultiValue:
		build, answers = niah(rng, hay, wc, depth, 1, needlesMultiple, 1)
	case NIAHMultiQuery:
		build, answers = niah(rng, hay, wc, depth, needlesMultiple, 1, needlesMultiple)
	case VariableTrack:
		build, answers = variableTracking(rng, hay, wc)
	case CommonWords:
		build, answers = commonWords(rng, length)
	case FrequentWords:
		build, answers = frequentWords(rng)
	default:
		return nil, fmt.Errorf("eval: unknown task %q (known: %s)", task, strings.Join(SyntheticTasks, ", "))
	}
	what := fmt.Sprintf("eval: %s at %d tokens", task, length)
	f, err := fit(g.Tok, length, what, build)
	if err != nil {
		return nil, err
	}
	return &Prompt{Task: task, Length: length, Depth: depth, Index: index, Text: f.text, Tokens: f.ids, Answers: answers, MaxNew: defaultMaxNew[task]}, nil
}

// passkey is PoSE's passkey retrieval prompt with n filler words.
func passkey(rng *rand.Rand, hay *Haystack, wc *wordCost, depth float64) (func(int) (string, error), []string) {
	key := strconv.Itoa(rng.IntN(50000) + 1)
	info := "The pass key is " + key + ". Remember it. " + key + " is the pass key."
	start := hay.start(rng)
	return func(n int) (string, error) {
		words := hay.words(start, n)
		k := insertAt(words, wc.cum(words), depth)
		lines := []string{
			"There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.",
			strings.Join(words[:k], " "),
			info,
			strings.Join(words[k:], " "),
			"What is the pass key? The pass key is",
		}
		return strings.Join(lines, "\n"), nil
	}, []string{key}
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
// depth; the others at random depths.
func niah(rng *rand.Rand, hay *Haystack, wc *wordCost, depth float64, nKeys, nValues, nQueries int) (func(int) (string, error), []string) {
	ks := keys(rng, nKeys)
	vals := magicNumbers(rng, nKeys*nValues)
	var needles []needle
	for i, k := range ks {
		for j := 0; j < nValues; j++ {
			d := depth
			if len(needles) > 0 {
				d = rng.Float64()
			}
			needles = append(needles, needle{"One of the special magic numbers for " + k + " is: " + vals[i*nValues+j] + ".", d})
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
	return func(n int) (string, error) {
		words := hay.words(start, n)
		ctx := hide(words, wc.cum(words), needles)
		return "Some special magic numbers are hidden within the following text. Make sure to memorize it. I will quiz you about the numbers afterwards.\n" +
			ctx + "\n" +
			"What are all the special magic numbers for " + query + " mentioned in the provided text? The special magic numbers for " + query + " mentioned in the provided text are", nil
	}, answers
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
func vtPrompt(wc *wordCost, words, names []string, value string, depths []float64, answer bool) string {
	needles := make([]needle, len(names))
	for i, nm := range names {
		st := "VAR " + nm + " = " + value
		if i > 0 {
			st = "VAR " + nm + " = VAR " + names[i-1]
		}
		needles[i] = needle{st, depths[i]}
	}
	s := "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n" +
		hide(words, wc.cum(words), needles) + "\n" +
		"Question: Find all variables that are assigned the value " + value + " in the text above. Answer: According to the chain(s) of variable assignment in the text above, " +
		strconv.Itoa(len(names)) + " variables are assigned the value " + value + ", they are: "
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
func variableTracking(rng *rand.Rand, hay *Haystack, wc *wordCost) (func(int) (string, error), []string) {
	exNames := varNames(rng, 5, 3)
	exValue := strconv.Itoa(10000 + rng.IntN(90000))
	exDepths := sortedDepths(rng, 5)
	example := vtPrompt(wc, hay.words(0, 36), exNames, exValue, exDepths, true)
	names := varNames(rng, 5, 5)
	for slices.ContainsFunc(names, func(s string) bool { return slices.Contains(exNames, s) }) {
		names = varNames(rng, 5, 5)
	}
	value := strconv.Itoa(10000 + rng.IntN(90000))
	for value == exValue {
		value = strconv.Itoa(10000 + rng.IntN(90000))
	}
	depths := sortedDepths(rng, 5)
	return func(n int) (string, error) {
		return example + vtPrompt(wc, hay.words(0, n), names, value, depths, false), nil
	}, names
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
func commonWords(rng *rand.Rand, length int) (func(int) (string, error), []string) {
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
		return "Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones that appear most often.\n" +
			ctx + "\nQuestion: What are the 10 most common words in the above list? Answer: The top 10 words that appear most often in the list are:"
	}
	example := question(numbered(exList)) + " " + numbered(exCommon) + "\n"
	common := make([]string, numCommon)
	for i := range common {
		common[i] = word(i)
	}
	shuffleSeed := rng.Uint64()
	// n is the number of uncommon list entries: entry k is word
	// numCommon + k/freqUncommon (so the last word may appear fewer times).
	return func(n int) (string, error) {
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
		return example + question(numbered(list)), nil
	}, common
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
func frequentWords(rng *rand.Rand) (func(int) (string, error), []string) {
	question := func(ctx string) string {
		return "Read the following coded text and track the frequency of each coded word. Find the three most frequently appeared coded words. " +
			ctx + "\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are the three most frequently appeared words in the above coded text? Answer: According to the coded text above, the three most frequently appeared words are:"
	}
	exVocab := codedVocab(rng, 50)
	example := question(strings.Join(zipfWords(rng, exVocab, 60), " ")) + " " + strings.Join(exVocab[1:4], " ") + "\n\n"
	vocab := codedVocab(rng, 2000)
	for slices.ContainsFunc(vocab[1:4], func(s string) bool { return slices.Contains(exVocab, s) }) {
		vocab = codedVocab(rng, 2000)
	}
	shuffleSeed := rng.Uint64()
	return func(n int) (string, error) {
		r := rand.New(rand.NewPCG(shuffleSeed, uint64(n)))
		return example + question(strings.Join(zipfWords(r, vocab, n), " ")), nil
	}, vocab[1:4]
}
