package torchlaunch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ScorerOptions configure a scorer worker.
type ScorerOptions struct {
	Python string // interpreter; "" finds one as Python does
	Device string // cpu, cuda or auto ("" is auto)
	DType  string // float32 or bfloat16 ("" is float32)
	Chunk  int    // prefill chunk in tokens (0: the worker's default)
}

// Scorer is a running scaleout/longrecipe_torch/worker.py serving one
// model over JSON lines (the protocol is in the worker's docstring). It
// satisfies eval.Scorer. Calls are serialised; Close stops the worker.
type Scorer struct {
	model string
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	mu    sync.Mutex
	dead  error
	stop  func() bool // unregisters the context watch
	tail  *tailBuffer
	once  sync.Once
	werr  error
}

// wait waits for the worker once and returns its exit error.
func (s *Scorer) wait() error {
	s.once.Do(func() { s.werr = s.cmd.Wait() })
	return s.werr
}

// StartScorer starts the worker for the model folder dir and waits for it
// to load the model. The worker runs in its own process group, killed when
// ctx is cancelled or Close is called. Errors name the model and the cause
// in one line.
func StartScorer(ctx context.Context, dir string, o ScorerOptions) (*Scorer, error) {
	side, err := PythonSide()
	if err != nil {
		return nil, err
	}
	py, err := Python(o.Python, side.Dir)
	if err != nil {
		return nil, err
	}
	args := []string{"-m", "longrecipe_torch.worker", "--model", dir, "--device", or(o.Device, "auto"), "--dtype", or(o.DType, "float32")}
	if o.Chunk > 0 {
		args = append(args, "--chunk", strconv.Itoa(o.Chunk))
	}
	cmd := exec.Command(py, args...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+pythonPath(side.Dir))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	tail := &tailBuffer{max: 4096}
	cmd.Stderr = tail
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("torch scorer for %s: start %s: %w", dir, py, err)
	}
	s := &Scorer{model: dir, cmd: cmd, in: in, out: bufio.NewReaderSize(outPipe, 1<<20), tail: tail}
	s.stop = context.AfterFunc(ctx, s.kill)
	var ready struct {
		Ready bool   `json:"ready"`
		Error string `json:"error"`
	}
	if err := s.read(&ready); err != nil {
		err = s.fail(ctx, err)
		s.Close()
		return nil, err
	}
	if !ready.Ready {
		s.Close()
		return nil, fmt.Errorf("torch scorer for %s: %s", dir, or(ready.Error, "the worker did not report ready"))
	}
	return s, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// kill ends the worker's whole process group.
func (s *Scorer) kill() {
	if p := s.cmd.Process; p != nil {
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
}

// read decodes the worker's next output line into v.
func (s *Scorer) read(v any) error {
	line, err := s.out.ReadBytes('\n')
	if err != nil {
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("bad worker line %.80q: %w", line, err)
	}
	return nil
}

// fail turns a broken pipe into a one-line error naming the model and, for
// a worker that exited, its last stderr line.
func (s *Scorer) fail(ctx context.Context, err error) error {
	if ctx != nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
		werr := s.wait()
		msg := "the worker exited"
		if werr != nil {
			msg += " (" + werr.Error() + ")"
		}
		if l := lastLine(s.tail.String()); l != "" {
			msg += ": " + l
		}
		return fmt.Errorf("torch scorer for %s: %s", s.model, msg)
	}
	return fmt.Errorf("torch scorer for %s: %w", s.model, err)
}

// LogProbs returns log p(tokens[t+1] | tokens[..t]) for t < len(tokens)-1,
// at the given positions (nil: 0..len-1), computed by the worker.
func (s *Scorer) LogProbs(tokens, positions []int32) ([]float32, error) {
	return s.LogProbsChunked(tokens, positions, 0)
}

// LogProbsChunked is LogProbs with the prompt prefilled in chunks of chunk
// tokens (0: the worker's --chunk).
func (s *Scorer) LogProbsChunked(tokens, positions []int32, chunk int) ([]float32, error) {
	var resp struct {
		LogProbs []float32 `json:"logprobs"`
	}
	err := s.call(struct {
		Op        string  `json:"op"`
		Tokens    []int32 `json:"tokens"`
		Positions []int32 `json:"positions,omitempty"`
		Chunk     int     `json:"chunk,omitempty"`
	}{"logprobs", tokens, positions, chunk}, &resp)
	if err != nil {
		return nil, err
	}
	if len(resp.LogProbs) != max(0, len(tokens)-1) {
		return nil, fmt.Errorf("torch scorer for %s: %d log-probabilities for %d tokens", s.model, len(resp.LogProbs), len(tokens))
	}
	return resp.LogProbs, nil
}

// ContinuationLogProbs scores each continuation after prompt, the prompt
// prefilled once (eval.ContinuationScorer).
func (s *Scorer) ContinuationLogProbs(prompt []int32, conts [][]int32) ([][]float32, error) {
	var resp struct {
		LogProbs [][]float32 `json:"logprobs"`
	}
	err := s.call(struct {
		Op     string    `json:"op"`
		Prompt []int32   `json:"prompt"`
		Conts  [][]int32 `json:"conts"`
	}{"continuations", prompt, conts}, &resp)
	if err != nil {
		return nil, err
	}
	if len(resp.LogProbs) != len(conts) {
		return nil, fmt.Errorf("torch scorer for %s: %d scored continuations for %d", s.model, len(resp.LogProbs), len(conts))
	}
	return resp.LogProbs, nil
}

// Generate returns the greedy continuation of prompt, at most maxNew
// tokens, ending before the first id for which stop is true (the worker
// generates maxNew tokens; the rest is cut here) (eval.TokenModel).
func (s *Scorer) Generate(prompt []int32, maxNew int, stop func(id int32) bool) ([]int32, error) {
	var resp struct {
		Tokens []int32 `json:"tokens"`
	}
	err := s.call(struct {
		Op     string  `json:"op"`
		Tokens []int32 `json:"tokens"`
		MaxNew int     `json:"max_new"`
	}{"generate", prompt, maxNew}, &resp)
	if err != nil {
		return nil, err
	}
	for i, id := range resp.Tokens {
		if stop != nil && stop(id) {
			return resp.Tokens[:i], nil
		}
	}
	return resp.Tokens, nil
}

// call sends one request and decodes its answer into resp; an answer
// with an error field is returned as an error naming the model.
func (s *Scorer) call(req, resp any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead != nil {
		return s.dead
	}
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if _, err = s.in.Write(append(data, '\n')); err == nil {
		err = s.read(&raw)
	}
	if err != nil {
		s.dead = s.fail(nil, err)
		return s.dead
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("torch scorer for %s: %w", s.model, err)
	}
	if e.Error != "" {
		return fmt.Errorf("torch scorer for %s: %s", s.model, e.Error)
	}
	return json.Unmarshal(raw, resp)
}

// Close ends the worker (closing its stdin, then killing its process
// group) and waits for it.
func (s *Scorer) Close() error {
	s.stop()
	s.in.Close()
	s.kill()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead == nil {
		s.dead = fmt.Errorf("torch scorer for %s: closed", s.model)
	}
	_ = s.wait()
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
