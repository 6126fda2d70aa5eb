package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/longrecipe/longrecipe/internal/paths"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
)

// File names of the per-prompt and per-document records beside a report.
const (
	ItemsJSONL   = "items.jsonl"
	PPLDocsJSONL = "ppl_docs.jsonl"
)

// Item is one line of items.jsonl: a prompt, what the model answered and,
// for ranked tasks, every candidate's log-likelihood, so that anyone can
// recompute a report's figures (and the copy baseline) from the file.
type Item struct {
	Task   string   `json:"task"`
	Length int      `json:"length"`
	Depth  *float64 `json:"depth"` // null for tasks without a depth
	Seed   uint64   `json:"seed"`
	Index  int      `json:"index"`
	Prompt string   `json:"prompt"`
	// Answers are the strings a correct greedy answer contains; Score is
	// the string-match recall of Greedy.
	Answers []string `json:"answers"`
	Greedy  string   `json:"greedy"`
	Score   float64  `json:"score"`
	// Candidates are the ranked answers (ranked tasks only), Gold the
	// index of the correct one and Scores each candidate's summed
	// log-likelihood (nats) as a continuation of the prompt.
	Candidates []string  `json:"candidates,omitempty"`
	Gold       *int      `json:"gold,omitempty"`
	Scores     []float64 `json:"scores,omitempty"`
}

// CopyTop1 is the expected top-1 credit of the no-model copy rule on one
// ranked prompt: pick a candidate all of whose words (runs of letters and
// digits) occur in the prompt as whole words, ties broken uniformly at
// random; when no candidate qualifies, pick any uniformly. It is 1/|S|
// when the gold candidate is among the qualifying set S, 0 when it is
// not, and 1/len(candidates) when S is empty.
func CopyTop1(prompt string, candidates []string, gold int) float64 {
	n, goldIn := 0, false
	for i, c := range candidates {
		if allWordsIn(prompt, c) {
			n++
			goldIn = goldIn || i == gold
		}
	}
	switch {
	case n == 0:
		return 1 / float64(len(candidates))
	case goldIn:
		return 1 / float64(n)
	}
	return 0
}

// allWordsIn reports whether every word of cand (runs of letters and
// digits; at least one) occurs in text as a whole word.
func allWordsIn(text, cand string) bool {
	ws := strings.FieldsFunc(cand, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for _, w := range ws {
		if !contains(text, w) {
			return false
		}
	}
	return len(ws) > 0
}

// CopyCell is the copy baseline of a task at a length (Length 0: over
// all lengths): the mean CopyTop1 over its N ranked items.
type CopyCell struct {
	Task   string  `json:"task"`
	Length int     `json:"length"`
	N      int     `json:"n"`
	Copy   float64 `json:"copy"`
}

// CopyBaseline returns the copy baseline of every task of items that has
// ranked prompts, per task × length and per task (Length 0), in the order
// tasks first appear, lengths ascending, the per-task cell last.
func CopyBaseline(items []Item) []CopyCell {
	type key struct {
		task   string
		length int
	}
	sum, cnt := map[key]float64{}, map[key]int{}
	var tasks []string
	var keys []cellKey
	for _, it := range items {
		if it.Gold == nil || len(it.Candidates) == 0 {
			continue
		}
		v := CopyTop1(it.Prompt, it.Candidates, *it.Gold)
		for _, k := range []key{{it.Task, it.Length}, {it.Task, 0}} {
			if cnt[k] == 0 {
				if k.length == 0 {
					tasks = append(tasks, k.task)
				}
				l := k.length
				if l == 0 {
					l = 1 << 62 // the per-task cell sorts last
				}
				keys = append(keys, cellKey{k.task, l, 0})
			}
			sum[k] += v
			cnt[k]++
		}
	}
	sortCellKeys(keys, tasks)
	out := make([]CopyCell, 0, len(keys))
	for _, ck := range keys {
		k := key{ck.task, ck.length}
		if ck.length == 1<<62 {
			k.length = 0
		}
		out = append(out, CopyCell{Task: k.task, Length: k.length, N: cnt[k], Copy: sum[k] / float64(cnt[k])})
	}
	return out
}

// ItemRecords returns r's prompts as items.jsonl lines; ok is false when r
// holds no prompt texts (results read back from results.json, which
// leaves them out).
func (r *Results) ItemRecords() (items []Item, ok bool) {
	for _, s := range r.Items {
		if s.Prompt == "" {
			return nil, false
		}
		it := Item{Task: s.Task, Length: s.Length, Depth: s.Depth, Seed: r.Seed, Index: s.Index, Prompt: s.Prompt,
			Answers: s.Expected, Greedy: s.Output, Score: s.Score}
		if s.Partial != nil && len(s.Candidates) > 0 {
			gold := 0
			it.Candidates, it.Gold, it.Scores = s.Candidates, &gold, s.Partial.Scores
		}
		items = append(items, it)
	}
	return items, true
}

// writeJSONL writes one JSON line per element of v to path, atomically.
func writeJSONL[T any](path string, v []T) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range v {
		if err := enc.Encode(&v[i]); err != nil {
			return fmt.Errorf("eval: encode %s: %w", filepath.Base(path), err)
		}
	}
	return atomicfile.WriteFile(path, b.Bytes())
}

// ReadItems reads an items.jsonl file.
func ReadItems(path string) ([]Item, error) {
	data, err := paths.ReadRegular(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var out []Item
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var it Item
		if err := json.Unmarshal(b, &it); err != nil {
			return nil, fmt.Errorf("eval: %s line %d: %w", path, line, err)
		}
		if it.Gold != nil && (*it.Gold < 0 || *it.Gold >= len(it.Candidates)) {
			return nil, fmt.Errorf("eval: %s line %d: gold %d outside the %d candidates", path, line, *it.Gold, len(it.Candidates))
		}
		if it.Scores != nil && len(it.Scores) != len(it.Candidates) {
			return nil, fmt.Errorf("eval: %s line %d: %d scores for %d candidates", path, line, len(it.Scores), len(it.Candidates))
		}
		out = append(out, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: %s: %w", path, err)
	}
	return out, nil
}
