package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/longrecipe/longrecipe/model"
	"io"
	"math"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/lines"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/internal/progress"
)

func init() {
	register(&command{
		name:    "score",
		summary: "per-token log-probabilities of token rows under a model",
		run:     runScore,
	})
}

const scoreUsage = "score --model DIR --input F.jsonl --output F.jsonl [--max-tokens N] [--backend go|torch [--device cpu|cuda|auto]] [--force]"

// scoreRow is one input line of score.
type scoreRow struct {
	InputIDs    []int32 `json:"input_ids"`
	PositionIDs []int32 `json:"position_ids"`
}

// scoreBytesPerToken bounds the JSON text of one token of a row (an id and
// a position of up to 10 digits each, with separators), so a line longer
// than maxTokens·scoreBytesPerToken+scoreLineSlack cannot be a row within
// the limit and is refused before it is read into memory.
const (
	scoreBytesPerToken = 24
	scoreLineSlack     = 1 << 12
)

func runScore(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "score", scoreUsage,
		"Reads JSONL rows {\"input_ids\": [...], \"position_ids\": [...]} (position_ids optional,\n"+
			"default 0..T-1; blank lines are skipped) and writes one row {\"logprobs\": [...]} per input\n"+
			"row, in order: the T-1 values log p(x[t+1] | x[0..t]). \"-\" means stdin / stdout.\n"+
			"A row longer than --max-tokens (default: the longest whose scoring fits in the available\n"+
			"memory) is refused, naming its line, before it is read into memory.")
	modelDir := fs.String("model", "", "model folder (config.json + safetensors)")
	input := fs.String("input", "", "input JSONL file, or - for stdin")
	output := fs.String("output", "", "output JSONL file, or - for stdout")
	maxTokens := fs.Int("max-tokens", 0, "longest row accepted, in tokens (0: the longest whose scoring fits in the available memory)")
	force := fs.Bool("force", false, "replace an existing output file")
	prec := precisionFlag(fs)
	bk := addBackendFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if *modelDir == "" || *input == "" || *output == "" {
		return usageErrorf("--model, --input and --output are required")
	}
	if err := bk.check(); err != nil {
		return err
	}
	if *maxTokens < 0 {
		return usageErrorf("--max-tokens %d: want >= 0", *maxTokens)
	}
	if err := checkWrite("score", *output, *force, *input, *modelDir); err != nil {
		return err
	}
	var m logProber
	var gm *model.Model // the Go model (nil on the torch backend), for the memory bound
	var window int
	if *bk.backend == "torch" {
		ts, w, err := bk.torchScorer(ctx, *modelDir)
		if err != nil {
			return err
		}
		defer ts.Close()
		m, window = ts, w
	} else {
		var err error
		if gm, err = loadModel(ctx, *modelDir, *prec); err != nil {
			return err
		}
		m, window = gm, gm.Cfg.MaxPositionEmbeddings
	}
	sc := &scorer{m: m, gm: gm, window: window, maxTokens: *maxTokens, avail: hf.MemAvailable()}
	if err := sc.setLimit(); err != nil {
		return err
	}
	in, name, total, closeIn, err := openInput(env, *input)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	defer closeIn()
	bar := progress.New(env.Stderr, "score", total, "B")
	defer bar.Finish()
	sc.name, sc.bar = name, bar
	if *output == "-" {
		return sc.rows(ctx, in, env.Stdout)
	}
	f, err := atomicfile.Create(*output)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := sc.rows(ctx, in, f); err != nil {
		return err
	}
	return f.Commit()
}

// openInput opens an input file (a regular file: a FIFO or device is
// refused before opening) or stdin for "-", and returns the reader, its
// name for messages, its size (0 when unknown) and a close function.
func openInput(env *Env, input string) (io.Reader, string, int64, func(), error) {
	if input == "-" {
		return env.Stdin, "stdin", 0, func() {}, nil
	}
	f, err := paths.OpenRegular(input)
	if err != nil {
		return nil, "", 0, nil, fmt.Errorf("input: %w", err)
	}
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return f, input, size, func() { f.Close() }, nil
}

// logProber gives next-token log-probabilities (the Go model or the torch
// worker).
type logProber interface {
	LogProbs(tokens, positions []int32) ([]float32, error)
}

