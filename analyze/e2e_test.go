package analyze

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// tinyPair returns two real tiny Llama models over the shipped tokenizer's
// 4096 ids that differ only in the lm_head rows of digit tokens. Both
// models' embeddings get a constant component along hidden dimension 0, so
// that the final hidden state always points that way; the extended
// model's digit rows get +boost in that dimension, which raises every
// digit's logit by about boost·sqrt(hidden): it predicts numerals better.
func tinyPair(t *testing.T, tok *tokenizer.Tokenizer, boost float32) (base, ext *model.Model, digits []int32) {
	t.Helper()
	cfg := &hf.Config{
		ModelType: "llama", VocabSize: tok.VocabSize(), HiddenSize: 32, IntermediateSize: 64,
		NumHiddenLayers: 1, NumAttentionHeads: 2, NumKeyValueHeads: 2,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 1024,
		HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: -1, EOSTokenID: -1,
	}
	c := NewClassifier(tok)
	for id := range int32(tok.VocabSize()) {
		if c.TokenKind(id) == Numeral && c.info(id).word == "" {
			digits = append(digits, id)
		}
	}
	var ms [2]*model.Model
	for i := range ms {
		m, err := model.New(cfg, 7)
		if err != nil {
			t.Fatal(err)
		}
		emb := m.Param("model.embed_tokens.weight")
		D := emb.Shape[1]
		for r := range emb.Shape[0] {
			emb.W[r*D] = 0.5
		}
		ms[i] = m
	}
	head := ms[1].Param("lm_head.weight")
	D := head.Shape[1]
	for _, id := range digits {
		head.W[int(id)*D] += boost
	}
	return ms[0], ms[1], digits
}

func heldOutDocs(t *testing.T, tok *tokenizer.Tokenizer, n, maxLen int) [][]int32 {
	t.Helper()
	docs, err := assets.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	_, held, err := assets.Split(docs, assets.DefaultHeldOutPercent)
	if err != nil {
		t.Fatal(err)
	}
	// The held-out addresses with the most digits per character.
	density := func(d assets.Document) float64 {
		n := strings.Count(d.Text, "0") + strings.Count(d.Text, "1") + strings.Count(d.Text, "9")
		return float64(n) / float64(len(d.Text))
	}
	slices.SortStableFunc(held, func(a, b assets.Document) int { return cmp.Compare(density(b), density(a)) })
	var out [][]int32
	for _, d := range held[:n] {
		ids := tok.Encode(d.Text, true)
		out = append(out, ids[:min(len(ids), maxLen)])
	}
	return out
}

// TestNumeralsLeadWithRealModels is issue 4's end-to-end check: two real
// tiny models, the extended one better at numerals, real text under the
// shipped tokenizer; numerals must lead the top-Δ kinds and the impactful
// set must be digit tokens.
func TestNumeralsLeadWithRealModels(t *testing.T) {
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "assets/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	base, ext, digits := tinyPair(t, tok, 0.5)
	docs := heldOutDocs(t, tok, 4, 400)
	toks, err := ScoreModels(context.Background(), base, ext, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClassifier(tok)
	if err := Classify(toks, docs, c); err != nil {
		t.Fatal(err)
	}
	r, err := Aggregate(toks, c, Options{Buckets: []int{0, 100, 200}})
	if err != nil {
		t.Fatal(err)
	}
	num := r.Overall[Numeral]
	t.Logf("%d tokens, numerals %d (%.3f of all, %.3f of top, ratio %.2f), kinds by ratio %v, %d impactful ids",
		r.Tokens, num.All, num.AllShare, num.TopShare, num.Ratio, r.KindsByRatio, len(r.Impactful))
	if num.All < 20 {
		t.Fatalf("only %d numeral tokens in the sample", num.All)
	}
	if r.KindsByRatio[0] != "numeral" || num.Ratio < 2 {
		t.Errorf("kinds by ratio %v, numeral ratio %.2f: want numerals first", r.KindsByRatio, num.Ratio)
	}
	if num.Top < num.All*8/10 {
		t.Errorf("only %d of %d numerals in the top set", num.Top, num.All)
	}
	// The gain is on digits alone: Δp > 0 exactly for digit tokens.
	for _, k := range toks {
		if gain, digit := k.DeltaProb() > 0, slices.Contains(digits, k.ID); gain != digit {
			t.Errorf("token %d %q (pos %d): Δp %g", k.ID, c.Text(k.ID), k.Pos, k.DeltaProb())
		}
	}
	if len(r.Impactful) == 0 {
		t.Fatal("no impactful ids")
	}
	for _, id := range r.Impactful {
		if !slices.Contains(digits, id) {
			t.Errorf("impactful id %d %q is not a digit token", id, c.Text(id))
		}
	}
	// Control: identical models give Δ = 0 everywhere, so nothing is
	// over-represented beyond the tie order.
	same, err := ScoreModels(context.Background(), base, base, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range same {
		if k.Base != k.Ext {
			t.Fatalf("same model scored %g and %g at %d", k.Base, k.Ext, k.Pos)
		}
	}
}

// TestContextModeRealModel runs the context mode on a real model: every
// token past the short context is scored once, and the short windows give
// scores different from the full context's.
func TestContextModeRealModel(t *testing.T) {
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "assets/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	m, _, _ := tinyPair(t, tok, 0)
	docs := heldOutDocs(t, tok, 2, 120)
	toks, err := ScoreContext(context.Background(), m, docs, 32, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2*(120-33) {
		t.Fatalf("%d tokens scored, want %d", len(toks), 2*(120-33))
	}
	differ := 0
	for _, k := range toks {
		if k.Base != k.Ext {
			differ++
		}
	}
	if differ == 0 {
		t.Error("short and full contexts gave identical scores everywhere")
	}
}
