package tinybase

import (
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// leakingRows returns the indices of the rows whose decoded text shares
// wording with an evaluation template, with the first fragment found.
func leakingRows(tok *tokenizer.Tokenizer, d *eval.LeakDetector, rows []shards.Row) (bad []int, first string) {
	for i, r := range rows {
		if _, shared, ok := d.Find(tok.Decode(r.InputIDs, true)); ok {
			if bad = append(bad, i); len(bad) == 1 {
				first = shared
			}
		}
	}
	return bad, first
}

// TestDataManifestCatchesPlantedTemplate is the negative control of the
// test above: a held-out evaluation sentence planted in one regenerated
// row changes that phase's hash and is found by the leak search.
func TestDataManifestCatchesPlantedTemplate(t *testing.T) {
	o := tinyOptions("")
	want, rows, err := Data(o)
	if err != nil {
		t.Fatal(err)
	}
	tok := embeddedTokenizer(t)
	det := eval.NewLeakDetector()
	if bad, first := leakingRows(tok, det, rows["data"]); len(bad) > 0 {
		t.Fatalf("clean rows already leak (row %d: %q)", bad[0], first)
	}
	w := eval.HeldOutWording
	planted := "He said: " + strings.ReplaceAll(w.PasskeyNeedle, "{key}", "31415") + " " + w.PasskeyQuestion
	bos, _ := tok.BOS()
	ids := append([]int32{bos}, tok.Encode(planted, false)...)
	pos := make([]int32, len(ids))
	for i := range pos {
		pos[i] = int32(i)
	}
	k := len(rows["data"]) / 2
	rows["data"][k] = shards.Row{InputIDs: ids, PositionIDs: pos}
	got := *want
	got.Phases = append([]PhaseData(nil), want.Phases...)
	got.Phases[0].SHA256 = RowsHash(rows["data"])
	if d := want.Diff(&got); len(d) != 1 || !strings.Contains(d[0], "phase data:") {
		t.Errorf("a planted row: manifest differences %q, want one naming phase data", d)
	}
	bad, _ := leakingRows(tok, det, rows["data"])
	if len(bad) != 1 || bad[0] != k {
		t.Errorf("a planted held-out passkey sentence in row %d: leak search found rows %v", k, bad)
	}
}
