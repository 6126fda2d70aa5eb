package stage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fake is a stage function that counts its calls, appends a line to
// dir/work (so a resumed folder shows two lines) and can fail once.
type fake struct {
	calls int
	fail  bool
}

func (f *fake) run(_ context.Context, dir string) (any, error) {
	f.calls++
	p := filepath.Join(dir, "work")
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, append(b, "x\n"...), 0o644); err != nil {
		return nil, err
	}
	if f.fail {
		f.fail = false
		return nil, errors.New("interrupted")
	}
	return map[string]int{"calls": f.calls}, nil
}

func workLines(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "work"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// TestStates walks one resumable stage through every state the package
// doc names, checking the calls, the folder and the log line of each.
func TestStates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "train")
	f := &fake{}
	var log bytes.Buffer
	stepsOnly := func(d string, changed []string) bool {
		return d == dir && len(changed) == 1 && changed[0] == "steps"
	}
	run := func(settings map[string]any, resumable, force, continues bool) (*Record, error) {
		r := &Runner{Log: &log}
		s := Stage{Name: "train", Dir: dir, Settings: settings, Resumable: resumable, Force: force, Run: f.run}
		if continues {
			s.Continue = stepsOnly
		}
		return r.Run(context.Background(), s, nil)
	}
	steps := []struct {
		name          string
		settings      map[string]any
		resumable     bool
		force, fail   bool
		continues     bool
		calls, lines  int
		wantLog       string
		wantErr, done bool
	}{
		{name: "new", settings: map[string]any{"lr": 1, "theta": 10}, resumable: true, calls: 1, lines: 1, wantLog: "running", done: true},
		{name: "done, unchanged: skipped", settings: map[string]any{"lr": 1, "theta": 10}, resumable: true, calls: 1, lines: 1, wantLog: "done already", done: true},
		{name: "done, changed: rerun", settings: map[string]any{"lr": 2, "theta": 10}, resumable: true, calls: 2, lines: 1, wantLog: "inputs changed (lr)", done: true},
		{name: "interrupted", settings: map[string]any{"lr": 3, "theta": 10}, resumable: true, fail: true, calls: 3, lines: 1, wantErr: true},
		{name: "partial, unchanged: resumed", settings: map[string]any{"lr": 3, "theta": 10}, resumable: true, calls: 4, lines: 2, wantLog: "resuming", done: true},
		{name: "interrupted again", settings: map[string]any{"lr": 3, "theta": 10}, resumable: true, force: true, fail: true, calls: 5, lines: 1, wantErr: true},
		{name: "partial, changed: starts over", settings: map[string]any{"lr": 3, "theta": 20}, resumable: true, calls: 6, lines: 1, wantLog: "inputs changed (theta)", done: true},
		{name: "forced", settings: map[string]any{"lr": 3, "theta": 20}, resumable: true, force: true, calls: 7, lines: 1, wantLog: "forced", done: true},
		{name: "interrupted, not resumable", settings: map[string]any{"lr": 3, "theta": 30}, fail: true, calls: 8, lines: 1, wantErr: true},
		{name: "partial, not resumable: cleared", settings: map[string]any{"lr": 3, "theta": 30}, calls: 9, lines: 1, wantLog: "running", done: true},
		{name: "changed, Continue refuses: starts over", settings: map[string]any{"lr": 4, "steps": 2}, continues: true, calls: 10, lines: 1, wantLog: "inputs changed (lr, steps, theta): starting over", done: true},
		{name: "done, Continue accepts: continues", settings: map[string]any{"lr": 4, "steps": 4}, continues: true, calls: 11, lines: 2, wantLog: "inputs changed (steps): continuing", done: true},
		{name: "interrupted while continued", settings: map[string]any{"lr": 4, "steps": 6}, continues: true, fail: true, calls: 12, lines: 3, wantErr: true},
		{name: "partial, Continue accepts: continues", settings: map[string]any{"lr": 4, "steps": 8}, continues: true, calls: 13, lines: 4, wantLog: "continuing", done: true},
		{name: "changed without Continue: starts over", settings: map[string]any{"lr": 4, "steps": 10}, calls: 14, lines: 1, wantLog: "starting over", done: true},
	}
	for _, s := range steps {
		log.Reset()
		f.fail = s.fail
		rec, err := run(s.settings, s.resumable, s.force, s.continues)
		if (err != nil) != s.wantErr {
			t.Fatalf("%s: error %v, want error %v", s.name, err, s.wantErr)
		}
		if f.calls != s.calls || workLines(t, dir) != s.lines {
			t.Fatalf("%s: %d calls, %d lines of work; want %d, %d", s.name, f.calls, workLines(t, dir), s.calls, s.lines)
		}
		if !strings.Contains(log.String(), s.wantLog) {
			t.Fatalf("%s: log %q, want %q", s.name, log.String(), s.wantLog)
		}
		_, errDone := os.Stat(filepath.Join(dir, FileName))
		_, errPending := os.Stat(filepath.Join(dir, PendingFileName))
		if (errDone == nil) != s.done || (errPending == nil) == s.done {
			t.Fatalf("%s: stage.json present %v, pending.json present %v; want done %v", s.name, errDone == nil, errPending == nil, s.done)
		}
		if s.done && rec.InputHash == "" {
			t.Fatalf("%s: no input hash", s.name)
		}
	}
}

