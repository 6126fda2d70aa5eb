//go:build unix

package paths

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFORefusedWithoutBlocking: a FIFO with no writer in place of a data
// file is refused at once (before this check, open blocked forever).
func TestFIFORefusedWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 3)
	go func() { done <- CheckRegular(fifo) }()
	go func() {
		f, err := OpenRegular(fifo)
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	go func() { _, err := ReadRegular(fifo); done <- err }()
	for range 3 {
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "FIFO") {
				t.Errorf("error %v, want a FIFO refusal", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("blocked on a FIFO")
		}
	}
	reg := filepath.Join(dir, "ok")
	os.WriteFile(reg, []byte("data"), 0o644)
	f, err := OpenRegular(reg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4)
	if n, err := f.Read(b); n != 4 || err != nil {
		t.Errorf("read %d, %v", n, err)
	}
}
