package trainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/torchlaunch"
)

// TestNew: one switch picks the backend; an explicit precision reaches
// the torch launch settings, "auto" leaves them theirs.
func TestNew(t *testing.T) {
	cases := []struct {
		name     string
		s        Settings
		wantPrec string // torch: the launch precision; go: the engine's
		err      string
	}{
		{"go default", Settings{}, model.DefaultPrecision().String(), ""},
		{"go bf16", Settings{Backend: "go", Precision: "bf16"}, "bf16", ""},
		{"torch auto keeps launch", Settings{Backend: "torch", Launch: torchlaunch.Launch{Precision: "fp32"}}, "fp32", ""},
		{"torch default", Settings{Backend: "torch"}, "auto", ""},
		{"torch explicit wins", Settings{Backend: "torch", Precision: "bf16", Launch: torchlaunch.Launch{Precision: "fp32"}}, "bf16", ""},
		{"bad backend", Settings{Backend: "jax"}, "", `backend "jax"`},
		{"bad precision", Settings{Precision: "fp8"}, "", `precision "fp8"`},
		{"two nodes no host", Settings{Backend: "torch", Launch: torchlaunch.Launch{NNodes: 2, MasterPort: 1}}, "", "master_addr: required"},
		{"bad launch", Settings{Backend: "torch", Launch: torchlaunch.Launch{Sharding: "zero3"}}, "", "sharding"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := New(c.s)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want it to mention %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got string
			switch tr := tr.(type) {
			case Go:
				got = tr.Precision.String()
			case Torch:
				got = tr.Launch.Precision
				if tr.Launch.Launcher != "torchrun" {
					t.Errorf("launch without defaults: %+v", tr.Launch)
				}
			}
			if got != c.wantPrec {
				t.Fatalf("%T precision %q, want %q", tr, got, c.wantPrec)
			}
		})
	}
}

// TestInput: the precision a stage records is the resolved one for Go,
// the explicit one (or none) for torch.
func TestInput(t *testing.T) {
	for _, c := range []struct {
		s    Settings
		want string
	}{
		{Settings{}, model.DefaultPrecision().String()},
		{Settings{Precision: "auto"}, model.DefaultPrecision().String()},
		{Settings{Precision: "fp32"}, "fp32"},
		{Settings{Backend: "torch"}, ""},
		{Settings{Backend: "torch", Precision: "auto"}, ""},
		{Settings{Backend: "torch", Precision: "bf16"}, "bf16"},
	} {
		if got, err := c.s.Input(); err != nil || got != c.want {
			t.Errorf("%+v: Input %q, %v; want %q", c.s, got, err, c.want)
		}
	}
	if _, err := (Settings{Backend: "torch", Precision: "half"}).Input(); err == nil {
		t.Error("bad precision: no error")
	}
}

// TestLaunchTable: a table's keys are the launcher's own, over its config
// file's; an unknown, mistyped or precision key is an error naming it.
func TestLaunchTable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "launch.json"), []byte(`{"nproc_per_node": 4, "sharding": "fsdp", "precision": "bf16", "cpu_offload": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tab := LaunchTable{"config": "launch.json", "nproc_per_node": int64(8), "cpu_offload": false, "ce_chunk_tokens": int64(512)}
	tab.Anchor(dir)
	if tab.Config() != filepath.Join(dir, "launch.json") {
		t.Fatalf("config %q not anchored in %s", tab.Config(), dir)
	}
	l, err := tab.Launch()
	if err != nil {
		t.Fatal(err)
	}
	if l.NprocPerNode != 8 || l.Sharding != "fsdp" || l.Precision != "bf16" || l.CPUOffload || l.CEChunkTokens != 512 || l.Launcher != "torchrun" || l.NNodes != 1 {
		t.Fatalf("launch %+v: want 8 processes, fsdp, bf16, no offload, 512-token chunks, torchrun on one node", l)
	}
	for _, c := range []struct {
		tab  LaunchTable
		want string
	}{
		{LaunchTable{"nprocs": int64(2), "zz": true}, "nprocs: unknown key (so are zz)"},
		{LaunchTable{"nprocs": int64(2)}, "nprocs: unknown key"},
		{LaunchTable{"nproc_per_node": "two"}, "nproc_per_node: want int, not string"},
		{LaunchTable{"precision": "bf16"}, "precision: set the recipe's precision"},
		{LaunchTable{"plan": "x"}, "plan: unknown key"},
		{LaunchTable{"config": filepath.Join(dir, "missing.json")}, "config: launch config"},
		{LaunchTable{"config": int64(3)}, "config: want a file name"},
		{LaunchTable{"nnodes": int64(2), "master_port": int64(29500)}, "master_addr: required"},
		{LaunchTable{"node_rank": int64(1)}, "node_rank 1"},
	} {
		if _, err := c.tab.Launch(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q", c.tab, err, c.want)
		}
	}
}