// scorer scores the rows of one input.
type scorer struct {
	m         logProber
	gm        *model.Model // the Go model behind m; nil for the torch worker
	window    int          // the model's max_position_embeddings
	name      string       // input name, for messages
	maxTokens int          // longest row (--max-tokens, or the memory bound)
	// avail is the memory available for scoring (0: unknown); byMemory
	// says that maxTokens is the memory bound, not --max-tokens.
	avail    int64
	byMemory bool
	bar      *progress.Bar
}

// Per token of a row, besides the model's pass (model.InferBytes): the
// input line, the parsed ids and positions, and the output values.
const scoreRowBytesPerToken = scoreBytesPerToken + 3*4

// limitName says where maxTokens comes from, for messages.
func (s *scorer) limitName() string {
	if s.byMemory {
		return fmt.Sprintf("the most whose scoring fits in the %s of memory available", humanBytes(s.avail))
	}
	return fmt.Sprintf("--max-tokens %d", s.maxTokens)
}

// rowBytes estimates the memory scoring a row of n tokens needs.
func (s *scorer) rowBytes(n int) int64 {
	return s.gm.InferBytes(n) + int64(n)*scoreRowBytesPerToken
}

// setLimit fills maxTokens when --max-tokens was not given: the longest
// row whose scoring (rowBytes, linear in its length) fits in the
// available memory, so a base model can be scored well beyond its window.
// Where the available memory is unknown, 4 × the window. The torch
// worker prefills in chunks on its own device, whose memory is its limit
// (an out-of-memory there is the worker's one-line error), so rows for it
// are capped only by the longest position a config may hold.
func (s *scorer) setLimit() error {
	if s.maxTokens > 0 {
		return nil
	}
	if s.gm == nil {
		s.maxTokens = hf.MaxPositions
		return nil
	}
	if s.avail <= 0 {
		s.maxTokens = 4 * s.window
		return nil
	}
	fixed, per := s.rowBytes(0), s.rowBytes(1)-s.rowBytes(0)
	n := (s.avail - fixed) / max(per, 1)
	if n < 2 {
		return fmt.Errorf("score: %s of memory available, not enough to score even a 2-token row with this model (%s + %s per token)",
			humanBytes(s.avail), humanBytes(fixed), humanBytes(per))
	}
	s.maxTokens, s.byMemory = int(min(n, hf.MaxPositions)), true
	return nil
}

// limitError describes a row of n tokens over the limit.
func (s *scorer) limitError(n int) error {
	if s.byMemory {
		return fmt.Errorf("%d tokens: scoring them needs about %s, more than the %s of memory available (--max-tokens sets the limit)",
			n, humanBytes(s.rowBytes(n)), humanBytes(s.avail))
	}
	return fmt.Errorf("%d tokens, over --max-tokens %d", n, s.maxTokens)
}

// rows scores every row of in and writes the results to w. Errors about
// the input name the input file and line; an interrupted run returns the
// interruption, never a short output that looks complete.
func (s *scorer) rows(ctx context.Context, in io.Reader, w io.Writer) error {
	lr := lines.New(in, s.name, s.maxTokens*scoreBytesPerToken+scoreLineSlack)
	bw := bufio.NewWriter(w)
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		data, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var tl *lines.TooLongError
		if errors.As(err, &tl) {
			return fmt.Errorf("%w (a row of more than %d tokens, %s)", err, s.maxTokens, s.limitName())
		}
		if err != nil {
			return err
		}
		s.bar.Add(int64(len(data)) + 1)
		out, err := s.row(bytes.TrimSpace(data))
		if err != nil {
			return fmt.Errorf("%s line %d: %w", s.name, lr.Line(), err)
		}
		if out == nil {
			continue
		}
		if _, err := bw.Write(out); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// row scores one trimmed input line and returns its output line (nil for a
// blank line).
func (s *scorer) row(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var row scoreRow
	if err := json.Unmarshal(data, &row); err != nil {
		return nil, err
	}
	if len(row.InputIDs) == 0 {
		return nil, fmt.Errorf("input_ids is missing or empty")
	}
	if len(row.InputIDs) > s.maxTokens {
		return nil, s.limitError(len(row.InputIDs))
	}
	lp, err := s.m.LogProbs(row.InputIDs, row.PositionIDs)
	if err != nil {
		return nil, err
	}
	for t, v := range lp {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("log-probability of token %d is %v (the model has NaN or infinite weights?)", t+1, v)
		}
	}
	out, err := json.Marshal(struct {
		LogProbs []float32 `json:"logprobs"`
	}{lp})
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
