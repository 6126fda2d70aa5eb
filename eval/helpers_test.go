package eval

import (
	"context"
	"regexp"
	"slices"
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

var (
	reQuestionKeys = regexp.MustCompile(`What are all the special magic numbers for (.+) mentioned in the provided text\?`)
	reVTValue      = regexp.MustCompile(`assigned the value (\d+) in the text above`)
	reVTStatement  = regexp.MustCompile(`VAR ([A-Z]+) = (?:VAR ([A-Z]+)|(\d+))`)
	reNumbered     = regexp.MustCompile(`\d+\. (\S+)`)
)

// lastSection returns the text after the last occurrence of marker (the
// question after the solved examples).
func lastSection(text, marker string) string {
	if i := strings.LastIndex(text, marker); i >= 0 {
		return text[i:]
	}
	return text
}

// solve returns the answers of a prompt of task, found by reading it.
func solve(task, text string) []string {
	switch task {
	case Passkey:
		m := regexp.MustCompile(`The pass key is (\d+)\. Remember it\. (\d+) is the pass key\.`).FindStringSubmatch(text)
		if m == nil || m[1] != m[2] {
			return nil
		}
		return []string{m[1]}
	case NIAHSingle, NIAHMultiKey, NIAHMultiValue, NIAHMultiQuery:
		q := reQuestionKeys.FindStringSubmatch(text)
		if q == nil {
			return nil
		}
		var ks []string
		for _, part := range strings.Split(strings.ReplaceAll(q[1], ", and ", ", "), ", ") {
			ks = append(ks, part)
		}
		var out []string
		for _, k := range ks {
			re := regexp.MustCompile(`One of the special magic numbers for ` + regexp.QuoteMeta(k) + ` is: (\d+)\.`)
			for _, m := range re.FindAllStringSubmatch(text, -1) {
				out = append(out, m[1])
			}
		}
		return out
	case VariableTrack:
		sec := lastSection(text, "Memorize and track")
		v := reVTValue.FindStringSubmatch(sec)
		if v == nil {
			return nil
		}
		// Follow assignments from the value.
		holders := map[string]bool{}
		changed := true
		for changed {
			changed = false
			for _, m := range reVTStatement.FindAllStringSubmatch(sec, -1) {
				if holders[m[1]] {
					continue
				}
				if m[3] == v[1] || (m[2] != "" && holders[m[2]]) {
					holders[m[1]] = true
					changed = true
				}
			}
		}
		var out []string
		for _, m := range reVTStatement.FindAllStringSubmatch(sec, -1) {
			if holders[m[1]] && !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
		return out
	case CommonWords:
		sec := lastSection(text, "Below is a numbered list")
		sec = sec[:strings.Index(sec, "\nQuestion:")]
		return topWords(reNumbered.FindAllStringSubmatch(sec, -1), 10, "")
	case FrequentWords:
		sec := lastSection(text, "Read the following coded text")
		sec = sec[strings.Index(sec, "coded words. ")+len("coded words. "):]
		sec = sec[:strings.Index(sec, "\nQuestion:")]
		var ms [][]string
		for _, w := range strings.Fields(sec) {
			ms = append(ms, []string{"", w})
		}
		return topWords(ms, 3, "....")
	}
	return nil
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
	return " 42 and the grass is green", nil
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
