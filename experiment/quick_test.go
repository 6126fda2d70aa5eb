package experiment

import (
	"path/filepath"
	"testing"

	"github.com/longrecipe/longrecipe/tokenizer"
)

// TestQuickHeldOutCoversLt: under the quick settings of the documented
// smoke test (`experiment --quick`: the shipped base's 256-token window × 8
// = Lt 2048, 24 documents, 2 held out) the held-out text has a document of
// at least Lt tokens, which perplexity at Lt needs (the first held-out
// addresses alone are shorter: "held-out split has no document of 2048
// tokens").
func TestQuickHeldOutCoversLt(t *testing.T) {
	base := tinyModel(t, 256)
	tok, err := tokenizer.Load(filepath.Join(base, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Base: base, Output: t.TempDir(), Seed: 2027, Quick: true, Factor: 8}
	x := &runner{o: o, tok: tok, window: 256, lt: 256 * 8}
	if err := x.o.fill(); err != nil {
		t.Fatal(err)
	}
	if err := x.writeInputs(); err != nil {
		t.Fatal(err)
	}
	longest := 0
	for _, d := range x.heldOut {
		longest = max(longest, len(tok.Encode(d, false)))
	}
	if longest < x.lt {
		t.Errorf("longest held-out document %d tokens (%d documents), want >= Lt = %d", longest, len(x.heldOut), x.lt)
	}
	if longest > 4*x.lt {
		t.Errorf("longest held-out document %d tokens: quick perplexity should stay cheap (< 4·Lt)", longest)
	}
}
