package eval

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// byteTok is a fake tokenizer: one token per byte, BOS = 256.
type byteTok struct{}

func (byteTok) Encode(text string, addSpecial bool) []int32 {
	var ids []int32
	if addSpecial {
		ids = append(ids, 256)
	}
	for i := 0; i < len(text); i++ {
		ids = append(ids, int32(text[i]))
	}
	return ids
}

func (byteTok) Decode(ids []int32, skipSpecial bool) string {
	var b []byte
	for _, id := range ids {
		if id < 256 {
			b = append(b, byte(id))
		}
	}
	return string(b)
}

var (
	realTokOnce sync.Once
	realTok     *tokenizer.Tokenizer
	realTokErr  error
)

// sotuTok is the project's shipped BPE tokenizer (4096 tokens).
func sotuTok(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	realTokOnce.Do(func() { realTok, realTokErr = tokenizer.Parse(assets.TokenizerJSON(), "assets/tokenizer.json") })
	if realTokErr != nil {
		t.Fatal(realTokErr)
	}
	return realTok
}

// sotuHaystack is the held-out split of the shipped corpus.
func sotuHaystack(t testing.TB) (*Haystack, []string) {
	t.Helper()
	docs, err := assets.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	_, held, err := assets.Split(docs, assets.DefaultHeldOutPercent)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, d := range held {
		texts = append(texts, d.Text)
	}
	h, err := TextHaystack("sotu held-out", texts)
	if err != nil {
		t.Fatal(err)
	}
	return h, texts
}

// The solvers below recover a task's answers from the prompt text alone,
// independently of the generator: they are the reference the generated
// answers are checked against.

var reNumbered = regexp.MustCompile(`\d+\. (\S+)`)

// tmplRe turns a template into a regular expression: its fixed text
// quoted, each slot replaced by the pattern slots gives it.
func tmplRe(tmpl string, slots map[string]string) *regexp.Regexp {
	var b strings.Builder
	last := 0
	for _, m := range slot.FindAllStringIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]))
		b.WriteString(slots[tmpl[m[0]+1:m[1]-1]])
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(tmpl[last:]))
	return regexp.MustCompile(b.String())
}

// lastSection returns the text after the last occurrence of marker (the
// question after the solved examples).
func lastSection(text, marker string) string {
	if i := strings.LastIndex(text, marker); i >= 0 {
		return text[i:]
	}
	return text
}

// solve returns the answers of a prompt of task in the default wording.
func solve(task, text string) []string { return solveIn(HeldOutWording, task, text) }

// solveIn returns the answers of a prompt of task in wording w, found by
// reading it.
func solveIn(w *Wording, task, text string) []string {
	switch baseTask(task) {
	case Passkey:
		m := tmplRe(w.PasskeyNeedle, map[string]string{"key": `(\d+)`}).FindStringSubmatch(text)
		if m == nil || m[1] != m[2] {
			return nil
		}
		return []string{m[1]}
	case NIAHSingle, NIAHMultiKey, NIAHMultiValue, NIAHMultiQuery:
		q := tmplRe(w.NIAHQuestion, map[string]string{"query": `(.+?)`}).FindStringSubmatch(text)
		if q == nil {
			return nil
		}
		var out []string
		for _, k := range strings.Split(strings.ReplaceAll(q[1], ", and ", ", "), ", ") {
			re := tmplRe(w.NIAHNeedle, map[string]string{"key": regexp.QuoteMeta(k), "value": `(\d+)`})
			for _, m := range re.FindAllStringSubmatch(text, -1) {
				out = append(out, m[1])
			}
		}
		return out
	case VariableTrack:
		return solveVT(w, lastSection(text, w.VTIntro))
	case CommonWords:
		sec := lastSection(text, w.CWEIntro)
		sec = sec[:strings.Index(sec, "\nQuestion:")]
		return topWords(reNumbered.FindAllStringSubmatch(sec, -1), 10, "")
	case FrequentWords:
		sec := lastSection(text, w.FWEIntro)
		sec = sec[len(w.FWEIntro):]
		sec = sec[:strings.Index(sec, "\nQuestion:")]
		var ms [][]string
		for _, w := range strings.Fields(sec) {
			ms = append(ms, []string{"", w})
		}
		return topWords(ms, 3, "....")
	}
	return nil
}

// solveVT follows the assignments of the last vt question from its value.
func solveVT(w *Wording, sec string) []string {
	v := tmplRe(w.VTQuestion, map[string]string{"value": `(\d+)`, "count": `\d+`}).FindStringSubmatch(sec)
	if v == nil {
		return nil
	}
	assign := tmplRe(w.VTAssign, map[string]string{"name": `([A-Z]+)`, "value": `(\d+)`}).FindAllStringSubmatch(sec, -1)
	chain := tmplRe(w.VTChain, map[string]string{"name": `([A-Z]+)`, "prev": `([A-Z]+)`}).FindAllStringSubmatch(sec, -1)
	holders := map[string]bool{}
	var out []string
	for _, m := range assign {
		if m[2] == v[1] && !holders[m[1]] {
			holders[m[1]] = true
			out = append(out, m[1])
		}
	}
	for changed := true; changed; {
		changed = false
		for _, m := range chain {
			if !holders[m[1]] && holders[m[2]] {
				holders[m[1]] = true
				out = append(out, m[1])
				changed = true
			}
		}
	}
	return out
}

// topWords returns the n most frequent m[1] (ties: alphabetical), or nil
// when the n-th and (n+1)-th are tied.
func topWords(ms [][]string, n int, skip string) []string {
	cnt := map[string]int{}
	for _, m := range ms {
		if m[1] != skip {
			cnt[m[1]]++
		}
	}
	var ws []string
	for w := range cnt {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool {
		if cnt[ws[i]] != cnt[ws[j]] {
			return cnt[ws[i]] > cnt[ws[j]]
		}
		return ws[i] < ws[j]
	})
	if len(ws) < n || (len(ws) > n && cnt[ws[n-1]] == cnt[ws[n]]) {
		return nil
	}
	return ws[:n]
}

// solver is a fake model that answers by reading the prompt.
type solver struct{ calls int }

func (s *solver) Complete(ctx context.Context, p *Prompt) (string, error) {
	s.calls++
	return " " + strings.Join(solve(p.Task, p.Text), ", ") + ".", nil
}

// wrong is a fake model that answers with numbers and words not asked for.
type wrong struct{}

func (wrong) Complete(ctx context.Context, p *Prompt) (string, error) {
	return " 42 and the kettle hums", nil
}

// fakeScorer returns log-probability -(1 + position/1000)·ln 2 for every
// token, so the exact perplexity of each bucket is known.
type fakeScorer struct {
	solver
	calls int
}

func (f *fakeScorer) LogProbs(tokens, positions []int32) ([]float32, error) {
	f.calls++
	out := make([]float32, len(tokens)-1)
	for t := range out {
		out[t] = -float32(fakeNLL(t + 1))
	}
	return out, nil
}

func fakeNLL(pos int) float64 { return 0.6931471805599453 * (1 + float64(pos)/1000) }
