package lock

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no stale-lock detection on windows")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func writeHolder(t *testing.T, output string, h Holder) string {
	t.Helper()
	p, err := Path(output)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(h)
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSecondTakerFails: while one holder has the lock, a second Take on
// the same output (also through a symbolic link) fails at once naming the
// holder; after Release it succeeds, and the lock file is gone.
func TestSecondTakerFails(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	os.Mkdir(out, 0o755)
	os.Symlink(out, filepath.Join(dir, "link"))
	l, err := Take(out, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	for _, o := range []string{out, filepath.Join(dir, "link"), out + "/"} {
		_, err := Take(o, "test", nil)
		want := "is locked by pid " + itoa(os.Getpid()) + " on " + host
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("second Take(%s): %v, want %q", o, err, want)
		}
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	p, _ := Path(out)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("lock file left after Release: %v", err)
	}
	l2, err := Take(out, "test", nil)
	if err != nil {
		t.Fatalf("Take after Release: %v", err)
	}
	ReleaseAll()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("lock file left after ReleaseAll: %v", err)
	}
	l2.Release() // a second release is a no-op
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestStaleLockTakenOver: a lock of a process that is gone (same host) is
// taken over, once, with a note; one held on another host is not; a
// broken lock file is refused with its path.
func TestStaleLockTakenOver(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	host, _ := os.Hostname()
	dead := deadPID(t)
	writeHolder(t, out, Holder{PID: dead, Host: host, Since: time.Unix(1, 0).UTC()})
	var notes []string
	l, err := Take(out, "test", func(s string) { notes = append(notes, s) })
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "stale lock of pid "+itoa(dead)) {
		t.Errorf("notes %q", notes)
	}
	l.Release()

	writeHolder(t, out, Holder{PID: dead, Host: host + "-elsewhere", Since: time.Unix(1, 0).UTC()})
	if _, err := Take(out, "test", nil); err == nil || !strings.Contains(err.Error(), "locked by pid "+itoa(dead)+" on "+host+"-elsewhere") {
		t.Errorf("lock of another host: %v", err)
	}
	p, _ := Path(out)
	os.WriteFile(p, []byte("junk\n"), 0o644)
	if _, err := Take(out, "test", nil); err == nil || !strings.Contains(err.Error(), "not a lock file") || !strings.Contains(err.Error(), p) {
		t.Errorf("broken lock file: %v", err)
	}
}

// TestRacingTakers: of many takers at once, on a free lock and on a stale
// one, exactly one holds it.
func TestRacingTakers(t *testing.T) {
	host, _ := os.Hostname()
	dead := deadPID(t)
	for _, stale := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "run")
		if stale {
			writeHolder(t, out, Holder{PID: dead, Host: host, Since: time.Unix(1, 0).UTC()})
		}
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []*Lock
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if l, err := Take(out, "test", nil); err == nil {
					mu.Lock()
					won = append(won, l)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(won) != 1 {
			t.Errorf("stale=%v: %d takers hold the lock, want 1", stale, len(won))
		}
		p, _ := Path(out)
		if _, err := os.Stat(p); err != nil {
			t.Errorf("stale=%v: lock file missing while held: %v", stale, err)
		}
		for _, l := range won {
			l.Release()
		}
		matches, _ := filepath.Glob(p + "*")
		if len(matches) != 0 {
			t.Errorf("stale=%v: files left: %v", stale, matches)
		}
	}
}

// TestNoTraceLeft: the parent folders Take creates for the lock file go
// again on Release (while empty), so a command that fails leaves nothing;
// folders the command filled stay.
func TestNoTraceLeft(t *testing.T) {
	dir := t.TempDir()
	for _, fill := range []bool{false, true} {
		out := filepath.Join(dir, "a", "b", "out")
		l, err := Take(out, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		if fill {
			os.MkdirAll(out, 0o755)
		}
		l.Release()
		_, err = os.Stat(filepath.Join(dir, "a"))
		if fill != (err == nil) {
			t.Errorf("filled %v: stat of the created parent: %v", fill, err)
		}
	}
}

// TestInsideLockedFolder: an output inside a folder a live holder has
// locked (a train into a stage folder of a running recipe) is refused;
// a stale lock above is ignored.
func TestInsideLockedFolder(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	l, err := Take(run, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	stageDir := filepath.Join(run, "2-extend")
	if _, err := Take(stageDir, "test", nil); err == nil || !strings.Contains(err.Error(), "is inside "+run+", which is locked by pid") {
		t.Errorf("output inside a locked folder: %v", err)
	}
	l.Release()
	host, _ := os.Hostname()
	writeHolder(t, run, Holder{PID: deadPID(t), Host: host, Since: time.Unix(1, 0).UTC()})
	l2, err := Take(stageDir, "test", nil)
	if err != nil {
		t.Fatalf("stale lock above: %v", err)
	}
	l2.Release()
}

// FuzzParse: any lock-file content parses to a holder with a pid > 0 or
// to an error, never a panic; a holder written by Take parses back.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"pid":12,"host":"h","since":"2026-01-01T00:00:00Z"}` + "\n"))
	f.Add([]byte("junk"))
	f.Add([]byte(`{"pid":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parse(b)
		if err == nil && h.PID <= 0 {
			t.Fatalf("parsed pid %d from %q", h.PID, b)
		}
		if err == nil {
			again, _ := json.Marshal(h)
			if h2, err := parse(again); err != nil || !same(h, h2) {
				t.Fatalf("round trip of %+v: %+v, %v", h, h2, err)
			}
		}
	})
}
