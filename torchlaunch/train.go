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
	"sort"
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
	side, err := PythonSide()
	if err != nil {
		return nil, err
	}
	py, err := Python(j.Launch.Python, side.Dir)
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
	cmd.Env = append(append(os.Environ(), "PYTHONPATH="+pythonPath(side.Dir), "PYTHONUNBUFFERED=1"), j.Env...)
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
	if err := CheckDevices(j.Launch); err != nil {
		return fmt.Errorf("torch backend: %w", err)
	}
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

func pythonPath(dir string) string {
	p := dir
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
	s := &stream{log: j.Log, progress: j.Progress, failed: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.read(stdout) }()
	go func() { defer wg.Done(); s.read(stderr) }()
	done := make(chan error, 1)
	go func() { wg.Wait(); done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-s.failed:
		// A rank failed: the others may sit in a collective that only the
		// collective timeout would end. Give them a moment, then end them.
		werr = waitOrKill(cmd, done, failedGrace)
	case <-ctx.Done():
		stopRanks(cmd.Process.Pid, j.Launch.World())
		werr = waitOrKill(cmd, done, s.grace())
	}
	s.finish()
	s.reportRSS()
	if ctx.Err() != nil {
		return s.result(), fmt.Errorf("torch backend: interrupted (the ranks checkpoint before their next row; rerun the same command to resume): %w", ctx.Err())
	}
	if werr != nil {
		return s.result(), fmt.Errorf("torch backend: %s", s.failure(werr))
	}
	if s.res == nil {
		return nil, errors.New("torch backend: the ranks exited without a result line")
	}
	return s.result(), nil
}

// failedGrace is how long the other ranks get to exit after one failed.
const failedGrace = 3 * time.Second

// waitOrKill waits for the launcher to end, at most d, then kills its
// whole process group and waits for it.
func waitOrKill(cmd *exec.Cmd, done <-chan error, d time.Duration) error {
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		kill(cmd.Process.Pid)
		return <-done
	}
}

// kill ends the launcher's process group and the ranks, which torchrun
// starts in sessions of their own.
func kill(leader int) {
	for _, pid := range children(leader) {
		syscall.Kill(-pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	syscall.Kill(-leader, syscall.SIGKILL)
}

// stopRanks asks the ranks to checkpoint and exit: SIGTERM to every child
// of the launcher (a lone python is itself the rank, as is the launcher of
// a one-process world). The launcher is left alone: torchrun would kill
// its ranks 30 s after its own SIGTERM, before a long step could
// checkpoint; it exits by itself when they have.
func stopRanks(leader, world int) {
	var ranks []int
	if world > 1 {
		ranks = children(leader)
	}
	if len(ranks) == 0 {
		syscall.Kill(leader, syscall.SIGTERM)
		return
	}
	for _, pid := range ranks {
		syscall.Kill(pid, syscall.SIGTERM)
	}
}

// children lists the processes whose parent is ppid (from /proc; none
// where /proc is missing).
func children(ppid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == ppid {
			continue
		}
		b, err := paths.ReadRegular(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split
		// after its closing parenthesis.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
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
	cause    string   // first line that names an exception (a traceback's first cause)
	// failed is closed at the first LRERROR that is not a rank being told
	// to stop.
	failed     chan struct{}
	failedOnce sync.Once
	maxStep    time.Duration // the longest step seen (from LRMETRIC)
	rss        map[int]float64
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
	case strings.Contains(l, "LRRSS "):
		var r struct {
			Rank int     `json:"rank"`
			MiB  float64 `json:"peak_rss_mib"`
		}
		if json.Unmarshal([]byte(l[strings.Index(l, "LRRSS ")+6:]), &r) == nil {
			if s.rss == nil {
				s.rss = map[int]float64{}
			}
			s.rss[r.Rank] = r.MiB
		}
		return
	case strings.Contains(l, "LRERROR "):
		e := strings.TrimSpace(l[strings.Index(l, "LRERROR ")+8:])
		s.errLines = append(s.errLines, e)
		if !strings.Contains(e, "interrupted at step") {
			s.failedOnce.Do(func() { close(s.failed) })
		}
	case strings.TrimSpace(l) != "":
		s.lastLine = strings.TrimSpace(l)
		if s.cause == "" && isExceptionLine(s.lastLine) {
			s.cause = s.lastLine
		}
	}
	if s.log != nil {
		fmt.Fprintln(s.log, l)
	}
}

// isExceptionLine tells a traceback's "SomeError: message" line, leaving
// out the launcher's own wrappers (ChildFailedError, SignalException).
func isExceptionLine(l string) bool {
	name, _, _ := strings.Cut(l, ":")
	if name == "" || strings.ContainsAny(name, " \t/'\"()[]") || strings.Contains(name, "ChildFailedError") || strings.Contains(name, "SignalException") || strings.Contains(name, "CheckpointException") {
		return false
	}
	for _, suffix := range []string{"Error", "Exception", "Interrupt", "Exit", "Warning"} {
		if strings.HasSuffix(name, suffix) {
			return suffix != "Warning"
		}
	}
	return false
}

// grace is how long the ranks get to checkpoint after a stop request: two
// minutes plus three of the longest steps seen (a stop is taken before the
// next row, so one row and a checkpoint is what they need).
func (s *stream) grace() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return 2*time.Minute + 3*s.maxStep
}

// reportRSS writes each rank's peak resident memory to the log.
func (s *stream) reportRSS() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil || len(s.rss) == 0 {
		return
	}
	ranks := make([]int, 0, len(s.rss))
	for r := range s.rss {
		ranks = append(ranks, r)
	}
	sort.Ints(ranks)
	parts := make([]string, len(ranks))
	for i, r := range ranks {
		parts[i] = fmt.Sprintf("rank %d %.0f MiB", r, s.rss[r])
	}
	fmt.Fprintf(s.log, "torch backend: peak host memory (RSS) per rank: %s\n", strings.Join(parts, ", "))
}

func (s *stream) metric(m metricLine) {
	if m.TokensPerS > 0 {
		if d := time.Duration(float64(m.Tokens) / m.TokensPerS * float64(time.Second)); d > s.maxStep {
			s.maxStep = d
		}
	}
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
	if s.cause != "" {
		return fmt.Sprintf("%v: %s", werr, s.cause)
	}
	if s.lastLine != "" {
		return fmt.Sprintf("%v; last output: %s", werr, s.lastLine)
	}
	return werr.Error()
}