// TestDeps: a change upstream reruns the stages downstream, a stage that
// names an unknown dependency fails, and outputs decode on skip as on run.
func TestDeps(t *testing.T) {
	root := t.TempDir()
	calls := map[string]int{}
	pipeline := func(v int) (map[string]int, error) {
		r := &Runner{}
		outs := map[string]int{}
		for i, n := range []string{"a", "b", "c"} {
			s := Stage{Name: n, Dir: filepath.Join(root, n), Settings: map[string]int{"v": 1}, Run: func(context.Context, string) (any, error) {
				calls[n]++
				return calls[n], nil
			}}
			if n == "b" {
				s.Settings = map[string]int{"v": v}
			}
			if i > 0 {
				s.Deps = []string{[]string{"a", "b", "c"}[i-1]}
			}
			var out int
			if _, err := r.Run(context.Background(), s, &out); err != nil {
				return nil, err
			}
			outs[n] = out
		}
		return outs, nil
	}
	for _, v := range []int{1, 1, 2} {
		if _, err := pipeline(v); err != nil {
			t.Fatal(err)
		}
	}
	if calls["a"] != 1 || calls["b"] != 2 || calls["c"] != 2 {
		t.Fatalf("calls %v, want a once, b and c twice", calls)
	}
	outs, err := pipeline(2)
	if err != nil {
		t.Fatal(err)
	}
	if outs["c"] != 2 {
		t.Fatalf("skipped stage's outputs %v, want c = 2", outs)
	}
	r := &Runner{}
	_, err = r.Run(context.Background(), Stage{Name: "d", Dir: filepath.Join(root, "d"), Deps: []string{"zzz"}, Run: func(context.Context, string) (any, error) { return nil, nil }}, nil)
	if err == nil || !strings.Contains(err.Error(), "stage d: needs stage zzz") {
		t.Fatalf("unknown dependency: error %v", err)
	}
}

func TestChanged(t *testing.T) {
	cases := []struct {
		old, cur string
		od, cd   map[string]string
		want     string
	}{
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`, nil, nil, "recorded by another version"},
		{`{"a":1,"b":2}`, `{"a":1,"b":3}`, nil, nil, "b"},
		{`{"a":1}`, `{"a":1,"c":3}`, nil, nil, "c"},
		{`{"a":1,"c":3}`, `{"a":1}`, nil, nil, "c"},
		{`[1]`, `[2]`, nil, nil, "settings"},
		{`{"a":1}`, `{"a":1}`, map[string]string{"x": "1"}, map[string]string{"x": "2"}, "upstream x"},
		{`{"t":{"lr":1,"steps":2},"s":1}`, `{"t":{"lr":2,"steps":2},"s":1}`, nil, nil, "t.lr"},
		{`{"t":{"lr":1}}`, `{"t":null}`, nil, nil, "t"},
	}
	for _, c := range cases {
		got := strings.Join(Changed(&Record{Settings: []byte(c.old), Deps: c.od}, &Record{Settings: []byte(c.cur), Deps: c.cd}), ", ")
		if got != c.want {
			t.Errorf("Changed(%s, %s) = %q, want %q", c.old, c.cur, got, c.want)
		}
	}
}

func TestCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Runner{}
	_, err := r.Run(context.Background(), Stage{Name: "s", Dir: dir, Run: func(context.Context, string) (any, error) { return nil, nil }}, nil)
	if err == nil || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("corrupt stage.json: error %v, want it to name the file", err)
	}
}
