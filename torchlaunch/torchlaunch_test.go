package torchlaunch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/train"
)

func TestValidate(t *testing.T) {
	f := false
	tests := []struct {
		name string
		l    Launch
		err  string // "" = valid
	}{
		{"defaults", Launch{}, ""},
		{"two nodes", Launch{NprocPerNode: 8, NNodes: 2, NodeRank: 1, MasterAddr: "10.0.0.1", MasterPort: 29500}, ""},
		{"accelerate ddp", Launch{Launcher: "accelerate", Sharding: "ddp", ActivationCheckpointing: &f}, ""},
		{"bad launcher", Launch{Launcher: "mpirun"}, "launcher"},
		{"node rank", Launch{NNodes: 2, NodeRank: 2, MasterPort: 1}, "node_rank"},
		{"port needed", Launch{NNodes: 2}, "master_port"},
		{"deepspeed", Launch{Sharding: "deepspeed-zero3"}, "DeepSpeed is not supported"},
		{"none with two", Launch{Sharding: "none", NprocPerNode: 2}, "one process"},
		{"precision", Launch{Precision: "fp8"}, "precision"},
		{"attn", Launch{AttnImplementation: "flex"}, "attn_implementation"},
		{"context parallel", Launch{NprocPerNode: 4, ContextParallel: 2}, ""},
		{"context parallel over nodes", Launch{NprocPerNode: 2, NNodes: 2, MasterPort: 1, ContextParallel: 4}, ""},
		{"cp not dividing", Launch{NprocPerNode: 6, ContextParallel: 4}, "context_parallel 4 does not divide the world size 6"},
		{"cp above world", Launch{NprocPerNode: 2, ContextParallel: 4}, "does not divide"},
		{"cp with ddp", Launch{NprocPerNode: 4, Sharding: "ddp", ContextParallel: 2}, "needs sharding fsdp, not ddp"},
		{"negative cp", Launch{ContextParallel: -1}, "context_parallel -1"},
		{"negative chunk", Launch{CEChunkTokens: -1}, "ce_chunk_tokens"},
	}
	for _, tc := range tests {
		err := tc.l.Validate()
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: Validate() = %v, want error containing %q", tc.name, err, tc.err)
		}
	}
}

func TestLoadLaunch(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"nproc_per_node": 4, "plan": {"anything": [1, 2]}}`), 0o644)
	l, err := LoadLaunch(good)
	if err != nil {
		t.Fatal(err)
	}
	if l.NprocPerNode != 4 || l.Sharding != "fsdp" || l.CEChunkTokens != 4096 || !*l.ActivationCheckpointing {
		t.Errorf("LoadLaunch = %+v, want nproc 4 and the defaults", l)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"nprocs": 4}`), 0o644)
	if _, err := LoadLaunch(bad); err == nil || !strings.Contains(err.Error(), "nprocs") {
		t.Errorf("unknown key: err = %v, want it named", err)
	}
	old := filepath.Join(dir, "old.json")
	os.WriteFile(old, []byte(`{"nproc_per_node": 4, "sequence_parallel": 2}`), 0o644)
	if _, err := LoadLaunch(old); err == nil || !strings.Contains(err.Error(), "replaced by context_parallel") {
		t.Errorf("sequence_parallel: err = %v, want the replacement named", err)
	}
}

func TestCommand(t *testing.T) {
	one := Command("py", Launch{}, "/o/job.json")
	if want := []string{"py", "-m", "longrecipe_torch", "train", "--job", "/o/job.json"}; !slices.Equal(one, want) {
		t.Errorf("one process: %q, want %q", one, want)
	}
	two := strings.Join(Command("py", Launch{NprocPerNode: 2, NNodes: 2, NodeRank: 1, MasterAddr: "h", MasterPort: 7}, "j"), " ")
	for _, w := range []string{"py -m torch.distributed.run", "--nproc_per_node 2", "--nnodes 2", "--node_rank 1", "--master_addr h", "--master_port 7", "-m longrecipe_torch train --job j"} {
		if !strings.Contains(two, w) {
			t.Errorf("torchrun command %q lacks %q", two, w)
		}
	}
	acc := strings.Join(Command("py", Launch{Launcher: "accelerate", NprocPerNode: 4}, "j"), " ")
	for _, w := range []string{"accelerate.commands.launch", "--num_processes 4", "--module longrecipe_torch train --job j"} {
		if !strings.Contains(acc, w) {
			t.Errorf("accelerate command %q lacks %q", acc, w)
		}
	}
}

