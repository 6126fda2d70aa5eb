package tinybase

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// The shipped model's data manifest (shipped/data-manifest.json) is
// checked by regenerating every phase's rows with the default options:
// their digests must match the manifest, and no row may share wording
// with an evaluation prompt. The negative controls plant eval wording in
// one regenerated row and check that both checks then fail.

// regen holds the default options' regenerated rows, made once per test
// binary (about a second).
var regen struct {
	once   sync.Once
	stages []StageRows
	err    error
}

func regenerated(t *testing.T) []StageRows {
	t.Helper()
	regen.once.Do(func() { regen.stages, regen.err = Regenerate(DefaultOptions()) })
	if regen.err != nil {
		t.Fatal(regen.err)
	}
	return regen.stages
}

func shippedManifest(t *testing.T) *DataManifest {
	t.Helper()
	m, err := ReadManifest("shipped/" + ManifestFile)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkRows returns every way the rows differ from the manifest m
// (generator version, corpus, tokenizer, and each phase's rows and
// digest) and every row that shares eval wording, among the rows of the
// data stages named in scan (all the manifest's phases when scan is
// empty).
func checkRows(t *testing.T, m *DataManifest, stages []StageRows, scan ...string) []string {
	t.Helper()
	digests := map[string]RowsDigest{}
	for _, s := range stages {
		digests[s.Data] = DigestRows(s.Rows)
	}
	want, err := NewManifest(DefaultOptions(), digests)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	if m.GeneratorVersion != want.GeneratorVersion || m.Corpus != want.Corpus || m.CorpusSHA256 != want.CorpusSHA256 ||
		m.Tokenizer != want.Tokenizer || m.Window != want.Window || m.Seed != want.Seed {
		bad = append(bad, fmt.Sprintf("manifest header %+v, regenerated %+v", *m, *want))
	}
	if len(m.Phases) != len(want.Phases) {
		bad = append(bad, fmt.Sprintf("manifest has %d phases, the default options run %d", len(m.Phases), len(want.Phases)))
	}
	for i := range min(len(m.Phases), len(want.Phases)) {
		if m.Phases[i] != want.Phases[i] {
			bad = append(bad, fmt.Sprintf("phase %d: manifest %+v, regenerated %+v", i+1, m.Phases[i], want.Phases[i]))
		}
	}
	if len(scan) == 0 {
		for _, p := range m.Phases {
			scan = append(scan, p.Data)
		}
	}
	return append(bad, leakingRows(embeddedTokenizer(t), eval.NewLeakDetector(), stages, scan)...)
}

// leakingRows returns the rows of the data stages named in scan that
// share wording with an eval template (the first three, then a count).
func leakingRows(tok *tokenizer.Tokenizer, d *eval.LeakDetector, stages []StageRows, scan []string) []string {
	var bad []string
	n := 0
	for _, s := range stages {
		if !slices.Contains(scan, s.Data) {
			continue
		}
		for i, r := range s.Rows {
			if f, shared, ok := d.Find(tok.Decode(r.InputIDs, true)); ok {
				if n++; n <= 3 {
					bad = append(bad, fmt.Sprintf("%s row %d shares %q with the eval template %q", s.Data, i, shared, f))
				}
			}
		}
	}
	if n > 3 {
		bad = append(bad, fmt.Sprintf("%d rows in all share eval wording", n))
	}
	return bad
}

func TestShippedDataManifest(t *testing.T) {
	m := shippedManifest(t)
	if m.GeneratorVersion != GeneratorVersion {
		t.Fatalf("the shipped model was trained on rows of generator version %d, the code is version %d: rebuild it", m.GeneratorVersion, GeneratorVersion)
	}
	for _, p := range checkRows(t, m, regenerated(t)) {
		t.Error(p)
	}
	// The shipped model is what the default options build: its build
	// record holds the defaults (the output folder aside), so that
	// "longrecipe tinybase --output DIR" rebuilds it.
	b, err := os.ReadFile("shipped/build.json")
	if err != nil {
		t.Fatal(err)
	}
	var info BuildInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	got, want := info.Options, DefaultOptions()
	got.Output = ""
	if got != want {
		t.Errorf("shipped/build.json options %+v, the defaults are %+v", got, want)
	}
}

// TestDataManifestCatchesPlantedWording is the negative control: a
// sentence of an eval template planted in one regenerated row makes the
// check fail twice, on the phase's digest and on the leak (the leak scan
// covers the planted stage only, to keep the test fast; -short plants one
// sentence).
func TestDataManifestCatchesPlantedWording(t *testing.T) {
	m := shippedManifest(t)
	stages := regenerated(t)
	tok := embeddedTokenizer(t)
	h, r := eval.HeldOutWording, eval.RULERWording
	cases := []struct {
		name, data, plant string
	}{
		{"held-out passkey needle", "data", strings.ReplaceAll(h.PasskeyNeedle, "{key}", "48213")},
		{"held-out passkey question", "data-final", h.PasskeyQuestion},
		{"decoy pass key", "data-retrieval", strings.ReplaceAll(h.PasskeyDecoy, "{key}", "7301")},
		{"variable-tracking chain", "data-final", strings.NewReplacer("{name}", "QXKZB", "{prev}", "VRTMA").Replace(h.VTChain)},
		{"RULER multi-key needle", "data", strings.NewReplacer("{key}", "red-river", "{value}", "5512").Replace(r.NIAHNeedle)},
	}
	if testing.Short() {
		cases = cases[:1]
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			planted := make([]StageRows, len(stages))
			copy(planted, stages)
			i := slices.IndexFunc(planted, func(s StageRows) bool { return s.Data == c.data })
			if i < 0 {
				t.Fatalf("no data stage %s", c.data)
			}
			rows := slices.Clone(planted[i].Rows)
			k := len(rows) / 2
			words := strings.Fields(tok.Decode(rows[k].InputIDs, true))
			text := strings.Join(words[:len(words)/2], " ") + " " + c.plant + " " + strings.Join(words[len(words)/2:], " ")
			ids := tok.Encode(text, true)
			rows[k] = shards.Row{InputIDs: ids, PositionIDs: make([]int32, len(ids))}
			planted[i].Rows = rows
			bad := checkRows(t, m, planted, c.data)
			var digest, leak bool
			for _, b := range bad {
				digest = digest || strings.HasPrefix(b, "phase ")
				leak = leak || strings.HasPrefix(b, fmt.Sprintf("%s row %d shares", c.data, k))
			}
			if !digest || !leak {
				t.Errorf("planted %q in %s row %d: digest mismatch found %v, leak found %v (%q)", c.plant, c.data, k, digest, leak, bad)
			}
		})
	}
}

