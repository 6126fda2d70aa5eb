package eval

import (
	"compress/gzip"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/tokenizer"
)

// TestGeneratedPrompts checks every task with a real BPE tokenizer and a
// byte tokenizer: the prompt has the requested length (±1 %), and the
// answers recovered by reading the prompt are the generator's answers.
func TestGeneratedPrompts(t *testing.T) {
	hay, _ := sotuHaystack(t)
	toks := []struct {
		name string
		tok  Tokenizer
	}{{"sotu-bpe", sotuTok(t)}, {"bytes", byteTok{}}}
	for _, tk := range toks {
		for _, wd := range Wordings {
			for _, haystack := range []*Haystack{hay, NoiseHaystack()} {
				g := &Generator{Tok: tk.tok, Haystack: haystack, Seed: 7, Wording: wd}
				for _, task := range SyntheticTasks {
					for _, length := range []int{1024, 3000, 8192} {
						if tk.name == "bytes" && (task == CommonWords || task == FrequentWords) && length < 4096 {
							continue // the solved example alone is > 1k bytes
						}
						for i, depth := range []float64{0, 0.37, 1} {
							p, err := g.Generate(task, length, depth, i)
							if err != nil {
								t.Errorf("%s %s: %v", tk.name, haystack.Name, err)
								continue
							}
							n := len(tk.tok.Encode(p.Text, true))
							if n != len(p.Tokens) || math.Abs(float64(n-length)) > float64(Slack(length)) {
								t.Errorf("%s %s %d: prompt has %d tokens (Tokens %d), want %d ±1%%", tk.name, task, length, n, len(p.Tokens), length)
							}
							got := solveIn(wd, task, p.Text)
							want := slices.Clone(p.Answers)
							slices.Sort(got)
							slices.Sort(want)
							if !slices.Equal(got, want) || len(want) == 0 {
								t.Errorf("%s %s %s %d depth %v: answers read from the prompt %v, generator says %v", tk.name, wd.Name, task, length, depth, got, want)
							}
							if UsesDepth(task) != !math.IsNaN(p.Depth) {
								t.Errorf("%s: depth recorded as %v", task, p.Depth)
							}
							if p.MaxNew <= 0 {
								t.Errorf("%s: MaxNew %d", task, p.MaxNew)
							}
							if !UsesDepth(task) {
								break // depth does not matter
							}
						}
					}
				}
			}
		}
	}
}

// TestAnswerCounts checks the task shapes: how many answers each task
// asks for, and that multikey hides distractor needles.
func TestAnswerCounts(t *testing.T) {
	g := &Generator{Tok: sotuTok(t), Seed: 3}
	want := map[string]int{Passkey: 1, NIAHSingle: 1, NIAHMultiKey: 1, NIAHMultiValue: 4, NIAHMultiQuery: 4, VariableTrack: 5, CommonWords: 10, FrequentWords: 3}
	for task, n := range want {
		p, err := g.Generate(task, 4096, 0.5, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Answers) != n {
			t.Errorf("%s: %d answers, want %d", task, len(p.Answers), n)
		}
		if strings.HasPrefix(task, "niah") {
			needles := strings.Count(p.Text, strings.Split(HeldOutWording.NIAHNeedle, "{")[0])
			wantNeedles := map[string]int{NIAHSingle: 1, NIAHMultiKey: 4, NIAHMultiValue: 4, NIAHMultiQuery: 4}[task]
			if needles != wantNeedles {
				t.Errorf("%s: %d needles, want %d", task, needles, wantNeedles)
			}
		}
	}
}

