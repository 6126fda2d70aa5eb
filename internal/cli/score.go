package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/progress"
	"github.com/longrecipe/longrecipe/model"
)

func init() {
	register(&command{
		name:    "score",
		summary: "per-token log-probabilities of token rows under a model",
		run:     runScore,
	})
}

const scoreUsage = "score --model DIR --input F.jsonl --output F.jsonl"

// scoreRow is one input line of score.
type scoreRow struct {
	InputIDs    []int32 `json:"input_ids"`
	PositionIDs []int32 `json:"position_ids"`
}

func runScore(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "score", scoreUsage,
		"Reads JSONL rows {\"input_ids\": [...], \"position_ids\": [...]} (position_ids optional,\n"+
			"default 0..T-1; blank lines are skipped) and writes one row {\"logprobs\": [...]} per input\n"+
			"row, in order: the T-1 values log p(x[t+1] | x[0..t]). \"-\" means stdin / stdout.")
	modelDir := fs.String("model", "", "model folder (config.json + safetensors)")
	input := fs.String("input", "", "input JSONL file, or - for stdin")
	output := fs.String("output", "", "output JSONL file, or - for stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if *modelDir == "" || *input == "" || *output == "" {
		return usageErrorf("--model, --input and --output are required")
	}
	m, err := model.Load(*modelDir)
	if err != nil {
		return err
	}
	var in io.Reader = env.Stdin
	var total int64
	if *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			total = st.Size()
		}
		in = f
	}
	name := *input
	if name == "-" {
		name = "stdin"
	}
	bar := progress.New(env.Stderr, "score", total, "B")
	defer bar.Finish()
	write := func(w io.Writer) error { return scoreRows(ctx, m, in, name, w, bar) }
	if *output == "-" {
		return write(env.Stdout)
	}
	return atomicfile.Write(*output, write)
}

// scoreRows scores every row of in and writes the results to w.
func scoreRows(ctx context.Context, m *model.Model, in io.Reader, name string, w io.Writer, bar *progress.Bar) error {
	r := bufio.NewReaderSize(in, 1<<20)
	bw := bufio.NewWriter(w)
	for line := 1; ; line++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := r.ReadBytes('\n')
		if len(data) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s line %d: %w", name, line, err)
		}
		bar.Add(int64(len(data)))
		data = bytes.TrimSpace(data)
		if len(data) == 0 {
			continue
		}
		var row scoreRow
		if err := json.Unmarshal(data, &row); err != nil {
			return fmt.Errorf("%s line %d: %w", name, line, err)
		}
		if len(row.InputIDs) == 0 {
			return fmt.Errorf("%s line %d: input_ids is missing or empty", name, line)
		}
		lp, err := m.LogProbs(row.InputIDs, row.PositionIDs)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", name, line, err)
		}
		out, err := json.Marshal(struct {
			LogProbs []float32 `json:"logprobs"`
		}{lp})
		if err != nil {
			return fmt.Errorf("%s line %d: %w", name, line, err)
		}
		bw.Write(out)
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}
