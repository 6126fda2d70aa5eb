package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/model"
)

// helperEnv names the output folder when the test binary runs as the
// training subprocess of TestKillResumeBitIdentical.
const helperEnv = "LONGRECIPE_TRAIN_HELPER_OUT"

func TestMain(m *testing.M) {
	if out := os.Getenv(helperEnv); out != "" {
		os.Exit(helperTrain(out))
	}
	os.Exit(m.Run())
}

// helperModelEnv selects the helper's model: "bigram" or "llama".
const helperModelEnv = "LONGRECIPE_TRAIN_HELPER_MODEL"

// helperTrain is the training process: 16 steps, B=2, K=2, a checkpoint
// every 4 steps, of the bigram model (~15 ms per micro-step) or of a tiny
// random Llama (model.New, 2 threads).
func helperTrain(out string) int {
	h := testHyper(16)
	h.LR = 0.05
	var tm Model
	switch os.Getenv(helperModelEnv) {
	case "llama":
		m, err := model.New(tinyLlamaConfig(), 11)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tm = Llama{M: m, Opt: model.Options{Threads: 2}}
		h.LR, h.MinLR = 5e-3, 5e-4
	default:
		m := newBigram(16, 5)
		m.sleep = 15 * time.Millisecond
		tm = m
	}
	cfg := Config{Hyper: h, Model: tm, Data: cyclicRows(9, 16), Output: out, CheckpointEvery: 4, SaveModel: saveFake(tm)}
	if _, err := Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func startHelper(t *testing.T, kind, out string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+out, helperModelEnv+"="+kind)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// latestStep returns the step named by out/checkpoints/latest (-1: none).
func latestStep(out string) int {
	b, err := os.ReadFile(filepath.Join(out, "checkpoints", "latest"))
	if err != nil {
		return -1
	}
	var s int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "step-%d", &s); err != nil {
		return -1
	}
	return s
}

// TestKillResumeBitIdentical kills the training process with SIGKILL twice
// in the middle of a step after a checkpoint, reruns the same command each
// time, and requires the final weights, optimizer state and per-step
// metrics to be bit-identical to an uninterrupted run, for the bigram test
// model and for a tiny random Llama.
func TestKillResumeBitIdentical(t *testing.T) {
	for _, kind := range []string{"bigram", "llama"} {
		t.Run(kind, func(t *testing.T) { testKillResume(t, kind) })
	}
}

func testKillResume(t *testing.T, kind string) {
	ref := t.TempDir()
	cmd, stderr := startHelper(t, kind, ref)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, stderr)
	}

	out := t.TempDir()
	for _, kill := range []struct {
		after int           // kill once this checkpoint exists
		delay time.Duration // ... and this much later (mid-step)
	}{{4, 10 * time.Millisecond}, {8, 40 * time.Millisecond}} {
		cmd, stderr := startHelper(t, kind, out)
		deadline := time.Now().Add(30 * time.Second)
		for latestStep(out) < kill.after {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no checkpoint %d after 30 s\n%s", kill.after, stderr)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(kill.delay)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the run was not killed mid-way (%v); the kill window is too late\n%s", err, stderr)
		}
		s := latestStep(out)
		if s < kill.after || s >= 16 {
			t.Fatalf("after the kill latest checkpoint is %d, want in [%d, 16)", s, kill.after)
		}
		ms, _ := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
		t.Logf("killed with checkpoint %d, %d metric lines written", s, len(ms))
	}
	cmd, stderr = startHelper(t, kind, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, stderr)
	}

	for _, f := range []string{"model.safetensors", "checkpoints/step-00000016/weights.safetensors", "checkpoints/step-00000016/optimizer.safetensors"} {
		a, err1 := os.ReadFile(filepath.Join(ref, f))
		b, err2 := os.ReadFile(filepath.Join(out, f))
		if err1 != nil || err2 != nil {
			t.Fatalf("%v %v", err1, err2)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the uninterrupted and the killed+resumed run", f)
		}
	}
	ma, err1 := ReadMetrics(filepath.Join(ref, "metrics.jsonl"))
	mb, err2 := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err1 != nil || err2 != nil || len(ma) != 16 || len(mb) != 16 {
		t.Fatalf("metrics: %d and %d lines (%v, %v), want 16", len(ma), len(mb), err1, err2)
	}
	for i := range ma {
		a, b := ma[i], mb[i]
		if a.Step != i+1 || b.Step != i+1 || a.Loss != b.Loss || a.LR != b.LR || a.GradNorm != b.GradNorm || a.Tokens != b.Tokens {
			t.Errorf("metrics line %d: %+v vs %+v", i+1, a, b)
		}
	}
}