// TestNeedleDepth checks that the needle sits at the requested depth of
// the filler, measured in tokens of a real tokenizer.
func TestNeedleDepth(t *testing.T) {
	tok := sotuTok(t)
	hay, _ := sotuHaystack(t)
	const length = 4096
	for _, task := range []string{Passkey, NIAHSingle} {
		for _, h := range []*Haystack{hay, NoiseHaystack()} {
			g := &Generator{Tok: tok, Haystack: h, Seed: 11}
			for _, depth := range []float64{0, 0.1, 0.25, 0.5, 0.75, 0.9, 1} {
				p, err := g.Generate(task, length, depth, 0)
				if err != nil {
					t.Fatal(err)
				}
				needle := strings.Split(HeldOutWording.NIAHNeedle, " {")[0]
				if task == Passkey {
					needle = strings.Split(HeldOutWording.PasskeyNeedle, " {")[0]
				}
				at := strings.Index(p.Text, needle)
				ctxStart := strings.Index(p.Text, "\n") + 1
				ctxEnd := strings.LastIndex(p.Text, "\n")
				if at < 0 || ctxStart <= 0 || ctxEnd < at {
					t.Fatalf("%s: needle or context not found", task)
				}
				tokAt := len(tok.Encode(p.Text[:at], true))
				tokStart := len(tok.Encode(p.Text[:ctxStart], true))
				tokEnd := len(tok.Encode(p.Text[:ctxEnd], true))
				needleLen := len(tok.Encode(needle+" 1234567.", false))
				rel := float64(tokAt-tokStart) / float64(tokEnd-tokStart-needleLen)
				if math.Abs(rel-depth) > 0.02 {
					t.Errorf("%s %s depth %v: needle at token %d of the context [%d, %d) = %.3f", task, h.Name, depth, tokAt, tokStart, tokEnd, rel)
				}
				// And as a fraction of the whole prompt, within the
				// template's share.
				whole := float64(tokAt) / float64(len(p.Tokens))
				tmpl := float64(len(p.Tokens)-(tokEnd-tokStart)) / float64(len(p.Tokens))
				if math.Abs(whole-depth) > tmpl+0.02 {
					t.Errorf("%s depth %v: needle at %.3f of the prompt", task, depth, whole)
				}
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	tok := sotuTok(t)
	hay, _ := sotuHaystack(t)
	for _, task := range SyntheticTasks {
		a, err := (&Generator{Tok: tok, Haystack: hay, Seed: 5}).Generate(task, 4096, 0.5, 2)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := (&Generator{Tok: tok, Haystack: hay, Seed: 5}).Generate(task, 4096, 0.5, 2)
		c, _ := (&Generator{Tok: tok, Haystack: hay, Seed: 6}).Generate(task, 4096, 0.5, 2)
		d, _ := (&Generator{Tok: tok, Haystack: hay, Seed: 5}).Generate(task, 4096, 0.5, 3)
		if a.Text != b.Text || !slices.Equal(a.Answers, b.Answers) {
			t.Errorf("%s: same seed, different prompts", task)
		}
		if a.Text == c.Text || slices.Equal(a.Answers, c.Answers) {
			t.Errorf("%s: seeds 5 and 6 give the same prompt or answers", task)
		}
		if a.Text == d.Text {
			t.Errorf("%s: samples 2 and 3 are the same", task)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	g := &Generator{Tok: byteTok{}, Seed: 1}
	cases := []struct {
		task   string
		length int
		depth  float64
		want   string
	}{
		{"nope", 1024, 0, "unknown task"},
		{NIAHSingle, 1024, 1.5, "outside [0, 1]"},
		{NIAHSingle, 1024, math.NaN(), "outside [0, 1]"},
		{NIAHSingle, 100, 0.5, "already"},
		{CommonWords, 1024, 0, "already"},
		{Passkey, 0, 0, "must be positive"},
	}
	for _, c := range cases {
		_, err := g.Generate(c.task, c.length, c.depth, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Generate(%s, %d, %v) error %v, want %q", c.task, c.length, c.depth, err, c.want)
		}
	}
	if _, err := (&Generator{}).Generate(Passkey, 1024, 0, 0); err == nil {
		t.Error("no tokenizer: no error")
	}
}

func TestInsertAt(t *testing.T) {
	words := strings.Fields(strings.Repeat("a b c d e f g h i j. ", 70)) // 700 words
	cum := (*wordCost)(nil).cum(words)
	cases := []struct {
		d    float64
		want int
	}{{0, 0}, {1, 700}, {0.5, 350}, {0.3, 210}, {0.9, 630}, {3.0 / 700, 10}}
	for _, c := range cases {
		if got := insertAt(words, cum, c.d); got != c.want {
			t.Errorf("insertAt(%v) = %d, want %d", c.d, got, c.want)
		}
	}
	// 0.305·700 rounds to word 214, inside a sentence; the nearest
	// sentence start is 210 (220 is farther).
	if got := insertAt(words, cum, 0.305); got != 210 || !endsSentence(words[got-1]) {
		t.Errorf("insertAt(0.305) = %d, want the sentence start 210", got)
	}
	// Without sentence ends nearby the exact word position is used.
	plain := strings.Fields(strings.Repeat("a ", 1000))
	if got := insertAt(plain, (*wordCost)(nil).cum(plain), 0.4321); got != 432 {
		t.Errorf("insertAt without sentences = %d, want 432", got)
	}
}

// TestInsertAtTokens checks that depth is measured in tokens, not words:
// with a first word costing as much as all the others, depth 0.5 falls
// right after it.
func TestInsertAtTokens(t *testing.T) {
	words := []string{"heavy"}
	cum := []int{0, 100}
	for i := 0; i < 100; i++ {
		words = append(words, "w")
		cum = append(cum, cum[len(cum)-1]+1)
	}
	if got := insertAt(words, cum, 0.5); got != 1 {
		t.Errorf("insertAt(0.5) = %d, want 1 (after the heavy word)", got)
	}
	if got := insertAt(words, cum, 0.75); got != 51 {
		t.Errorf("insertAt(0.75) = %d, want 51", got)
	}
}

// loadGzTokenizer reads a gzip-compressed tokenizer.json committed by the
// tokenizer package.
func loadGzTokenizer(t *testing.T, path string) *tokenizer.Tokenizer {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Parse(data, path)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOtherTokenizers sizes prompts with the Mistral (SentencePiece-style
// BPE with byte fallback) and Qwen3 (byte-level BPE, 151k tokens)
// tokenizers: lengths within 1 %, answers recoverable, needle depth in
// tokens within 2 %.
func TestOtherTokenizers(t *testing.T) {
	hay, _ := sotuHaystack(t)
	for _, name := range []string{"mistral", "qwen3"} {
		tok := loadGzTokenizer(t, filepath.Join("..", "tokenizer", "testdata", name+"-tokenizer.json.gz"))
		g := &Generator{Tok: tok, Haystack: hay, Seed: 3}
		for _, task := range SyntheticTasks {
			p, err := g.Generate(task, 4096, 0.3, 0)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if n := len(p.Tokens); math.Abs(float64(n-4096)) > 40 {
				t.Errorf("%s %s: %d tokens, want 4096 ±1%%", name, task, n)
			}
			got, want := solve(task, p.Text), slices.Clone(p.Answers)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: answers read %v, generator says %v", name, task, got, want)
			}
			if task == NIAHSingle {
				at := strings.Index(p.Text, strings.Split(HeldOutWording.NIAHNeedle, " {")[0])
				s := len(tok.Encode(p.Text[:strings.Index(p.Text, "\n")+1], true))
				e := len(tok.Encode(p.Text[:strings.LastIndex(p.Text, "\n")], true))
				rel := float64(len(tok.Encode(p.Text[:at], true))-s) / float64(e-s)
				if math.Abs(rel-0.3) > 0.02 {
					t.Errorf("%s: needle at %.3f of the context, want 0.3", name, rel)
				}
			}
		}
	}
}