// fakeJob returns a job whose "python" is the shell script body, with a
// model folder and two data rows.
func fakeJob(t *testing.T, script string) Job {
	dir := t.TempDir()
	py := filepath.Join(dir, "python")
	os.WriteFile(py, []byte("#!/bin/sh\n"+script), 0o755)
	model := filepath.Join(dir, "model")
	os.MkdirAll(model, 0o755)
	os.WriteFile(filepath.Join(model, "config.json"), []byte(`{"model_type":"llama"}`), 0o644)
	data := filepath.Join(dir, "rows.jsonl")
	os.WriteFile(data, []byte("{\"input_ids\":[1,2,3]}\n{\"input_ids\":[4,5]}\n"), 0o644)
	h := train.Hyper{Batch: 1, GradAccum: 1, Schedule: "constant", LR: 1e-3}
	h.SetAdamW(train.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	return Job{Hyper: h, From: model, Data: data, Output: filepath.Join(dir, "out"), Launch: Launch{Python: py}}
}

func TestTrainStreamsMetricsAndResult(t *testing.T) {
	j := fakeJob(t, `echo 'LRMETRIC {"step":1,"loss":2.5,"lr":0.001,"total_steps":2}'
echo 'LRMETRIC {"step":2,"loss":2.0,"lr":0.001,"total_steps":2}'
echo 'LRRESULT {"resumed_from":0,"steps":2,"last_loss":2.0,"tokens":5,"elapsed_s":1.5}'
`)
	var bar strings.Builder
	j.Progress = &bar
	res, err := Train(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 2 || res.LastLoss != 2.0 || res.Tokens != 5 || res.Elapsed != 1500*time.Millisecond {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(bar.String(), "loss 2.0000") {
		t.Errorf("progress %q lacks the last loss", bar.String())
	}
	b, err := os.ReadFile(filepath.Join(j.Output, JobFile))
	if err != nil {
		t.Fatal(err)
	}
	var got jobJSON
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Hyper.Steps != 2 || got.Launch.Sharding != "fsdp" || got.Launch.Python != "" {
		t.Errorf("job file: steps %d (want one epoch = 2), sharding %q, python %q", got.Hyper.Steps, got.Launch.Sharding, got.Launch.Python)
	}
}

func TestTrainReportsTheFailingRank(t *testing.T) {
	j := fakeJob(t, `echo 'LRERROR rank=1: CUDA out of memory on a row of 40000 tokens: lower ce_chunk_tokens' >&2
echo 'LRERROR rank=0: interrupted at step 3 (checkpoint written)' >&2
echo 'torchrun: ChildFailedError' >&2
exit 1
`)
	_, err := Train(context.Background(), j)
	if err == nil || !strings.Contains(err.Error(), "rank=1: CUDA out of memory on a row of 40000 tokens") {
		t.Errorf("err = %v, want rank 1's line", err)
	}
	j = fakeJob(t, "echo 'Traceback: ModuleNotFoundError: No module named torch' >&2\nexit 1\n")
	if _, err := Train(context.Background(), j); err == nil || !strings.Contains(err.Error(), "No module named torch") {
		t.Errorf("err = %v, want the last output line", err)
	}
}

func TestTrainForwardsCancel(t *testing.T) {
	j := fakeJob(t, `trap 'echo "LRERROR rank=0: interrupted at step 0" >&2; exit 143' TERM
echo LRMETRIC '{"step":1,"total_steps":9}'
while :; do sleep 0.05; done
`)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err := Train(ctx, j)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("err = %v, want interrupted", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("cancel took %v", d)
	}
}

func TestTrainRefusesBadJobs(t *testing.T) {
	j := fakeJob(t, "exit 0\n")
	j.Output = j.From
	if _, err := Train(context.Background(), j); err == nil || !strings.Contains(err.Error(), "is the input") {
		t.Errorf("output = input: err = %v", err)
	}
	// A link to the model folder is the model folder (issue 11 F4), and an
	// output folder that contains the data would delete it.
	for _, out := range []func(j Job) string{
		func(j Job) string {
			link := filepath.Join(filepath.Dir(j.From), "link")
			if err := os.Symlink(j.From, link); err != nil {
				t.Skipf("symlink: %v", err)
			}
			return link
		},
		func(j Job) string { return filepath.Dir(j.Data) },
	} {
		j = fakeJob(t, "exit 0\n")
		j.Output = out(j)
		if _, err := Train(context.Background(), j); err == nil || !strings.Contains(err.Error(), "the input") {
			t.Errorf("output %s: err = %v, want a refusal", j.Output, err)
		}
		if _, err := os.Stat(filepath.Join(j.Output, JobFile)); err == nil {
			t.Errorf("output %s: job file written before the refusal", j.Output)
		}
	}
	j = fakeJob(t, "exit 0\n")
	j.Launch.ContextParallel = 2
	if _, err := Train(context.Background(), j); err == nil || !strings.Contains(err.Error(), "context_parallel 2 does not divide the world size 1") {
		t.Errorf("context parallel: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(j.Output, JobFile)); err == nil {
		t.Errorf("context parallel: job file written before the refusal")
	}
	j = fakeJob(t, "exit 0\n")
	if _, err := Train(context.Background(), j); err == nil || !strings.Contains(err.Error(), "without a result line") {
		t.Errorf("silent exit: err = %v", err)
	}
}

// TestProbeEnv: the shared probe reads the cached environment's torch
// (FSDP2 importable) and names an interpreter that does not run.
func TestProbeEnv(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Python")
	}
	if _, err := ProbeEnv(context.Background(), "/nonexistent/python"); err == nil || !strings.Contains(err.Error(), "/nonexistent/python") {
		t.Errorf("missing interpreter: %v", err)
	}
	py := CachedPython()
	if py == "" {
		t.Skip("no cached Python environment (bash scripts/pyenv.sh)")
	}
	e, err := ProbeEnv(context.Background(), py)
	if err != nil {
		t.Fatal(err)
	}
	if e.Python != py || e.PythonVersion == "" || e.Versions["torch"] == "" || e.Versions["transformers"] == "" || e.TorchError != "" || e.FSDP2Error != "" {
		t.Errorf("probe of the pinned environment: %+v", e)
	}
	if got, how := FindPython(py); got != py || how != "--python" {
		t.Errorf("FindPython(%s) = %s, %s", py, got, how)
	}
}

func TestCheckDevices(t *testing.T) {
	old := localDevices
	defer func() { localDevices = old }()
	tests := []struct {
		gpus, cores, nproc int
		err                string
	}{
		{0, 2, 2, ""},
		{0, 2, 4, ""},
		{0, 2, 5, "no GPU and 2 CPU cores"},
		{0, 2, 100000, "nproc_per_node 100000"},
		{8, 2, 8, ""},
		{8, 2, 9, "8 GPU(s)"},
		{1, 64, 1, ""},
	}
	for _, tc := range tests {
		localDevices = func() (int, int) { return tc.gpus, tc.cores }
		err := CheckDevices(Launch{NprocPerNode: tc.nproc})
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%d GPUs, %d cores, nproc %d: err = %v, want %q", tc.gpus, tc.cores, tc.nproc, err, tc.err)
		}
	}
}

// TestTrainRefusesMoreRanksThanDevices: a launch file asking for 100000
// ranks is refused before anything starts (the fake launcher would leave
// a mark).
func TestTrainRefusesMoreRanksThanDevices(t *testing.T) {
	j := fakeJob(t, "touch \"$0.ran\"\nexit 0\n")
	path := filepath.Join(t.TempDir(), "launch.json")
	os.WriteFile(path, []byte(`{"nproc_per_node": 100000}`), 0o644)
	l, err := LoadLaunch(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Python = j.Launch.Python
	j.Launch = l
	_, err = Train(context.Background(), j)
	if err == nil || !strings.Contains(err.Error(), "nproc_per_node 100000") || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v, want one line naming nproc_per_node", err)
	}
	if _, err := os.Stat(j.Launch.Python + ".ran"); err == nil {
		t.Error("the launcher ran")
	}
}

func TestValidateOffloadAndTimeout(t *testing.T) {
	for _, tc := range []struct {
		l   Launch
		err string
	}{
		{Launch{CPUOffload: true}, ""},
		{Launch{CPUOffload: true, Sharding: "ddp"}, "cpu_offload needs sharding fsdp"},
		{Launch{CPUOffload: true, Sharding: "none"}, "cpu_offload needs sharding fsdp"},
		{Launch{CollectiveTimeoutS: -5}, "collective_timeout_s"},
	} {
		err := tc.l.Validate()
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: err = %v, want %q", tc.l, err, tc.err)
		}
	}
}

// TestTrainStopsTheOthersWhenARankFails: rank 1 reports an error while the
// launcher and rank 0 hang (as ranks do inside a collective): Train
// returns rank 1's line within seconds, and nothing of the group is left.
func TestTrainStopsTheOthersWhenARankFails(t *testing.T) {
	old := localDevices
	defer func() { localDevices = old }()
	localDevices = func() (int, int) { return 0, 8 }
	j := fakeJob(t, `(sleep 600) &
echo 'LRERROR rank=1: ValueError: bad row' >&2
sleep 600
`)
	j.Launch.NprocPerNode = 2
	start := time.Now()
	_, err := Train(context.Background(), j)
	if err == nil || !strings.Contains(err.Error(), "rank=1: ValueError: bad row") {
		t.Errorf("err = %v, want rank 1's line", err)
	}
	if d := time.Since(start); d > failedGrace+5*time.Second {
		t.Errorf("took %v, want about %v", d, failedGrace)
	}
}

// TestTrainSignalsTheRanksNotTheLauncher: on cancel the ranks (the
// launcher's children) get SIGTERM and checkpoint; the launcher itself is
// not signalled (torchrun would kill them 30 s later).
func TestTrainSignalsTheRanksNotTheLauncher(t *testing.T) {
	old := localDevices
	defer func() { localDevices = old }()
	localDevices = func() (int, int) { return 0, 8 }
	j := fakeJob(t, `trap 'echo launcher-got-TERM >&2' TERM
sh -c 'trap "echo \"LRERROR rank=0: interrupted at step 1\" >&2; exit 143" TERM; echo LRMETRIC "{\"step\":1,\"total_steps\":9}"; while :; do sleep 0.05; done' &
wait $!
wait $!
exit 1
`)
	j.Launch.NprocPerNode = 2
	var log strings.Builder
	j.Log = &log
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(500 * time.Millisecond); cancel() }()
	_, err := Train(ctx, j)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("err = %v, want interrupted", err)
	}
	if strings.Contains(log.String(), "launcher-got-TERM") {
		t.Errorf("the launcher was signalled: %s", log.String())
	}
}

