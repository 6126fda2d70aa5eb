package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/internal/lock"
)

// TestLockedOutputRefused: every command that writes an output folder
// takes its lock first: while another holder has it, the command fails at
// once (exit 1, one line naming the holder's pid and host) and touches
// nothing; once the lock is free, the command takes and releases it
// (whatever else then fails), leaving no lock file.
func TestLockedOutputRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	junk := filepath.Join(dir, "junk.gguf")
	os.WriteFile(junk, []byte("GGUF"), 0o644)
	rec := filepath.Join(dir, "recipe.toml")
	os.WriteFile(rec, []byte(fmt.Sprintf("output = %q\n[base]\nmodel = %q\n[data]\ncorpus = \"c.jsonl\"\n[extend]\ntarget_length = 2048\nsteps = 10\n",
		out, filepath.Join(dir, "none"))), 0o644)
	m := filepath.Join(dir, "m")
	cases := [][]string{
		{"run", rec},
		{"train", "--model", m, "--data", "d.jsonl", "--output", out},
		{"experiment", "--base", m, "--output", out},
		{"eval", "--model", m, "--lengths", "1k", "--output", out},
		{"eval", "--compare", m, m + "2", "--output", out},
		{"merge", "--models", m, m + "2", "--output", out},
		{"prepare", "--input", "x.jsonl", "--output", out, "--method", "randpos", "--target-length", "10", "--train-length", "5"},
		{"import", "--gguf", junk, "--output", out},
		{"quickstart", "--base", m, "--output", out},
		{"tinybase", "--output", out}, // not run once free: it would build
	}
	host, _ := os.Hostname()
	lockFile, _ := lock.Path(out)
	for _, args := range cases {
		l, err := lock.Take(out, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runMain(args...)
		want := fmt.Sprintf("%s is locked by pid %d on %s", out, os.Getpid(), host)
		if code != 1 || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s while locked: exit %d, stderr %q; want 1 and %q", args[0], code, stderr, want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s while locked: wrote %s", args[0], out)
		}
		l.Release()
		if args[0] == "tinybase" {
			continue
		}
		code, _, stderr = runMain(args...)
		if strings.Contains(stderr, "locked") {
			t.Errorf("%s after release: exit %d, %q", args[0], code, stderr)
		}
		if _, err := os.Stat(lockFile); err == nil {
			t.Errorf("%s left its lock file", args[0])
		}
		os.RemoveAll(out)
	}
}

// TestEvalOutputRule: a second eval into the same --output needs --force
// (it used to replace the earlier report silently), an output that is the
// model folder is refused even with --force, and a forced report replaces
// the whole folder (no file of the earlier report is left to mix in).
func TestEvalOutputRule(t *testing.T) {
	m := evalModel(t)
	out := filepath.Join(t.TempDir(), "report")
	os.Mkdir(out, 0o755)
	os.WriteFile(filepath.Join(out, "results.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(out, "heatmap_vt.png"), []byte("old"), 0o644)
	args := []string{"--model", m, "--tasks", "passkey", "--lengths", "512", "--depths", "0", "--samples", "1", "--max-new-tokens", "2", "--output"}
	_, stderr, code := evalCLI(t, append(args, out)...)
	if code != 1 || !strings.Contains(stderr, "use --force") {
		t.Errorf("second eval: exit %d, stderr %q; want 1 and a --force hint", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "results.json")); string(b) != "{}" {
		t.Error("the earlier report was replaced without --force")
	}
	_, stderr, code = evalCLI(t, append(args, m, "--force")...)
	if code != 1 || !strings.Contains(stderr, "is the input") {
		t.Errorf("eval into the model folder: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code = evalCLI(t, append(args, out, "--force")...); code != 0 {
		t.Errorf("eval --force: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "heatmap_vt.png")); err == nil {
		t.Error("a file of the earlier report is left in the forced one")
	}
	if _, err := os.Stat(filepath.Join(out, "heatmap_passkey.png")); err != nil {
		t.Errorf("forced report: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Errorf("left beside the report: %d entries", len(entries))
	}
}

// TestPlanWriteLaunchRule: --write-launch replaces an existing file only
// with --force, and never a file of the model folder it plans from (it
// used to overwrite the model's config.json with launcher JSON).
func TestPlanWriteLaunchRule(t *testing.T) {
	m := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(llama3Dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(m, "config.json"), cfg, 0o644)
	old := filepath.Join(t.TempDir(), "launch.json")
	os.WriteFile(old, []byte("old"), 0o644)
	args := []string{"plan", m, "--target-length", "128k", "--gpus", "8", "--gpu-mem", "80", "--write-launch"}
	for _, c := range []struct {
		extra []string
		code  int
		want  string
	}{
		{[]string{filepath.Join(m, "config.json"), "--force"}, 1, "is the input"},
		{[]string{m, "--force"}, 1, "is the input"},
		{[]string{old}, 1, "use --force"},
		{[]string{old, "--force"}, 0, ""},
	} {
		_, stderr, code := hfRunCLI(append(append([]string{}, args...), c.extra...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.extra, code, stderr, c.code, c.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(m, "config.json")); string(b) != string(cfg) {
		t.Error("the model's config.json was replaced")
	}
	if b, _ := os.ReadFile(old); !strings.Contains(string(b), "nproc_per_node") {
		t.Errorf("--force did not write the launcher config: %q", b)
	}
}
