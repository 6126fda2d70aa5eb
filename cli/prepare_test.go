package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/shards"
)

// prepareFixture writes the synth-a tokenizer (a small byte-level BPE) and
// a JSONL text corpus into a temp folder.
func prepareFixture(t *testing.T) (tok, corpus, replay string) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open("../data/testdata/synth-a-tokenizer.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	tok = filepath.Join(dir, "tokenizer.json")
	os.WriteFile(tok, b, 0o644)
	rng := rand.New(rand.NewPCG(1, 1))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while 42 needles hide in 1999 haystacks and nobody sees them")
	var sb, rb strings.Builder
	for range 30 {
		var doc strings.Builder
		for doc.Len() < 4000+rng.IntN(16000) {
			for k := range 3 + rng.IntN(15) {
				if k > 0 {
					doc.WriteByte(' ')
				}
				doc.WriteString(words[rng.IntN(len(words))])
			}
			doc.WriteString([]string{". ", "? ", "! ", ".\n"}[rng.IntN(4)])
		}
		line, _ := json.Marshal(map[string]string{"text": doc.String()})
		sb.Write(line)
		sb.WriteByte('\n')
		rl, _ := json.Marshal(map[string]string{"instruction": "Say " + words[rng.IntN(len(words))], "output": doc.String()[:1500]})
		rb.Write(rl)
		rb.WriteByte('\n')
	}
	corpus = filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(corpus, []byte(sb.String()), 0o644)
	replay = filepath.Join(dir, "replay.jsonl")
	os.WriteFile(replay, []byte(rb.String()), 0o644)
	return tok, corpus, replay
}

func prepRunCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

// dirBytes returns every file of a folder, by name.
func prepDirBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// TestPrepareAndStats runs prepare for every method and format with one
// and two threads (byte-identical output), reads the result back and runs
// stats with charts.
func TestPrepareAndStats(t *testing.T) {
	tok, corpus, replay := prepareFixture(t)
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"longrecipe", []string{"--method", "longrecipe", "--target-length", "4k", "--ratio", "0.25", "--impactful", "digits"}},
		{"longrecipe-r", []string{"--method", "longrecipe", "--target-length", "4096", "--train-length", "1k", "--select-ratio", "0.6", "--format", "jsonl"}},
		{"pose", []string{"--method", "pose", "--target-length", "4k", "--train-length", "512", "--format", "parquet"}},
		{"randpos", []string{"--method", "randpos", "--target-length", "4k", "--train-length", "512"}},
		{"full", []string{"--method", "full", "--target-length", "1k"}},
		{"replay", []string{"--method", "replay", "--target-length", "1k", "--train-length", "256", "--prompt-field", "instruction", "--response-field", "output", "--mask-prompt", "--format", "parquet"}},
		{"mixed", []string{"--method", "longrecipe", "--target-length", "4k", "--train-length", "512", "--replay-input", "REPLAY", "--replay-fraction", "0.2", "--prompt-field", "instruction", "--response-field", "output"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := corpus
			if tc.name == "replay" {
				in = replay
			}
			var outs []map[string][]byte
			for _, threads := range []string{"1", "2"} {
				dir := filepath.Join(out, tc.name+"-"+threads)
				args := append([]string{"prepare", "--tokenizer", tok, "--input", in, "--output", dir, "--threads", threads}, tc.args...)
				for i, a := range args {
					if a == "REPLAY" {
						args[i] = replay
					}
				}
				if code, _, stderr := prepRunCLI(args...); code != 0 {
					t.Fatalf("prepare exit %d: %s", code, stderr)
				}
				outs = append(outs, prepDirBytes(t, dir))
			}
			if !reflect.DeepEqual(outs[0], outs[1]) {
				t.Fatal("output differs between --threads 1 and 2")
			}
			dir := filepath.Join(out, tc.name+"-1")
			d, err := shards.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			m := d.Manifest()
			if d.Len() == 0 || int64(d.Len()) != m.Counts.Rows {
				t.Fatalf("%d rows, manifest %d", d.Len(), m.Counts.Rows)
			}
			replayRows, masked := 0, 0
			for i := range d.Len() {
				r, err := d.Row(i)
				if err != nil {
					t.Fatal(err)
				}
				if len(r.InputIDs) != m.TrainLength {
					t.Fatalf("row %d has %d tokens, want %d", i, len(r.InputIDs), m.TrainLength)
				}
				plain := true
				for j, p := range r.PositionIDs {
					if int(p) >= m.TargetLength || j > 0 && p <= r.PositionIDs[j-1] {
						t.Fatalf("row %d: bad position %d at %d", i, p, j)
					}
					plain = plain && int(p) == j
				}
				if tc.name == "replay" {
					if !plain || r.LossMask == nil {
						t.Fatalf("replay row %d: plain positions %v, has mask %v", i, plain, r.LossMask != nil)
					}
					for _, m := range r.LossMask {
						if !m {
							masked++
						}
					}
				}
				if tc.name == "mixed" && plain {
					replayRows++
				}
			}
			if tc.name == "replay" && (masked == 0 || masked == d.Len()*m.TrainLength) {
				t.Fatalf("replay: %d of %d tokens masked", masked, d.Len()*m.TrainLength)
			}
			if tc.name == "mixed" {
				frac := float64(replayRows) / float64(d.Len())
				if m.Counts.ReplayRows != int64(replayRows) || frac < 0.15 || frac > 0.2 {
					t.Fatalf("%d replay rows of %d (manifest %d)", replayRows, d.Len(), m.Counts.ReplayRows)
				}
			}
			pngs := filepath.Join(out, tc.name+"-png")
			code, stdout, stderr := prepRunCLI("stats", "--png-dir", pngs, dir)
			if code != 0 {
				t.Fatalf("stats exit %d: %s", code, stderr)
			}
			var rep statsReport
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatal(err)
			}
			s := rep.Datasets[0]
			if s.Rows != int64(d.Len()) || s.Method != m.Method || s.MeanSegment <= 0 {
				t.Fatalf("stats %+v", s)
			}
			for _, p := range []string{"coverage.png", "lengths.png", "segments.png"} {
				if st, err := os.Stat(filepath.Join(pngs, p)); err != nil || st.Size() == 0 {
					t.Fatalf("%s: %v", p, err)
				}
			}
		})
	}
}

