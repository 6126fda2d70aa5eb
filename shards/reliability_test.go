package shards

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestEveryReaderChecksCRC is the regression test of F3: a flipped byte in
// a data file is an error for a plain Row reader (as train uses), not only
// for Verify, in every format.
func TestEveryReaderChecksCRC(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	rows := randomRows(rng, 12)
	for i := range rows {
		rows[i].LossMask = nil
	}
	for _, f := range []Format{Binary, JSONL, Parquet} {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			w, err := Create(dir, WriterOptions{Format: f})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(Manifest{Method: "test"}); err != nil {
				t.Fatal(err)
			}
			m, err := ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, m.Shards[0].File)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Flip a bit that keeps the file readable: a digit of a token
			// id in JSONL, a token byte in a native shard, a byte in the
			// middle of a Parquet file.
			switch f {
			case Binary:
				b[headerSize+1] ^= 0x01
			case JSONL:
				i := strings.Index(string(b), `"input_ids": [`) + len(`"input_ids": [`)
				for b[i] < '0' || b[i] > '8' {
					i++
				}
				b[i]++
			case Parquet:
				b[len(b)/2] ^= 0x01
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := OpenDir(dir)
			if err != nil {
				if f == Parquet && strings.Contains(err.Error(), m.Shards[0].File) {
					return // the damage broke the Parquet structure: caught at open
				}
				t.Fatal(err)
			}
			defer d.Close()
			for i := range d.Len() {
				_, err = d.Row(i)
				if err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), "CRC-32C") || !strings.Contains(err.Error(), m.Shards[0].File) {
				t.Fatalf("rows of a damaged file read without a CRC error: %v", err)
			}
		})
	}
}

// TestHugeJSONLRowRefused is the F1 regression test for datasets: a line
// over MaxJSONLRowBytes is refused while indexing, naming the line and its
// length, without holding the line in memory.
func TestHugeJSONLRowRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rows.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"input_ids": [1, 2]}` + "\n" + `{"input_ids": [1`)
	chunk := []byte(strings.Repeat(", 7", 1<<16))
	n := 16
	for written := 0; written <= MaxJSONLRowBytes; written += len(chunk) {
		f.Write(chunk)
		n += len(chunk)
	}
	f.WriteString("]}\n")
	n += 2
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = OpenJSONL(path)
	runtime.ReadMemStats(&after)
	want := "rows.jsonl line 2: " + strconv.Itoa(n) + " bytes, over the limit"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("indexing allocated %d bytes", grew)
	}
}

// TestCreateRemovesStale: the temporaries of a killed prepare (a data file
// each) are removed when the dataset is written again.
func TestCreateRemovesStale(t *testing.T) {
	dir := t.TempDir()
	stale := []string{".shard-00000.lrs.tmp-1", ".data-00001.jsonl.tmp-2", ".manifest.json.tmp-3"}
	for _, s := range stale {
		os.WriteFile(filepath.Join(dir, s), make([]byte, 100), 0o644)
	}
	writeDataset(t, dir, randomRows(rand.New(rand.NewPCG(1, 1)), 3), 0)
	for _, s := range stale {
		if _, err := os.Stat(filepath.Join(dir, s)); err == nil {
			t.Errorf("%s is still there", s)
		}
	}
}
