package tinybase

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/shards"
)

// The rule of issue 15 (docs: longrecipe-method.md §6): no training row
// of any stage contains the wording, filler or question of an evaluation
// prompt. The tests below build every training source the project ships
// or generates and search each row's text for the fragments of every eval
// wording, by runs of eval.LeakGram words.

// trainingTexts returns the word lists of the corpus's training split and
// the split's documents.
func trainingTexts(t *testing.T) ([][]string, []string) {
	t.Helper()
	docs, err := assets.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	train, _, err := assets.Split(docs, assets.DefaultHeldOutPercent)
	if err != nil {
		t.Fatal(err)
	}
	words := make([][]string, len(train))
	texts := make([]string, len(train))
	for i, d := range train {
		words[i], texts[i] = strings.Fields(d.Text), d.Text
	}
	return words, texts
}

// leaks reports every text that shares wording with an eval template.
func leaks(t *testing.T, d *eval.LeakDetector, what string, texts []string) {
	t.Helper()
	bad := 0
	for i, s := range texts {
		if f, shared, ok := d.Find(s); ok {
			if bad++; bad <= 3 {
				t.Errorf("%s %d shares %q with the eval template %q", what, i, shared, f)
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d of %d texts share eval wording", what, bad, len(texts))
	}
}

// TestLeakGuardFindsEvalText checks that the guard can fail: every eval
// prompt, and a replay record built the way replay was built before issue
// 15 (PoSE's passkey prompt), is found.
func TestLeakGuardFindsEvalText(t *testing.T) {
	tok := embeddedTokenizer(t)
	d := eval.NewLeakDetector()
	for _, w := range eval.Wordings {
		g := &eval.Generator{Tok: tok, Seed: 1, Wording: w}
		for _, task := range eval.SyntheticTasks {
			p, err := g.Generate(task, 1024, 0.5, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, ok := d.Find(p.Text); !ok {
				t.Errorf("%s wording, %s prompt: not found", w.Name, task)
			}
		}
		// The decoy sentence alone (decoy_passkey) is found too.
		if _, _, ok := d.Find("He read it aloud: " + strings.ReplaceAll(w.PasskeyDecoy, "{key}", "55555") + " Then he left."); !ok {
			t.Errorf("%s wording: the decoy sentence %q is not found", w.Name, w.PasskeyDecoy)
		}
	}
	words, _ := trainingTexts(t)
	rng := rand.New(rand.NewPCG(1, 2))
	r := eval.RULERWording
	old := strings.Join([]string{r.PasskeyIntro, filler(rng, words, 50), strings.ReplaceAll(r.PasskeyNeedle, "{key}", "4321"), filler(rng, words, 50), r.PasskeyQuestion}, "\n")
	if _, _, ok := d.Find(old); !ok {
		t.Error("a replay record of the pre-issue-15 kind (PoSE's passkey prompt) is not found")
	}
	// Rewording that keeps five words in a row is still found; case and
	// punctuation do not matter.
	if _, _, ok := d.Find("he said: HIDDEN codes, for a FEW labels, were lost"); !ok {
		t.Error("a five-word run of a held-out fragment in other case and punctuation is not found")
	}
}

// TestNoEvalTextInTrainingData builds every training source: the corpus's
// training split (pretraining rows, the extension rows prepare cuts from
// it, the quickstart's and experiment's corpus-train.jsonl), every kind of
// synthetic row of the tinybase phases, and the replay records of the
// quickstart and the experiment (same call, same seed, and others).
func TestNoEvalTextInTrainingData(t *testing.T) {
	tok := embeddedTokenizer(t)
	d := eval.NewLeakDetector()
	words, texts := trainingTexts(t)
	leaks(t, d, "corpus training document", texts)

	var pool []int32
	for _, ids := range tok.EncodeBatch(texts[:5], false) {
		pool = append(pool, ids...)
	}
	bos, _ := tok.BOS()
	src := Sources{Tok: tok, Texts: words, Pool: pool, BOS: bos}
	corpus := []shards.Row{{InputIDs: []int32{bos}}}
	kinds := []int{KindRecall, KindKeyValue, KindCopyText, KindCopyRand}
	for _, window := range []int{64, DefaultOptions().Window, 512} {
		// Mix with fraction f makes f/(1−f) synthetic rows per corpus
		// row: 0.995 gives 199, about 50 of each kind.
		rows, err := Mix(corpus, src, window, 0.995, kinds, uint64(window))
		if err != nil {
			t.Fatal(err)
		}
		var decoded []string
		for _, r := range rows {
			decoded = append(decoded, tok.Decode(r.InputIDs, true))
		}
		leaks(t, d, "synthetic row", decoded)
	}

	for _, seed := range []uint64{2027, 1, 2} {
		// quickstart.Run and experiment: seed, stream 0x5e, 400 records
		// of window·2/3 words.
		recs := ReplayRecords(rand.New(rand.NewPCG(seed, 0x5e)), words, 400, DefaultOptions().Window*2/3)
		var rs []string
		for _, r := range recs {
			rs = append(rs, r.Prompt+r.Response)
		}
		leaks(t, d, "replay record", rs)
	}
}
