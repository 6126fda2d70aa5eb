//go:build unix

package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/internal/lock"
)

const cliHelperEnv = "LONGRECIPE_CLI_HELPER_ARGS"

// TestCLIHelperProcess is not a test: it is the body of the subprocesses
// of the interrupt tests (Main with the real stdin), and returns at once in
// a normal run.
func TestCLIHelperProcess(t *testing.T) {
	args := os.Getenv(cliHelperEnv)
	if args == "" {
		return
	}
	os.Exit(Main(strings.Split(args, "\x1f"), os.Stdin, os.Stdout, os.Stderr))
}

// readingStdin reports whether a thread of process pid is blocked in
// read(0, ...) (Linux: /proc/PID/task/*/syscall starts "0 0x0 ", the read
// syscall on fd 0); ok is false when that cannot be read.
func readingStdin(pid int) (reading, ok bool) {
	tasks, err := filepath.Glob("/proc/" + itoa(pid) + "/task/*/syscall")
	if err != nil || len(tasks) == 0 {
		return false, false
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		ok = true
		if strings.HasPrefix(string(b), "0 0x0 ") {
			return true, true
		}
	}
	return false, ok
}

// TestScoreSIGTERMDuringBlockedRead is the regression test of F6: "sleep 20
// | longrecipe score --input -" then SIGTERM. The command used to swallow
// the signal, wait for the end of the input and exit 0 with an empty
// output; it must now exit 143 promptly and leave no output file.
func TestScoreSIGTERMDuringBlockedRead(t *testing.T) {
	dir := initTiny(t, 50, "f32")
	out := filepath.Join(t.TempDir(), "out.jsonl")
	pr, pw, err := os.Pipe() // stdin that stays open and idle, like sleep 20
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$")
	cmd.Env = append(os.Environ(), cliHelperEnv+"="+strings.Join([]string{"score", "--model", dir, "--input", "-", "--output", out}, "\x1f"))
	cmd.Stdin = pr
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait until it blocks reading stdin (a generous bound for a busy
	// machine; a fixed pause where /proc cannot tell).
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		reading, ok := readingStdin(cmd.Process.Pid)
		if !ok {
			time.Sleep(3 * time.Second)
			break
		}
		if reading {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never blocked reading stdin\n%s", stderr.String())
		}
	}
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 143 {
			t.Errorf("exit %v, want status 143\n%s", err, stderr.String())
		}
		t.Logf("stopped %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running 30 s after SIGTERM\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted by terminated") {
		t.Errorf("stderr %q", stderr.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an interrupted score left an output file")
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*")); len(m) > 0 {
		t.Errorf("left behind: %v", m)
	}
}

// TestSecondSignalExitsAtOnce: the first signal cancels the context, the
// second ends the process (exitNow) with 128+signal, releasing the output
// locks first (deferred releases do not run on exit).
func TestSecondSignalExitsAtOnce(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if _, err := lock.Take(out, "test", nil); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	codes := []int{}
	exited := make(chan struct{}, 1)
	exitNow = func(code int) {
		mu.Lock()
		codes = append(codes, code)
		mu.Unlock()
		exited <- struct{}{}
	}
	defer func() { exitNow = os.Exit }()
	var stderr syncBuffer
	ctx, stop := interruptContext(&stderr, "test")
	defer stop()
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("first signal did not cancel the context")
	}
	if sig := interruptedBy(ctx); sig != os.Interrupt {
		t.Errorf("cause %v", context.Cause(ctx))
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("second signal did not exit")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(codes) != 1 || codes[0] != 143 {
		t.Errorf("exit codes %v, want [143]", codes)
	}
	if p, _ := lock.Path(out); fileExists(p) {
		t.Error("the second signal left the output's lock behind")
	}
	if s := stderr.String(); !strings.Contains(s, "send it again to exit at once") || !strings.Contains(s, "again: exiting now") {
		t.Errorf("stderr %q", s)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInterruptibleReader: a read blocked on an idle pipe returns when the
// context is cancelled; data read before passes through unchanged.
func TestInterruptibleReader(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	r := interruptibleReader(ctx, pr)
	go pw.Write([]byte("hello"))
	b := make([]byte, 10)
	if n, err := r.Read(b); n != 5 || err != nil || string(b[:5]) != "hello" {
		t.Fatalf("read %d %q %v", n, b[:n], err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := r.Read(b)
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel(&interrupt{syscall.SIGTERM})
	select {
	case err := <-got:
		var i *interrupt
		if !errors.As(err, &i) {
			t.Errorf("error %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("read not interrupted")
	}
	if _, err := r.Read(b); err == nil {
		t.Error("read after the interruption succeeded")
	}
}
