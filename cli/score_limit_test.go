package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/model"
)

// TestScoreBeyondWindow: by default score takes a row longer than 4 × the
// model's window (here 1100 tokens, window 256), the ordinary use of
// scoring a base model beyond its window; the limit is the memory the row
// needs.
func TestScoreBeyondWindow(t *testing.T) {
	dir := initTiny(t, 50, "f32")
	tmp := t.TempDir()
	ids := make([]int32, 1100)
	for i := range ids {
		ids[i] = int32(1 + i%40)
	}
	b, _ := json.Marshal(map[string]any{"input_ids": ids})
	in := filepath.Join(tmp, "in.jsonl")
	os.WriteFile(in, append(b, '\n'), 0o644)
	out := filepath.Join(tmp, "out.jsonl")
	if _, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", out); code != 0 {
		t.Fatalf("1100 tokens on a 256-token window: exit %d, %s", code, stderr)
	}
	var res struct{ LogProbs []float32 }
	data, _ := os.ReadFile(out)
	if err := json.Unmarshal(data, &res); err != nil || len(res.LogProbs) != 1099 {
		t.Errorf("output %d log-probabilities (%v), want 1099", len(res.LogProbs), err)
	}
}

// TestScoreMemoryLimit: the default limit is the longest row whose
// estimated memory fits in what is available, and a longer row is refused
// naming the memory it needs; too little memory for any row is an error.
func TestScoreMemoryLimit(t *testing.T) {
	m, err := model.Load(initTiny(t, 50, "f32"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		avail     int64
		maxTokens int
		wantErr   string
	}{
		{avail: 0, maxTokens: 4 * 256},
		{avail: 1 << 40, maxTokens: -1},
		{avail: 64 << 20, maxTokens: -1},
		{avail: 1 << 10, wantErr: "not enough to score even a 2-token row"},
	} {
		s := &scorer{m: m, gm: m, window: m.Cfg.MaxPositionEmbeddings, avail: tc.avail}
		err := s.setLimit()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("avail %d: error %v, want %q", tc.avail, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("avail %d: %v", tc.avail, err)
		}
		if tc.maxTokens > 0 {
			if s.maxTokens != tc.maxTokens {
				t.Errorf("avail unknown: limit %d, want %d", s.maxTokens, tc.maxTokens)
			}
			continue
		}
		// The limit fits, one more token does not.
		if s.rowBytes(s.maxTokens) > tc.avail || (s.maxTokens < 1<<30 && s.rowBytes(s.maxTokens+1) <= tc.avail) {
			t.Errorf("avail %d: limit %d tokens needs %d bytes, one more %d", tc.avail, s.maxTokens, s.rowBytes(s.maxTokens), s.rowBytes(s.maxTokens+1))
		}
		if s.maxTokens <= 4*256 {
			t.Errorf("avail %d: limit %d is not beyond 4 × the window", tc.avail, s.maxTokens)
		}
		if err := s.limitError(s.maxTokens + 1); !strings.Contains(err.Error(), "of memory available") {
			t.Errorf("over the limit: %v", err)
		}
	}
}
