package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// leftovers returns the names in dir other than want.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range entries {
		keep := false
		for _, w := range want {
			keep = keep || e.Name() == w
		}
		if !keep {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	for _, content := range []string{"first", "second, longer"} {
		if err := WriteFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("read %q, %v; want %q", b, err, content)
		}
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", st.Mode(), err)
	}
	if extra := leftovers(t, dir, "out.json"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
}

// TestWriteFailureKeepsOld: a fill that fails leaves the old file as it
// was and no temporary file, and the error names the destination.
func TestWriteFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		io.WriteString(w, "half of the new content")
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("old file now %q", b)
	}
	if extra := leftovers(t, dir, "out"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
}

// TestCreateCommitAbort: the destination appears only at Commit; Abort
// removes the temporary file; a second Commit is an error; Abort after
// Commit does nothing.
func TestCreateCommitAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(f.Name()), ".f.tmp-") {
		t.Errorf("temporary name %s", f.Name())
	}
	f.WriteString("data")
	if _, err := os.Stat(path); err == nil {
		t.Fatal("destination visible before Commit")
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort()
	if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Errorf("content %q", b)
	}
	if err := f.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}

	g, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	g.WriteString("discarded")
	g.Abort()
	g.Abort()
	if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Errorf("Abort changed the destination: %q", b)
	}
	if err := g.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if extra := leftovers(t, dir, "f"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir", "f")
	if _, err := Create(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing folder: %v", err)
	}
	// Renaming over a non-empty folder fails: the error names the path
	// and the temporary file is gone.
	target := filepath.Join(dir, "busy")
	os.MkdirAll(filepath.Join(target, "x"), 0o755)
	if err := WriteFile(target, []byte("x")); err == nil || !strings.Contains(err.Error(), target) {
		t.Errorf("rename over a folder: %v", err)
	}
	if extra := leftovers(t, dir, "busy"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
}

// TestRemoveStale: the temporaries of a killed write are removed for the
// names asked for, and nothing else is.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".model.safetensors.tmp-123", ".config.json.tmp-9", ".other.txt.tmp-1", "model.safetensors", ".hidden", "x.tmp-1"} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	os.Mkdir(filepath.Join(dir, ".model.safetensors.tmp-dir"), 0o755)
	removed, err := RemoveStale(dir, func(name string) bool { return name == "model.safetensors" || name == "config.json" })
	if err != nil || len(removed) != 2 {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if extra := leftovers(t, dir, ".other.txt.tmp-1", "model.safetensors", ".hidden", "x.tmp-1", ".model.safetensors.tmp-dir"); extra != nil {
		t.Errorf("unexpected entries %v", extra)
	}
	if got := leftovers(t, dir); len(got) != 5 {
		t.Errorf("entries %v", got)
	}
}
