package shards

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/plot"
)

// PathStats opens the dataset at path (Open; a shard folder is checked
// against its CRCs first) and computes its Stats. Lt is lt when given,
// else the manifest's target length, else the largest position + 1.
func PathStats(path string, lt, buckets int) (*Stats, error) {
	d, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ls, method := 0, ""
	if sd, ok := d.(*ShardDataset); ok {
		if err := sd.Verify(); err != nil {
			return nil, err
		}
		m := sd.Manifest()
		method, ls = m.Method, m.TrainLength
		if lt == 0 {
			lt = m.TargetLength
		}
	}
	if lt == 0 {
		for i := range d.Len() {
			r, err := d.Row(i)
			if err != nil {
				return nil, err
			}
			if n := len(r.PositionIDs); n > 0 {
				lt = max(lt, int(r.PositionIDs[n-1])+1)
			}
		}
		if lt == 0 {
			return nil, fmt.Errorf("%s: no rows, and no target length given", path)
		}
	}
	s, err := ComputeStats(d, lt, buckets)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Path, s.Method, s.TrainLength = path, method, ls
	return s, nil
}

// WriteCharts draws the comparison of datasets into dir: coverage.png
// (position coverage over [0, Lt)), lengths.png (row lengths) and
// segments.png (mean contiguous segment and gap).
func WriteCharts(dir string, all []*Stats) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create PNG folder: %w", err)
	}
	name := func(s *Stats) string {
		if s.Method != "" {
			return s.Method + " (" + filepath.Base(strings.TrimSuffix(s.Path, "/")) + ")"
		}
		return filepath.Base(s.Path)
	}
	cov := plot.LineChart{Title: "Position coverage", XLabel: "position (fraction of Lt)", YLabel: "fraction of positions used per row"}
	lens := plot.LineChart{Title: "Row lengths", XLabel: "row length (tokens)", YLabel: "rows"}
	seg := plot.BarChart{Title: "Contiguous segments and gaps", YLabel: "tokens", Categories: []string{"mean segment length", "mean gap"}}
	for _, s := range all {
		var cs, ls plot.Series
		cs.Name, ls.Name = name(s), name(s)
		for _, b := range s.Coverage {
			cs.X = append(cs.X, (float64(b.Lo)+float64(b.Hi))/2/float64(s.TargetLength))
			cs.Y = append(cs.Y, b.Value)
		}
		for _, b := range s.Lengths {
			ls.X = append(ls.X, (float64(b.Lo)+float64(b.Hi-1))/2)
			ls.Y = append(ls.Y, float64(b.Count))
		}
		cov.Series = append(cov.Series, cs)
		lens.Series = append(lens.Series, ls)
		seg.Series = append(seg.Series, plot.Series{Name: name(s), Y: []float64{s.MeanSegment, s.MeanGap}})
	}
	if err := cov.SavePNG(filepath.Join(dir, "coverage.png")); err != nil {
		return err
	}
	if err := lens.SavePNG(filepath.Join(dir, "lengths.png")); err != nil {
		return err
	}
	return seg.SavePNG(filepath.Join(dir, "segments.png"))
}