func TestFailureNamesTheFirstCause(t *testing.T) {
	j := fakeJob(t, `cat >&2 <<'X'
Traceback (most recent call last):
  File "x.py", line 3, in load
ValueError: Invalid magic number; corrupt file?

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
torch.distributed.checkpoint.api.CheckpointException: CheckpointException ranks:dict_keys([0, 1])
RuntimeError: wrapper
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
X
exit 1
`)
	_, err := Train(context.Background(), j)
	if err == nil || !strings.Contains(err.Error(), "ValueError: Invalid magic number; corrupt file?") || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v, want the first cause in one line", err)
	}
}

// TestUnpackEmbedsThePythonSide: the embedded copy unpacks once into the
// cache, file for file equal to scaleout/ in this tree, and is reused.
func TestUnpackEmbedsThePythonSide(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("LONGRECIPE_CACHE", cache)
	t.Setenv("LONGRECIPE_ROOT", "")
	side, err := PythonSide()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(side.Dir) != cache || !strings.Contains(side.How, "embedded") {
		t.Errorf("side %+v, want the embedded copy in %s", side, cache)
	}
	for _, f := range []string{"longrecipe_torch/trainer.py", "longrecipe_torch/__main__.py", "requirements.lock", "pyenv.sh"} {
		got, err := os.ReadFile(filepath.Join(side.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join("..", "scaleout", f))
		if string(got) != string(want) {
			t.Errorf("%s differs from the source tree's", f)
		}
	}
	os.WriteFile(filepath.Join(side.Dir, "marker"), nil, 0o644)
	again, err := Unpack(cache)
	if err != nil || again != side.Dir || !isFile(filepath.Join(again, "marker")) {
		t.Errorf("second unpack: %s, %v; want the same folder reused", again, err)
	}
	t.Setenv("LONGRECIPE_ROOT", "..")
	if side, err := PythonSide(); err != nil || !strings.HasSuffix(side.Dir, "scaleout") || !strings.Contains(side.How, "LONGRECIPE_ROOT") {
		t.Errorf("override: %+v, %v", side, err)
	}
	t.Setenv("LONGRECIPE_ROOT", cache)
	if _, err := PythonSide(); err == nil {
		t.Error("LONGRECIPE_ROOT without scaleout/: no error")
	}
}