func TestPreparePreTokenized(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "ids.jsonl")
	var sb strings.Builder
	for i := range 10 {
		ids := make([]int, 300+i)
		for j := range ids {
			ids[j] = j % 1000
		}
		b, _ := json.Marshal(map[string]any{"input_ids": ids})
		sb.Write(b)
		sb.WriteByte('\n')
	}
	os.WriteFile(in, []byte(sb.String()), 0o644)
	out := filepath.Join(dir, "out")
	if code, _, stderr := prepRunCLI("prepare", "--input", in, "--output", out, "--method", "randpos", "--target-length", "1000", "--train-length", "300"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	d, err := shards.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Len() != 10 {
		t.Fatalf("%d rows", d.Len())
	}
	// LongRecipe needs sentence ends, hence a tokenizer.
	code, _, stderr := prepRunCLI("prepare", "--input", in, "--output", out, "--method", "longrecipe", "--target-length", "1000", "--train-length", "300")
	if code != 2 || !strings.Contains(stderr, "--tokenizer") {
		t.Fatalf("longrecipe without tokenizer: exit %d: %s", code, stderr)
	}
}

func TestPrepareUsageErrors(t *testing.T) {
	base := []string{"prepare", "--input", "x.jsonl", "--output", "o", "--method", "randpos"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no target", nil, "--target-length"},
		{"bad length", []string{"--target-length", "12q", "--train-length", "5"}, "length"},
		{"ls > lt", []string{"--target-length", "10", "--train-length", "11"}, "train length"},
		{"no ls", []string{"--target-length", "10"}, "--train-length or --ratio"},
		{"both ls", []string{"--target-length", "10", "--train-length", "5", "--ratio", "0.3"}, "not both"},
		{"bad ratio", []string{"--target-length", "10", "--ratio", "1.5"}, "--ratio"},
		{"both drop", []string{"--target-length", "10", "--train-length", "5", "--drop-prob", "0.2", "--select-ratio", "0.6"}, "not both"},
		{"bad method", []string{"--target-length", "10", "--train-length", "5", "--method", "yarn"}, "unknown method"},
		{"bad format", []string{"--target-length", "10", "--train-length", "5", "--format", "csv"}, "unknown format"},
		{"replay half", []string{"--target-length", "10", "--train-length", "5", "--replay-fraction", "0.1"}, "go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := prepRunCLI(append(append([]string{}, base...), tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

func TestParseLength(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"80k", 81920, true}, {"128K", 131072, true}, {"1m", 1 << 20, true}, {"24576", 24576, true},
		{"0", 0, false}, {"-5", 0, false}, {"1.5k", 0, false}, {"k", 0, false}, {"4096m", 0, false},
	} {
		got, err := parseLength(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseLength(%q) = %d, %v", tc.in, got, err)
		}
	}
}

// TestPrepareFailuresLeaveNothing: prepare refuses to replace an existing
// dataset without --force, fails (exit 1, a clear message) when no
// document gives a row, and leaves no folder behind after a failed input.
func TestPrepareFailuresLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "ids.jsonl")
	os.WriteFile(in, []byte(`{"input_ids": [1, 2, 3]}`+"\n"), 0o644)
	args := func(in, out string, more ...string) []string {
		return append([]string{"prepare", "--input", in, "--output", out, "--method", "randpos", "--target-length", "1000", "--train-length", "300"}, more...)
	}
	out := filepath.Join(dir, "new", "out")
	code, _, stderr := prepRunCLI(args(in, out)...)
	if code != 1 || !strings.Contains(stderr, "no rows: 1 documents read") {
		t.Errorf("0 rows: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("a prepare with 0 rows left its folder")
	}
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{not json\n"), 0o644)
	if code, _, stderr := prepRunCLI(args(bad, out)...); code != 1 || !strings.Contains(stderr, "bad.jsonl:1") {
		t.Errorf("bad input: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("a failed prepare left its folder")
	}
	var sb strings.Builder
	for range 3 {
		sb.WriteString(`{"input_ids": [` + strings.Repeat("5, ", 299) + "5]}\n")
	}
	os.WriteFile(in, []byte(sb.String()), 0o644)
	if code, _, stderr := prepRunCLI(args(in, out)...); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	if code, _, stderr := prepRunCLI(args(in, out)...); code != 1 || !strings.Contains(stderr, "not empty (use --force") {
		t.Errorf("existing output: exit %d, %s", code, stderr)
	}
	if code, _, stderr := prepRunCLI(args(in, out, "--force")...); code != 0 {
		t.Errorf("--force: exit %d, %s", code, stderr)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(dir, link)
	if code, _, stderr := prepRunCLI(args(in, link, "--force")...); code != 1 || !strings.Contains(stderr, "contains the input") {
		t.Errorf("output is a link to the input's folder: exit %d, %s", code, stderr)
	}
}
