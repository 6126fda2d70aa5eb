package data

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReplayPackerDropsPromptOnlyRows: under mask_prompt a row with no
// trained token after its first is dropped and counted (the trainer would
// refuse a step of such rows: "no predicted tokens"); without the mask
// every row is kept.
func TestReplayPackerDropsPromptOnlyRows(t *testing.T) {
	long := replayDoc{prompt: []int32{1, 2, 3, 4, 5, 6, 7, 8, 9}, response: []int32{10, eosID}}
	cases := []struct {
		name    string
		mask    bool
		docs    []replayDoc
		rows    [][]int32
		dropped int64
	}{
		{"prompt longer than two rows", true, []replayDoc{long, long},
			[][]int32{{9, 10, eosID, 1}}, 4},
		{"no mask keeps all", false, []replayDoc{long},
			[][]int32{{1, 2, 3, 4}, {5, 6, 7, 8}}, 0},
		{"only the first token trained", true, []replayDoc{{prompt: []int32{1, 2, 3}, response: []int32{4, eosID}}, {prompt: []int32{5, 6, 7, 8}, response: []int32{eosID}}},
			[][]int32{{1, 2, 3, 4}}, 1},
	}
	for _, c := range cases {
		p := &replayPacker{ls: 4, mask: c.mask}
		var got [][]int32
		for _, d := range c.docs {
			for _, r := range p.add(d) {
				if c.mask && !slices.Contains(r.LossMask[1:], true) {
					t.Errorf("%s: kept row %v with mask %v: nothing to predict", c.name, r.InputIDs, r.LossMask)
				}
				got = append(got, r.InputIDs)
			}
		}
		want := c.rows
		if !slicesEqual(got, want) || p.dropped != c.dropped {
			t.Errorf("%s: rows %v dropped %d; want %v and %d", c.name, got, p.dropped, want, c.dropped)
		}
	}
}

func slicesEqual(a, b [][]int32) bool {
	return slices.EqualFunc(a, b, func(x, y []int32) bool { return slices.Equal(x, y) })
}

// TestPrepareReplayPromptOnly: prepare drops the all-prompt rows and says
// how many in its counts; when every row is all prompt it refuses, naming
// the count, instead of writing rows the trainer refuses mid-run.
func TestPrepareReplayPromptOnly(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, prompts []int) string {
		var sb strings.Builder
		for _, n := range prompts {
			b, _ := json.Marshal(map[string]string{"q": strings.Repeat("x", n), "a": "yes"})
			sb.Write(b)
			sb.WriteByte('\n')
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(sb.String()), 0o644)
		return p
	}
	cfg := baseConfig(Replay, 16, 16, 1)
	cfg.Replay = &ReplayConfig{PromptField: "q", ResponseField: "a", MaskPrompt: true}
	mixed := write("mixed.jsonl", []int{5, 100, 5, 5, 5})
	rows, counts := runPrepare(t, mixed, cfg)
	if counts.ReplayRowsDropped == 0 || int64(len(rows)) != counts.Rows {
		t.Errorf("counts %+v: want some rows dropped", counts)
	}
	for _, r := range rows {
		if !slices.Contains(r.LossMask[1:], true) {
			t.Errorf("row with nothing to predict written: mask %v", r.LossMask)
		}
	}
	all := write("all.jsonl", []int{200})
	var s memSink
	_, err := Prepare(context.Background(), all, cfg, &s)
	if err == nil || !strings.Contains(err.Error(), "all 12 rows are prompt only") {
		t.Errorf("all rows prompt only: error %v", err)
	}
}
