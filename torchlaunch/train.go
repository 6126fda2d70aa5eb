package torchlaunch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/internal/progress"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/train"
)

// JobFile is the job's file name inside the output folder.
const JobFile = "torch-job.json"

// Job is one training stage on the torch backend: the fields of
// train.FolderJob that the Python side honours, plus the launcher settings.
type Job struct {
	train.Hyper
	From, Data, Output string
	CheckpointEvery    int
	// SaveDType is the final model's dtype ("" = the input's torch_dtype).
	SaveDType string
	Force     bool
	Launch    Launch
	// Progress receives the progress bar; Log the launcher's and ranks'
	// other output. nil discards.
	Progress, Log io.Writer
	// Env is added to the launcher's environment (KEY=VALUE).
	Env []string
}

// jobJSON is the job file the Python side reads.
type jobJSON struct {
	From            string      `json:"from"`
	Data            string      `json:"data"`
	Output          string      `json:"output"`
	CheckpointEvery int         `json:"checkpoint_every"`
	SaveDType       string      `json:"save_dtype"`
	Force           bool        `json:"force"`
	Hyper           train.Hyper `json:"hyper"`
	Launch          Launch      `json:"launch"`
}

// metricLine is an LRMETRIC line: train.Metric plus the stage's steps.
type metricLine struct {
	train.Metric
	TotalSteps int `json:"total_steps"`
}

// resultLine is the LRRESULT line.
type resultLine struct {
	ResumedFrom int      `json:"resumed_from"`
	Steps       int      `json:"steps"`
	LastLoss    *float64 `json:"last_loss"`
	Tokens      int64    `json:"tokens"`
	ElapsedS    float64  `json:"elapsed_s"`
}

// Train runs (or resumes) the stage j on the torch backend and returns the
// same summary as the Go trainer.
func Train(ctx context.Context, j Job) (*train.Result, error) {
	if err := prepare(&j); err != nil {
		return nil, err
	}
	root, err := SourceRoot()
	if err != nil {
		return nil, err
	}
	py, err := Python(j.Launch.Python, root)
	if err != nil {
		return nil, err
	}
	jobPath, err := writeJob(j)
	if err != nil {
		return nil, err
	}
	if j.Launch.MasterPort == 0 && j.Launch.World() > 1 {
		if j.Launch.MasterPort, err = freePort(); err != nil {
			return nil, fmt.Errorf("torch backend: %w", err)
		}
	}
	args := Command(py, j.Launch, jobPath)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(append(os.Environ(), "PYTHONPATH="+pythonPath(root), "PYTHONUNBUFFERED=1"), j.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return supervise(ctx, cmd, j)
}

// prepare checks j, fills the defaults and resolves the step count the
// way the Go trainer does (0: one epoch).
func prepare(j *Job) error {
	if j.From == "" || j.Data == "" || j.Output == "" {
		return errors.New("torch backend: the input model folder, the data and the output folder are all required")
	}
	if err := j.Launch.Validate(); err != nil {
		return fmt.Errorf("torch backend: %w", err)
	}
	j.Launch = j.Launch.WithDefaults()
	for _, p := range []*string{&j.From, &j.Data, &j.Output} {
		a, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("torch backend: %w", err)
		}
		*p = a
	}
	if err := paths.CheckOutput("torch backend", j.Output, j.From, j.Data); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(j.From, "config.json")); err != nil {
		return fmt.Errorf("torch backend: model folder %s: %w", j.From, err)
	}
	ds, err := shards.Open(j.Data)
	if err != nil {
		return err
	}
	n := ds.Len()
	ds.Close()
	if n == 0 {
		return fmt.Errorf("training data %s has no rows", j.Data)
	}
	if j.Batch <= 0 || j.GradAccum <= 0 {
		return fmt.Errorf("torch backend: batch %d and grad-accum %d must be positive", j.Batch, j.GradAccum)
	}
	if j.Steps == 0 {
		j.Steps = (n + j.Batch*j.GradAccum - 1) / (j.Batch * j.GradAccum)
	}
	if err := j.ScheduleOf().Validate(); err != nil {
		return fmt.Errorf("torch backend: %w", err)
	}
	if err := j.AdamWConfig().Validate(); err != nil {
		return fmt.Errorf("torch backend: %w", err)
	}
	if j.SaveDType != "" && !train.SaveDTypeOK(j.SaveDType) {
		return fmt.Errorf("torch backend: save dtype %q: want float32, bfloat16 or float16", j.SaveDType)
	}
	return nil
}

func writeJob(j Job) (string, error) {
	if err := os.MkdirAll(j.Output, 0o755); err != nil {
		return "", fmt.Errorf("torch backend: %w", err)
	}
	l := j.Launch
	l.Python, l.Plan = "", nil // not part of what the ranks need
	b, err := json.MarshalIndent(jobJSON{From: j.From, Data: j.Data, Output: j.Output, CheckpointEvery: j.CheckpointEvery,
		SaveDType: j.SaveDType, Force: j.Force, Hyper: j.Hyper, Launch: l}, "", "  ")
	if err != nil {
		return "", fmt.Errorf("torch backend: job: %w", err)
	}
	path := filepath.Join(j.Output, JobFile)
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return "", fmt.Errorf("torch backend: %w", err)
	}
	return path, nil
}

