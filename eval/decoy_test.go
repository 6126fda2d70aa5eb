package eval

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDecoyPrompts checks the decoy tasks as designed, in both wordings,
// with the shipped tokenizer, down to 256 tokens: the answers read from
// the prompt are the generator's, the gold candidate and the first
// InContext distractors occur in the prompt, the other distractors do
// not, and the ablated prompt lacks the gold answer.
func TestDecoyPrompts(t *testing.T) {
	tok := sotuTok(t)
	for _, w := range Wordings {
		g := &Generator{Tok: tok, Seed: 9, Wording: w}
		for _, task := range DecoyTasks {
			for _, length := range []int{256, 512, 2048} {
				for i, depth := range []float64{0, 0.5, 1} {
					p, err := g.Generate(task, length, depth, i)
					if err != nil {
						t.Fatalf("%s %s %d: %v", w.Name, task, length, err)
					}
					what := w.Name + " " + task
					if n := len(p.Tokens); math.Abs(float64(n-length)) > float64(Slack(length)) {
						t.Errorf("%s %d: %d tokens", what, length, n)
					}
					got, want := solveIn(w, task, p.Text), slices.Clone(p.Answers)
					slices.Sort(got)
					slices.Sort(want)
					if !slices.Equal(got, want) {
						t.Errorf("%s: answers read from the prompt %v, generator says %v", what, got, want)
					}
					if len(p.Distractors) != NumDistractors || p.InContext < 3 || p.InContext > NumDistractors {
						t.Fatalf("%s: %d distractors, %d in context", what, len(p.Distractors), p.InContext)
					}
					if !allWordsIn(p.Text, p.Gold) {
						t.Errorf("%s: gold %q not in the prompt", what, p.Gold)
					}
					for j, d := range p.Distractors {
						if in := allWordsIn(p.Text, d); in != (j < p.InContext) || d == p.Gold {
							t.Errorf("%s: distractor %d %q (gold %q) in the prompt: %v, want %v", what, j, d, p.Gold, in, j < p.InContext)
						}
					}
					if allWordsIn(tok.Decode(p.Ablated, true), p.Gold) {
						t.Errorf("%s: the ablated prompt still holds %q", what, p.Gold)
					}
				}
			}
		}
	}
}

// TestCopyBaselineOfTasks checks the point of the decoy tasks over many
// seeds: the copy rule's expected top-1 is at most 30 % on each of them,
// while on the older passkey (distractors absent from the prompt) it is
// 100 %.
func TestCopyBaselineOfTasks(t *testing.T) {
	tok := sotuTok(t)
	mean := func(task string) float64 {
		var s float64
		const n = 60
		for seed := uint64(0); seed < n; seed++ {
			p, err := (&Generator{Tok: tok, Seed: seed}).Generate(task, 256, float64(seed%5)/4, int(seed))
			if err != nil {
				t.Fatal(err)
			}
			s += CopyTop1(p.Text, p.CandidateTexts(), 0)
		}
		return s / n
	}
	for _, task := range DecoyTasks {
		if c := mean(task); c > 0.30 {
			t.Errorf("%s: copy baseline %.3f, want ≤ 0.30", task, c)
		}
	}
	if c := mean(Passkey); c < 0.99 {
		t.Errorf("passkey: copy baseline %.3f, want ~1 (its distractors are absent from the prompt)", c)
	}
}

func TestCopyTop1(t *testing.T) {
	const prompt = "The code for red-cat reads 1234567. The code for blue-dog reads 7654321. ABC gets XYZ."
	cases := []struct {
		cands []string
		gold  int
		want  float64
	}{
		{[]string{"1234567", "7654321", "1111111", "2222222"}, 0, 0.5},  // two in the prompt
		{[]string{"1234567", "3333333", "1111111", "2222222"}, 0, 1},    // only the gold one
		{[]string{"3333333", "7654321", "1111111", "2222222"}, 0, 0},    // a wrong one only
		{[]string{"3333333", "4444444", "1111111", "2222222"}, 0, 0.25}, // none: uniform
		{[]string{"1234567, 7654321", "7654321, 1234567", "1234567, 9"}, 1, 0.5},
		{[]string{"ABC XYZ", "ABC XY", "AB XYZ"}, 0, 1}, // whole words only
		{[]string{"12345", "1234567"}, 1, 1},            // a part of a number is not in the prompt
	}
	for _, c := range cases {
		if got := CopyTop1(prompt, c.cands, c.gold); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("CopyTop1(%q, gold %d) = %v, want %v", c.cands, c.gold, got, c.want)
		}
	}
}

// TestCopyBaselineFromItems computes the copy baseline from a hand-built
// items.jsonl whose answer is known: task a at 100 tokens 1/2 and 0, at
// 200 tokens 1/4 (nothing in the prompt: uniform); task b 1.
func TestCopyBaselineFromItems(t *testing.T) {
	lines := []string{
		`{"task":"a","length":100,"depth":0.5,"seed":1,"index":0,"prompt":"x 11 y 22","answers":["11"],"greedy":"11","score":1,"candidates":["11","22","33"],"gold":0,"scores":[-1,-2,-3]}`,
		`{"task":"a","length":100,"depth":0.5,"seed":1,"index":1,"prompt":"x 11 y 22","answers":["33"],"greedy":"11","score":0,"candidates":["33","22","11"],"gold":0,"scores":[-1,-2,-3]}`,
		`{"task":"b","length":100,"depth":null,"seed":1,"index":0,"prompt":"p 5","answers":["5"],"greedy":"","score":0,"candidates":["6","5"],"gold":1,"scores":[-1,-2]}`,
		`{"task":"a","length":200,"depth":0,"seed":1,"index":0,"prompt":"nothing","answers":["1"],"greedy":"","score":0,"candidates":["1","2","3","4"],"gold":2,"scores":[-1,-2,-3,-4]}`,
		`{"task":"ppl-free","length":100,"depth":null,"seed":1,"index":0,"prompt":"q","answers":["w"],"greedy":"w","score":1}`,
	}
	path := filepath.Join(t.TempDir(), ItemsJSONL)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	items, err := ReadItems(path)
	if err != nil {
		t.Fatal(err)
	}
	got := CopyBaseline(items)
	want := []CopyCell{{"a", 100, 2, 0.25}, {"a", 200, 1, 0.25}, {"a", 0, 3, 0.25}, {"b", 100, 1, 1}, {"b", 0, 1, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("CopyBaseline = %+v, want %+v", got, want)
	}
	bad := strings.Replace(lines[0], `"gold":0`, `"gold":3`, 1)
	if err := os.WriteFile(path, []byte(bad+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadItems(path); err == nil || !strings.Contains(err.Error(), "line 1: gold 3") {
		t.Errorf("gold out of range: %v", err)
	}
}
