//go:build unix

package data

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCorpusHugeLine is the F1 regression test for corpora: a JSONL line
// over MaxDocumentBytes is an error naming the file, the line and the
// length, and reading it does not hold the line in memory.
func TestCorpusHugeLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"text": "short"}` + "\n" + `{"text": "`)
	chunk := []byte(strings.Repeat("word ", 1<<16))
	n := len(`{"text": "`)
	for n <= MaxDocumentBytes {
		f.Write(chunk)
		n += len(chunk)
	}
	f.WriteString("\"}\n")
	n += 2
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCorpus(path, CorpusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d, err := c.Next(); err != nil || d.Decode() != nil || d.Text != "short" {
		t.Fatalf("first document: %+v, %v", d, err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = c.Next()
	runtime.ReadMemStats(&after)
	want := "c.jsonl line 2: " + strconv.Itoa(n) + " bytes, over the limit"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("reading the long line allocated %d bytes", grew)
	}
	if _, err := c.Next(); err != io.EOF {
		t.Errorf("after the long line: %v, want EOF", err)
	}
}

// TestCorpusFIFO: a FIFO as a corpus file is refused without blocking (F5).
func TestCorpusFIFO(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"c.jsonl", "c.txt", "c.parquet"} {
		fifo := filepath.Join(dir, name)
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		done := make(chan error, 1)
		go func() {
			c, err := OpenCorpus(fifo, CorpusOptions{})
			if err == nil {
				_, err = c.Next()
				c.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "FIFO") {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: blocked on a FIFO", name)
		}
	}
}