// Command returns the command line that starts the ranks: python itself
// for one process, else torchrun (python -m torch.distributed.run) or
// accelerate launch with l's topology.
func Command(python string, l Launch, jobPath string) []string {
	l = l.WithDefaults()
	entry := []string{"-m", "longrecipe_torch", "train", "--job", jobPath}
	if l.World() == 1 && l.Launcher == "torchrun" {
		return append([]string{python}, entry...)
	}
	port := strconv.Itoa(l.MasterPort)
	if l.Launcher == "accelerate" {
		a := []string{python, "-m", "accelerate.commands.launch", "--multi_gpu",
			"--num_processes", strconv.Itoa(l.World()), "--num_machines", strconv.Itoa(l.NNodes),
			"--machine_rank", strconv.Itoa(l.NodeRank), "--main_process_ip", l.MasterAddr,
			"--main_process_port", port, "--module", "longrecipe_torch"}
		return append(a, entry[2:]...)
	}
	a := []string{python, "-m", "torch.distributed.run", "--nproc_per_node", strconv.Itoa(l.NprocPerNode),
		"--nnodes", strconv.Itoa(l.NNodes), "--node_rank", strconv.Itoa(l.NodeRank),
		"--master_addr", l.MasterAddr, "--master_port", port}
	return append(a, entry...)
}

func pythonPath(root string) string {
	p := filepath.Join(root, pkgDir)
	if old := os.Getenv("PYTHONPATH"); old != "" {
		p += string(os.PathListSeparator) + old
	}
	return p
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("no free port for the rendezvous: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// supervise runs cmd, streams its output and maps its end to a result or
// a one-line error.
func supervise(ctx context.Context, cmd *exec.Cmd, j Job) (*train.Result, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("torch backend: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("torch backend: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("torch backend: starting %s: %w", cmd.Path, err)
	}
	s := &stream{log: j.Log, progress: j.Progress}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.read(stdout) }()
	go func() { defer wg.Done(); s.read(stderr) }()
	done := make(chan error, 1)
	go func() { wg.Wait(); done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		stop(cmd, j.Launch.World())
		select {
		case werr = <-done:
		case <-time.After(3 * time.Minute):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			werr = <-done
		}
	}
	s.finish()
	if ctx.Err() != nil {
		return s.result(), fmt.Errorf("torch backend: interrupted (the ranks checkpoint at a step boundary; rerun the same command to resume): %w", ctx.Err())
	}
	if werr != nil {
		return s.result(), fmt.Errorf("torch backend: %s", s.failure(werr))
	}
	if s.res == nil {
		return nil, errors.New("torch backend: the ranks exited without a result line")
	}
	return s.result(), nil
}

// stop asks the ranks to checkpoint and exit: SIGINT to a lone process,
// SIGTERM to the launcher's whole process group (torchrun forwards it).
func stop(cmd *exec.Cmd, world int) {
	if world == 1 {
		cmd.Process.Signal(os.Interrupt)
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
}

// stream parses the ranks' output.
type stream struct {
	mu       sync.Mutex
	log      io.Writer
	progress io.Writer
	bar      *progress.Bar
	res      *resultLine
	errLines []string // LRERROR messages in order of arrival
	lastLine string   // last other non-empty line
}

func (s *stream) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		s.line(sc.Text())
	}
}

func (s *stream) line(l string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case strings.Contains(l, "LRMETRIC "):
		var m metricLine
		if json.Unmarshal([]byte(l[strings.Index(l, "LRMETRIC ")+9:]), &m) == nil {
			s.metric(m)
		}
		return
	case strings.Contains(l, "LRRESULT "):
		var r resultLine
		if json.Unmarshal([]byte(l[strings.Index(l, "LRRESULT ")+9:]), &r) == nil {
			s.res = &r
		}
		return
	case strings.Contains(l, "LRERROR "):
		s.errLines = append(s.errLines, strings.TrimSpace(l[strings.Index(l, "LRERROR ")+8:]))
	case strings.TrimSpace(l) != "":
		s.lastLine = strings.TrimSpace(l)
	}
	if s.log != nil {
		fmt.Fprintln(s.log, l)
	}
}

func (s *stream) metric(m metricLine) {
	if s.progress == nil {
		return
	}
	if s.bar == nil {
		s.bar = progress.New(s.progress, "train (torch)", int64(m.TotalSteps-m.Step+1), "steps")
	}
	s.bar.SetExtra(fmt.Sprintf("step %d/%d loss %.4f lr %.3g %.0f tok/s", m.Step, m.TotalSteps, m.Loss, m.LR, m.TokensPerS))
	s.bar.Add(1)
}

func (s *stream) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bar != nil {
		s.bar.Finish()
	}
}

func (s *stream) result() *train.Result {
	if s.res == nil {
		return nil
	}
	loss := math.NaN()
	if s.res.LastLoss != nil {
		loss = *s.res.LastLoss
	}
	return &train.Result{ResumedFrom: s.res.ResumedFrom, Steps: s.res.Steps, LastLoss: loss,
		Tokens: s.res.Tokens, Elapsed: time.Duration(s.res.ElapsedS * float64(time.Second))}
}

// failure names the rank that failed first and its message: the first
// LRERROR line that is not a rank being told to stop, else the last line
// of output.
func (s *stream) failure(werr error) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.errLines {
		if !strings.Contains(e, "interrupted at step") {
			return e
		}
	}
	if len(s.errLines) > 0 {
		return s.errLines[0]
	}
	if s.lastLine != "" {
		return fmt.Sprintf("%v; last output: %s", werr, s.lastLine)
	}
	return werr.Error()
}
