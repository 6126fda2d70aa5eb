package shards

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPathStats: Lt is the given one, else the largest position + 1; a
// file with no rows and no Lt is an error; the charts are written.
func TestPathStats(t *testing.T) {
	dir := t.TempDir()
	rows := filepath.Join(dir, "rows.jsonl")
	if err := os.WriteFile(rows, []byte(`{"input_ids": [1, 2, 3], "position_ids": [0, 4, 9]}`+"\n"+`{"input_ids": [1, 2], "position_ids": [0, 1]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ lt, want int }{{0, 10}, {16, 16}} {
		s, err := PathStats(rows, c.lt, 4)
		if err != nil {
			t.Fatal(err)
		}
		if s.TargetLength != c.want || s.Rows != 2 || s.Tokens != 5 || s.Path != rows {
			t.Fatalf("lt %d: stats %+v, want Lt %d, 2 rows, 5 tokens", c.lt, s, c.want)
		}
	}
	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PathStats(empty, 0, 4); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Fatalf("empty file without Lt: %v", err)
	}
	s, err := PathStats(rows, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, "png")
	if err := WriteCharts(png, []*Stats{s, s}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"coverage.png", "lengths.png", "segments.png"} {
		if st, err := os.Stat(filepath.Join(png, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
