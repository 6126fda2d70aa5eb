package shards

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// randomRows returns n random valid rows, some with loss masks.
func randomRows(rng *rand.Rand, n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		l := 1 + rng.IntN(300)
		r := Row{InputIDs: make([]int32, l), PositionIDs: make([]int32, l)}
		p := int32(0)
		for j := range l {
			r.InputIDs[j] = rng.Int32N(128256)
			p += 1 + rng.Int32N(5)
			r.PositionIDs[j] = p
		}
		if i%3 == 1 {
			r.LossMask = make([]bool, l)
			for j := range l {
				r.LossMask[j] = rng.IntN(2) == 0
			}
		}
		rows[i] = r
	}
	return rows
}

func writeDataset(t testing.TB, dir string, rows []Row, maxBytes int64) *Manifest {
	t.Helper()
	w, err := Create(dir, WriterOptions{MaxShardBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(Manifest{Method: "test", TargetLength: 1000, TrainLength: 300, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rows     int
		maxBytes int64
		shards   int // expected shard count, -1 = more than one
	}{
		{"empty", 0, 0, 0},
		{"one", 1, 0, 1},
		{"single shard", 50, 0, 1},
		{"many shards", 200, 20000, -1},
		{"shard per row", 5, 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.rows)))
			rows := randomRows(rng, tc.rows)
			dir := t.TempDir()
			m := writeDataset(t, dir, rows, tc.maxBytes)
			if tc.shards >= 0 && len(m.Shards) != tc.shards || tc.shards < 0 && len(m.Shards) < 2 {
				t.Fatalf("%d shards, want %d", len(m.Shards), tc.shards)
			}
			d, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Len() != len(rows) {
				t.Fatalf("Len %d, want %d", d.Len(), len(rows))
			}
			if err := d.(*ShardDataset).Verify(); err != nil {
				t.Fatal(err)
			}
			for i, want := range rows {
				got, err := d.Row(i)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("row %d differs", i)
				}
			}
			for _, i := range []int{-1, len(rows)} {
				if _, err := d.Row(i); err == nil {
					t.Errorf("Row(%d) gave no error", i)
				}
			}
		})
	}
}

func TestWriterRejectsBadRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  Row
		want string
	}{
		{"empty", Row{}, "no tokens"},
		{"length mismatch", Row{InputIDs: []int32{1, 2}, PositionIDs: []int32{0}}, "position ids"},
		{"mask mismatch", Row{InputIDs: []int32{1}, PositionIDs: []int32{0}, LossMask: []bool{true, false}}, "loss mask"},
		{"negative token", Row{InputIDs: []int32{-1}, PositionIDs: []int32{0}}, "negative input id"},
		{"negative position", Row{InputIDs: []int32{1}, PositionIDs: []int32{-3}}, "negative position"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Create(t.TempDir(), WriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			err = w.Write(tc.row)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestStaleShardsRemoved(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(2, 2))
	writeDataset(t, dir, randomRows(rng, 100), 5000)
	m := writeDataset(t, dir, randomRows(rng, 3), 0)
	files, _ := filepath.Glob(filepath.Join(dir, shardFileGlob))
	if len(files) != len(m.Shards) {
		t.Fatalf("%d shard files on disk, manifest lists %d", len(files), len(m.Shards))
	}
}

// TestCorruptShards damages a valid shard in targeted ways; each must give
// an error from Open (or Verify), never a panic or silent success.
func TestCorruptShards(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 3))
	m := writeDataset(t, dir, randomRows(rng, 10), 0)
	path := filepath.Join(dir, m.Shards[0].File)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-5] }},
		{"header only", func(b []byte) []byte { return b[:headerSize] }},
		{"empty", func(b []byte) []byte { return nil }},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"version", func(b []byte) []byte { le.PutUint32(b[8:], 9); return b }},
		{"rows", func(b []byte) []byte { le.PutUint64(b[16:], le.Uint64(b[16:])+1); return b }},
		{"tokens", func(b []byte) []byte { le.PutUint64(b[24:], 1); return b }},
		{"index offset", func(b []byte) []byte { le.PutUint64(b[32:], 1<<62); return b }},
		{"row length", func(b []byte) []byte {
			io := le.Uint64(b[32:])
			le.PutUint32(b[io+8:], 1<<31)
			return b
		}},
		{"row offset", func(b []byte) []byte {
			io := le.Uint64(b[32:])
			le.PutUint64(b[io+16:], 3)
			return b
		}},
		{"payload byte (crc)", func(b []byte) []byte { b[headerSize+1] ^= 0x40; return b }},
		{"negative token", func(b []byte) []byte { le.PutUint32(b[headerSize:], 0xffffffff); return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.damage(append([]byte(nil), orig...))
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := OpenDir(dir)
			if err == nil {
				err = d.Verify()
				d.Close()
			}
			if err == nil {
				t.Fatal("damaged shard accepted")
			}
			if !strings.Contains(err.Error(), m.Shards[0].File) {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDir(dir); err != nil {
		t.Fatalf("restored shard: %v", err)
	}
}

func TestManifestErrors(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(4, 4))
	writeDataset(t, dir, randomRows(rng, 4), 0)
	mp := filepath.Join(dir, ManifestName)
	good, _ := os.ReadFile(mp)
	for _, tc := range []struct{ name, from, to string }{
		{"unknown field", `"method"`, `"methodd"`},
		{"path escape", `"shard-00000.lrs"`, `"../shard-00000.lrs"`},
		{"count mismatch", `"rows": 4,`, `"rows": 5,`},
		{"version", `"format_version": 1`, `"format_version": 2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := strings.Replace(string(good), tc.from, tc.to, 1)
			if b == string(good) {
				t.Fatalf("test edit %q not applied", tc.from)
			}
			os.WriteFile(mp, []byte(b), 0o644)
			if _, err := Open(dir); err == nil {
				t.Fatal("bad manifest accepted")
			}
		})
	}
}

func TestJSONL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.jsonl")
	content := `{"input_ids": [5, 6, 7]}

{"input_ids": [1, 2], "position_ids": [0, 9], "loss_mask": [0, true]}
{"input_ids": [3, 4], "labels": [-100, 4], "text": "ignored"}
`
	os.WriteFile(path, []byte(content), 0o644)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := []Row{
		{InputIDs: []int32{5, 6, 7}, PositionIDs: []int32{0, 1, 2}},
		{InputIDs: []int32{1, 2}, PositionIDs: []int32{0, 9}, LossMask: []bool{false, true}},
		{InputIDs: []int32{3, 4}, PositionIDs: []int32{0, 1}, LossMask: []bool{false, true}},
	}
	if d.Len() != len(want) {
		t.Fatalf("Len %d, want %d", d.Len(), len(want))
	}
	for i, w := range want {
		got, err := d.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("row %d = %+v, want %+v", i, got, w)
		}
	}
}

func TestJSONLErrors(t *testing.T) {
	for _, tc := range []struct{ name, line, want string }{
		{"no ids", `{"position_ids": [0]}`, "no input_ids"},
		{"not json", `{"input_ids": [1,`, "line 1"},
		{"length", `{"input_ids": [1, 2], "position_ids": [0]}`, "position ids"},
		{"mask value", `{"input_ids": [1], "loss_mask": [2]}`, "loss_mask entry"},
		{"both", `{"input_ids": [1], "loss_mask": [1], "labels": [1]}`, "both"},
		{"label value", `{"input_ids": [1], "labels": [2]}`, "neither -100"},
		{"float id", `{"input_ids": [1.5]}`, "line 1"},
		{"negative", `{"input_ids": [-1]}`, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.jsonl")
			os.WriteFile(path, []byte(tc.line+"\n"), 0o644)
			d, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			_, err = d.Row(0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// FuzzShardReader feeds arbitrary bytes as a shard file: parsing and reading
// every row must return errors, never panic.
func FuzzShardReader(f *testing.F) {
	dir := f.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	m := writeDataset(f, dir, randomRows(rng, 3), 0)
	good, err := os.ReadFile(filepath.Join(dir, m.Shards[0].File))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:headerSize])
	f.Add([]byte(shardMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, idx, err := parseIndex(b)
		if err != nil {
			return
		}
		for _, e := range idx {
			r, err := decodeRow(b, e)
			if err == nil {
				if err := CheckRow(r); err != nil {
					t.Fatalf("decoded row fails CheckRow: %v", err)
				}
			}
		}
	})
}

// TestExportFormats writes the same rows as JSONL and Parquet (with and
// without labels, one and several files) and reads them back through Open.
func TestExportFormats(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	masked := randomRows(rng, 40)
	plain := randomRows(rng, 40)
	for i := range plain {
		plain[i].LossMask = nil
	}
	for _, f := range []Format{JSONL, Parquet, Binary} {
		for _, tc := range []struct {
			name   string
			rows   []Row
			labels bool
			max    int64
		}{{"plain", plain, false, 0}, {"masked", masked, true, 0}, {"plain-labels-split", plain, true, 30000}} {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				w, err := Create(dir, WriterOptions{Format: f, Labels: tc.labels, MaxShardBytes: tc.max})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range tc.rows {
					if err := w.Write(r); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(Manifest{Method: "test"}); err != nil {
					t.Fatal(err)
				}
				d, err := OpenDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				if tc.max > 0 && len(d.Manifest().Shards) < 2 {
					t.Fatalf("%d data files, want several", len(d.Manifest().Shards))
				}
				if err := d.Verify(); err != nil {
					t.Fatal(err)
				}
				if d.Len() != len(tc.rows) {
					t.Fatalf("Len %d, want %d", d.Len(), len(tc.rows))
				}
				for i, want := range tc.rows {
					got, err := d.Row(i)
					if err != nil {
						t.Fatal(err)
					}
					if f != Binary && tc.labels && want.LossMask == nil {
						// labels = input ids everywhere reads back as an all-true mask.
						want.LossMask = make([]bool, len(want.InputIDs))
						for j := range want.LossMask {
							want.LossMask[j] = true
						}
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("row %d differs", i)
					}
				}
			})
		}
	}
	w, _ := Create(t.TempDir(), WriterOptions{Format: JSONL})
	if err := w.Write(masked[1]); err == nil || !strings.Contains(err.Error(), "labels") {
		t.Fatalf("masked row without labels column: %v", err)
	}
}
