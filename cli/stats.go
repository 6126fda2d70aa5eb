package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/plot"
	"github.com/longrecipe/longrecipe/shards"
)

func init() {
	register(&command{
		name:    "stats",
		summary: "row, length and position statistics of prepared datasets (JSON and PNG)",
		run:     runStats,
	})
}

const statsUsage = "stats [--output F] [--png-dir D] [--buckets 64] [--target-length Lt] DIR|FILE.jsonl [...]"

// statsReport is the JSON stats writes.
type statsReport struct {
	Datasets []*shards.Stats `json:"datasets"`
}

func runStats(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "stats", statsUsage,
		"Reads each dataset (a prepare output folder, checked against its CRCs, or a JSONL file of rows) and reports\n"+
			"rows, tokens, a row-length histogram, the coverage of [0, Lt) by positions (histogram over buckets,\n"+
			"and the fraction of positions used by any row), the mean gap between consecutive positions and the\n"+
			"mean contiguous segment length. JSON goes to stdout (or --output); with --png-dir, coverage.png,\n"+
			"lengths.png and segments.png compare the datasets.")
	output := fs.String("output", "-", "JSON output file, - for stdout")
	force := fs.Bool("force", false, "replace an existing output file")
	pngDir := fs.String("png-dir", "", "write PNG charts into this folder")
	buckets := fs.Int("buckets", 64, "histogram buckets")
	ltS := fs.String("target-length", "", "Lt for inputs without a manifest (default: largest position + 1)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErrorf("give at least one dataset")
	}
	if *buckets <= 0 {
		return usageErrorf("--buckets %d must be positive", *buckets)
	}
	ltFlag := 0
	if *ltS != "" {
		v, err := parseLength(*ltS)
		if err != nil {
			return usageErrorf("--target-length: %v", err)
		}
		ltFlag = v
	}
	if err := checkWrite("stats", *output, *force, fs.Args()...); err != nil {
		return err
	}
	var rep statsReport
	for _, path := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, err := datasetStats(path, ltFlag, *buckets)
		if err != nil {
			return err
		}
		rep.Datasets = append(rep.Datasets, s)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode stats: %w", err)
	}
	b = append(b, '\n')
	if *output == "-" {
		if _, err := env.Stdout.Write(b); err != nil {
			return fmt.Errorf("write stats: %w", err)
		}
	} else if err := atomicfile.WriteFile(*output, b); err != nil {
		return err
	}
	if *pngDir != "" {
		if err := statsCharts(*pngDir, rep.Datasets); err != nil {
			return err
		}
	}
	return nil
}

func datasetStats(path string, ltFlag, buckets int) (*shards.Stats, error) {
	d, err := shards.Open(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	lt, ls, method := ltFlag, 0, ""
	if sd, ok := d.(*shards.ShardDataset); ok {
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
			return nil, fmt.Errorf("%s: no rows, and no --target-length", path)
		}
	}
	s, err := shards.ComputeStats(d, lt, buckets)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Path, s.Method, s.TrainLength = path, method, ls
	return s, nil
}

// statsCharts draws the comparison charts.
func statsCharts(dir string, all []*shards.Stats) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create PNG folder: %w", err)
	}
	name := func(s *shards.Stats) string {
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
