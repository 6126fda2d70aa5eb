package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
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
		s, err := shards.PathStats(path, ltFlag, *buckets)
		if err != nil {
			return err
		}
		rep.Datasets = append(rep.Datasets, s)
	}
	if err := writeStatsJSON(env, *output, rep); err != nil {
		return err
	}
	if *pngDir != "" {
		if err := shards.WriteCharts(*pngDir, rep.Datasets); err != nil {
			return err
		}
	}
	return nil
}

// writeStatsJSON writes rep as indented JSON to output (- for stdout;
// a file is written atomically).
func writeStatsJSON(env *Env, output string, rep statsReport) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode stats: %w", err)
	}
	b = append(b, '\n')
	if output == "-" {
		if _, err := env.Stdout.Write(b); err != nil {
			return fmt.Errorf("write stats: %w", err)
		}
	} else if err := atomicfile.WriteFile(output, b); err != nil {
		return err
	}
	return nil
}