func TestRowHasher(t *testing.T) {
	a := shards.Row{InputIDs: []int32{1, 2, 3}, PositionIDs: []int32{0, 1, 2}}
	base := DigestRows([]shards.Row{a, a})
	cases := []struct {
		name string
		rows []shards.Row
	}{
		{"an id", []shards.Row{a, {InputIDs: []int32{1, 2, 4}, PositionIDs: []int32{0, 1, 2}}}},
		{"a position", []shards.Row{a, {InputIDs: []int32{1, 2, 3}, PositionIDs: []int32{0, 1, 3}}}},
		{"a loss mask", []shards.Row{a, {InputIDs: []int32{1, 2, 3}, PositionIDs: []int32{0, 1, 2}, LossMask: []bool{true, true, true}}}},
		{"a split row", []shards.Row{a, {InputIDs: []int32{1, 2}, PositionIDs: []int32{0, 1}}, {InputIDs: []int32{3}, PositionIDs: []int32{2}}}},
		{"a missing row", []shards.Row{a}},
	}
	for _, c := range cases {
		if d := DigestRows(c.rows); d.SHA256 == base.SHA256 {
			t.Errorf("%s changed: same digest %s", c.name, d.SHA256)
		}
	}
	if again := DigestRows([]shards.Row{a, a}); again != base {
		t.Errorf("same rows, digests %+v and %+v", base, again)
	}
}
