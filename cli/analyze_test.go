package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/analyze"
	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/data"
	"github.com/longrecipe/longrecipe/internal/testfix"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// analyzeFixture saves a base and an extended tiny model (the extended one
// better at digit tokens, as in package analyze's end-to-end test), the
// shipped tokenizer and a JSONL file of number-rich addresses.
func analyzeFixture(t *testing.T) (dir, baseDir, extDir, tokPath, dataPath string) {
	t.Helper()
	dir = t.TempDir()
	tokPath = filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(tokPath, assets.TokenizerJSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	l := testfix.Llama{Vocab: tok.VocabSize(), Heads: 2, KVHeads: 2, Seed: 7, NoTokenizer: true}
	c := analyze.NewClassifier(tok)
	for i, name := range []string{"base", "ext"} {
		m := l.Model(t)
		emb := m.Param("model.embed_tokens.weight")
		D := emb.Shape[1]
		for r := range emb.Shape[0] {
			emb.W[r*D] = 0.5
		}
		if i == 1 {
			head := m.Param("lm_head.weight")
			for id := range int32(tok.VocabSize()) {
				if c.TokenKind(id) == analyze.Numeral && strings.Trim(c.Text(id), " 0123456789") == "" {
					head.W[int(id)*D] += 0.5
				}
			}
		}
		p := l.Save(t, m, filepath.Join(dir, name))
		if i == 0 {
			baseDir = p
		} else {
			extDir = p
		}
	}
	docs, err := assets.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, d := range docs {
		if d.Year == 1890 || d.Year == 1913 || d.Year == 1921 { // budget figures early on
			b, _ := json.Marshal(map[string]string{"text": d.Text})
			lines = append(lines, string(b))
		}
	}
	dataPath = filepath.Join(dir, "docs.jsonl")
	if err := os.WriteFile(dataPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, baseDir, extDir, tokPath, dataPath
}

func TestAnalyzeCLI(t *testing.T) {
	dir, baseDir, extDir, tokPath, dataPath := analyzeFixture(t)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := bpeRunCLI("analyze", "--base", baseDir, "--extended", extDir, "--tokenizer", tokPath,
		"--data", dataPath, "--samples", "3", "--buckets", "0,64,128", "--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "over-representation in the top set: numeral,") {
		t.Errorf("stdout %q: want numerals first", stdout)
	}
	var r analyze.Report
	js, err := os.ReadFile(filepath.Join(out, analyze.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	// max-len defaults to max_position_embeddings (256): 3 × 255 targets.
	if r.Documents != 3 || r.Tokens != 3*255 || r.KindsByRatio[0] != "numeral" || r.Meta["extended"] != extDir {
		t.Errorf("report: %d docs, %d tokens, kinds %v, meta %v", r.Documents, r.Tokens, r.KindsByRatio, r.Meta)
	}
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	set, f, err := data.ReadImpactful(filepath.Join(out, analyze.ImpactfulJSON), tok.Hash(), tok.VocabSize())
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != len(r.Impactful) || !strings.HasPrefix(f.Source, "analyze: extended") {
		t.Errorf("impactful file: %d ids (report %d), source %q", set.Len(), len(r.Impactful), f.Source)
	}
	for _, name := range []string{analyze.KindsPNG, analyze.RatioPNG} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Context mode on one model.
	out2 := filepath.Join(dir, "out2")
	code, _, stderr = bpeRunCLI("analyze", "--mode", "context", "--base", baseDir, "--tokenizer", tokPath,
		"--data", dataPath, "--samples", "2", "--max-len", "120", "--short-context", "32", "--output", out2)
	if code != 0 {
		t.Fatalf("context mode: exit %d: %s", code, stderr)
	}
	js, err = os.ReadFile(filepath.Join(out2, analyze.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	var r2 analyze.Report
	if err := json.Unmarshal(js, &r2); err != nil || r2.Tokens != 2*(120-33) || r2.Meta["stride"] != "8" {
		t.Errorf("context report: %v, %d tokens, meta %v", err, r2.Tokens, r2.Meta)
	}
}

func TestAnalyzeCLIUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"analyze", "--base", "b", "--extended", "e"}, "--output is required"},
		{[]string{"analyze", "--extended", "e", "--output", "o"}, "--base is required"},
		{[]string{"analyze", "--base", "b", "--output", "o"}, "needs --extended"},
		{[]string{"analyze", "--mode", "context", "--base", "b", "--extended", "e", "--output", "o"}, "drop --extended"},
		{[]string{"analyze", "--mode", "both", "--base", "b", "--extended", "e", "--output", "o"}, "neither models nor context"},
		{[]string{"analyze", "--base", "b", "--extended", "e", "--samples", "0", "--output", "o"}, "--samples"},
		{[]string{"analyze", "--base", filepath.Join(t.TempDir(), "none"), "--extended", "e", "--output", "o"}, "tokenizer.json is missing"},
	} {
		code, _, stderr := bpeRunCLI(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
