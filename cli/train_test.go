package cli

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/testfix"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/train"
)

// writeTinyModel writes a random tiny Llama folder (bfloat16, with a
// tokenizer.json to be copied) and a JSONL of training rows; it returns
// the model folder and the data file.
func writeTinyModel(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	l := testfix.Llama{Vocab: 32, Hidden: 16, Intermediate: 32, Layers: 2, Heads: 4, KVHeads: 2, DType: "bf16", Seed: 3,
		Tokenizer: []byte(`{"model":{"type":"BPE"}}`)}
	mdir := l.Write(t, filepath.Join(dir, "model"))
	return mdir, testfix.TrainRows(t, filepath.Join(dir, "rows.jsonl"), 6, 48, 32)
}

func runMain(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestTrainCLIOverfits trains the tiny model through the CLI and checks the
// loss falls and the output is a loadable model folder in the input dtype.
func TestTrainCLIOverfits(t *testing.T) {
	mdir, data := writeTinyModel(t)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runMain("train", "--model", mdir, "--data", data, "--output", out,
		"--steps", "80", "--lr", "3e-2", "--batch", "2", "--grad-accum", "2", "--schedule", "cosine", "--warmup", "3", "--min-lr", "1e-3", "--checkpoint-every", "10")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "trained 80 steps") {
		t.Errorf("stdout %q", stdout)
	}
	ms, err := train.ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil || len(ms) != 80 {
		t.Fatalf("metrics: %d lines, %v", len(ms), err)
	}
	t.Logf("loss %.4f -> %.4f (ln 32 = %.4f)", ms[0].Loss, ms[79].Loss, math.Log(32))
	if !(ms[79].Loss < 0.3*ms[0].Loss) {
		t.Errorf("loss %.4f -> %.4f: did not drop below 30%%", ms[0].Loss, ms[79].Loss)
	}
	if ms[0].Predicted != 4*46 {
		t.Errorf("step 1 predicted %d tokens, want 4 rows × 46 (loss mask)", ms[0].Predicted)
	}
	for _, f := range []string{"config.json", "model.safetensors", "loss.png", "lr.png", "checkpoints/latest"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if a, _ := os.ReadFile(filepath.Join(mdir, "tokenizer.json")); true {
		b, err := os.ReadFile(filepath.Join(out, "tokenizer.json"))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("tokenizer.json not copied (%v)", err)
		}
	}
	cfg, err := hf.LoadConfig(filepath.Join(out, "config.json"))
	if err != nil || cfg.TorchDtype != "bfloat16" {
		t.Fatalf("output config: torch_dtype %q, %v; want bfloat16", cfg.TorchDtype, err)
	}
	// The saved weights are the checkpoint's fp32 master weights rounded
	// to bfloat16.
	got, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := hf.OpenSafetensors(filepath.Join(out, "checkpoints", "step-00000080", "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	for _, p := range got.Params() {
		w, err := ck.Float32(p.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range w {
			if want := hf.Float32FromBF16(hf.BF16FromFloat32(w[i])); p.W[i] != want {
				t.Fatalf("%s[%d] = %v, want bf16(%v) = %v", p.Name, i, p.W[i], w[i], want)
			}
		}
	}
	// Rerunning with another learning rate is refused and names the flag.
	code, _, stderr = runMain("train", "--model", mdir, "--data", data, "--output", out,
		"--steps", "80", "--lr", "2e-2", "--batch", "2", "--grad-accum", "2", "--schedule", "cosine", "--warmup", "3", "--min-lr", "1e-3", "--checkpoint-every", "10")
	if code != 1 || !strings.Contains(stderr, "lr: checkpoint 0.03, now 0.02") {
		t.Errorf("changed --lr: exit %d, %q", code, stderr)
	}
}

func TestTrainCLIUsage(t *testing.T) {
	mdir, data := writeTinyModel(t)
	out := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--data", data, "--output", out}, 2, "--model is required"},
		{[]string{"--model", mdir, "--output", out}, 2, "--data is required"},
		{[]string{"--model", mdir, "--data", data}, 2, "--output is required"},
		{[]string{"--model", mdir, "--data", data, "--output", out, "--schedule", "exp"}, 2, `unknown kind "exp"`},
		{[]string{"--model", mdir, "--data", data, "--output", out, "--beta2", "1"}, 2, "beta2"},
		{[]string{"--model", mdir, "--data", data, "--output", out, "--batch", "0"}, 2, "--batch"},
		{[]string{"--model", mdir, "--data", data, "--output", out, "--min-lr", "1e-6"}, 2, "constant"},
		{[]string{"--model", mdir, "--data", data + ".missing", "--output", out}, 1, "rows.jsonl.missing"},
		{[]string{"--model", out, "--data", data, "--output", out + "/x"}, 1, "config.json"},
		{[]string{"--model", mdir, "--data", data, "--output", mdir + "/"}, 2, "--output must differ from --model"},
		{[]string{"--model", mdir, "--data", data, "--output", out, "--save-dtype", "int8"}, 2, `--save-dtype "int8"`},
		{[]string{"--model", mdir, "--data", data, "--output", out, "--context-parallel", "2"}, 2, "need --backend torch"},
		{[]string{"--model", mdir, "--data", data, "--output", out, "--backend", "torch", "--nproc", "6", "--context-parallel", "4"}, 2,
			"context_parallel 4 does not divide the world size 6"},
		{[]string{"--model", mdir, "--data", data, "--output", out, "--backend", "torch", "--nproc", "2", "--context-parallel", "-1"}, 2, "--context-parallel"},
	} {
		code, _, stderr := runMain(append([]string{"train"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d and %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}

// trainHelperEnv carries the arguments (separated by U+001F) when the test binary
// runs as the "longrecipe train" subprocess of TestTrainCLIKillResume.
const trainHelperEnv = "LONGRECIPE_CLI_TRAIN_HELPER_ARGS"

// TestTrainCLIHelperProcess is not a test: it is the subprocess body of
// TestTrainCLIKillResume and returns at once in a normal run.
func TestTrainCLIHelperProcess(t *testing.T) {
	args := os.Getenv(trainHelperEnv)
	if args == "" {
		return
	}
	os.Exit(Main(strings.Split(args, "\x1f"), strings.NewReader(""), os.Stdout, os.Stderr))
}

// TestTrainCLIKillResume runs "longrecipe train" as a subprocess, kills it
// with SIGKILL twice after a checkpoint (mid-step), reruns the same command
// until it finishes, and requires the final model and optimizer state to
// be byte-identical to an uninterrupted run's. While the first subprocess
// runs, a second train on its output is refused (the output lock), and the
// rerun takes over the lock the killed one left.
func TestTrainCLIKillResume(t *testing.T) {
	mdir, data := writeTinyModel(t)
	args := func(out string) []string {
		return []string{"train", "--model", mdir, "--data", data, "--output", out, "--steps", "30",
			"--lr", "5e-3", "--batch", "2", "--grad-accum", "2", "--schedule", "linear", "--warmup", "2",
			"--checkpoint-every", "3", "--threads", "2", "--save-dtype", "float32"}
	}
	start := func(out string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTrainCLIHelperProcess$")
		cmd.Env = append(os.Environ(), trainHelperEnv+"="+strings.Join(args(out), "\x1f"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	latest := func(out string) int {
		b, _ := os.ReadFile(filepath.Join(out, "checkpoints", "latest"))
		var s int
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "step-%d", &s); err != nil {
			return -1
		}
		return s
	}
	ref := filepath.Join(t.TempDir(), "ref")
	cmd, stderr := start(ref)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, stderr)
	}
	out := filepath.Join(t.TempDir(), "killed")
	for _, after := range []int{3, 12} {
		cmd, stderr := start(out)
		deadline := time.Now().Add(60 * time.Second)
		for latest(out) < after {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no checkpoint %d within 60 s\n%s", after, stderr)
			}
			time.Sleep(time.Millisecond)
		}
		if after == 3 {
			// A second train on the same output fails at once instead of
			// interleaving its writes with the running one's.
			code, _, errOut := runMain(args(out)...)
			want := fmt.Sprintf("is locked by pid %d", cmd.Process.Pid)
			if code != 1 || !strings.Contains(errOut, want) {
				t.Errorf("second train while the first runs: exit %d, %q; want 1 and %q", code, errOut, want)
			}
		}
		time.Sleep(5 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the run was not killed mid-way (%v)\n%s", err, stderr)
		}
		if s := latest(out); s < after || s >= 30 {
			t.Fatalf("latest checkpoint after the kill: %d", s)
		}
		t.Logf("killed after checkpoint %d (latest now %d)", after, latest(out))
	}
	cmd, stderr = start(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "resuming from") {
		t.Errorf("the rerun did not report a resume:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "took over the stale lock of pid") {
		t.Errorf("the rerun did not take over the killed run's lock:\n%s", stderr)
	}
	for _, f := range []string{"model.safetensors", "config.json", "checkpoints/step-00000030/weights.safetensors", "checkpoints/step-00000030/optimizer.safetensors"} {
		a, err1 := os.ReadFile(filepath.Join(ref, f))
		b, err2 := os.ReadFile(filepath.Join(out, f))
		if err1 != nil || err2 != nil {
			t.Fatalf("%v %v", err1, err2)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the uninterrupted and the killed+resumed run", f)
		}
	}
}

// TestLaunchSettings: the torch flags go over the launch file by the rule
// of a recipe's launch table; a bad combination is a command-line error.
func TestLaunchSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "launch.json")
	if err := os.WriteFile(file, []byte(`{"nproc_per_node": 4, "sharding": "ddp", "precision": "bf16"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := launchSettings(file, topology{nproc: 8, nodeRank: -1})
	if err != nil || l.NprocPerNode != 8 || l.Sharding != "ddp" || l.Precision != "bf16" || l.Launcher != "torchrun" {
		t.Fatalf("launch %+v, %v: want 8 processes over the file's ddp, bf16", l, err)
	}
	for _, c := range []struct {
		nnodes, rank, port int
		addr, want         string
	}{
		{2, -1, 0, "h", "master_port is required"},
		{2, 1, 29500, "", "master_addr: required"},
		{1, 1, 0, "", "node_rank 1"},
		{0, -1, -2, "", "must be >= 0"},
	} {
		_, err := launchSettings("", topology{0, 0, c.nnodes, c.rank, c.addr, c.port})
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, errUsage) {
			t.Errorf("%+v: error %v, want a usage error mentioning %q", c, err, c.want)
		}
	}
}
