package inputs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func lines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, Replay: "r.jsonl", Seed: 3, ReplayRecords: 20, ReplayWords: 50, MaxDocs: 12}
	f, err := Write(o)
	if err != nil {
		t.Fatal(err)
	}
	if f.Train != filepath.Join(dir, "train.jsonl") || f.Replay != filepath.Join(dir, "r.jsonl") {
		t.Fatalf("paths %s, %s", f.Train, f.Replay)
	}
	train, held, replay := lines(t, f.Train), lines(t, f.HeldOut), lines(t, f.Replay)
	if len(train) != 12 || len(held) != 3 || len(replay) != 20 || len(f.HeldOutTexts) != 3 {
		t.Fatalf("%d train, %d held-out (%d texts), %d replay lines; want 12, 3, 20", len(train), len(held), len(f.HeldOutTexts), len(replay))
	}
	if train[0]["text"] == "" || replay[0]["prompt"] == nil || replay[0]["response"] == nil || held[0]["text"] != f.HeldOutTexts[0] {
		t.Fatalf("records: %v / %v / %v", train[0], replay[0], held[0])
	}
	for key, p := range map[string]string{"train": f.Train, "heldout": f.HeldOut, "replay": f.Replay} {
		b, _ := os.ReadFile(p)
		sum := sha256.Sum256(b)
		if f.SHA256[key] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: hash %s is not the file's", key, f.SHA256[key])
		}
	}
	// A rerun with the same options leaves the files alone; another seed
	// rewrites the replay file only.
	old := time.Unix(1e9, 0)
	for _, p := range []string{f.Train, f.HeldOut, f.Replay} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	o.Seed = 4
	g, err := Write(o)
	if err != nil {
		t.Fatal(err)
	}
	for p, changed := range map[string]bool{f.Train: false, f.HeldOut: false, f.Replay: true} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().Equal(old) == changed {
			t.Errorf("%s: rewritten %v, want %v", p, !fi.ModTime().Equal(old), changed)
		}
	}
	if g.SHA256["replay"] == f.SHA256["replay"] || g.SHA256["train"] != f.SHA256["train"] {
		t.Error("hashes do not follow the contents")
	}
	if _, err := Write(Options{Dir: dir}); err == nil {
		t.Error("zero replay length accepted")
	}
}

// TestTrainTextAndMaxHeldOut: TrainText rewrites the training records only
// (the replay records come from the documents), MaxHeldOut caps the
// held-out split.
func TestTrainTextAndMaxHeldOut(t *testing.T) {
	o := Options{Dir: t.TempDir(), Seed: 3, ReplayRecords: 20, ReplayWords: 50, MaxDocs: 12}
	f, err := Write(o)
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	o.Dir, o.MaxHeldOut = t.TempDir(), 2
	o.TrainText = func(docs []string) []string { seen = len(docs); return []string{"a", "b"} }
	g, err := Write(o)
	if err != nil {
		t.Fatal(err)
	}
	train, held := lines(t, g.Train), lines(t, g.HeldOut)
	if seen != 12 || len(train) != 2 || train[1]["text"] != "b" {
		t.Errorf("TrainText saw %d documents, wrote %v; want 12 and the two texts", seen, train)
	}
	if len(held) != 2 || len(g.HeldOutTexts) != 2 || g.HeldOutTexts[1] != f.HeldOutTexts[1] {
		t.Errorf("%d held-out lines, %d texts; want the first 2", len(held), len(g.HeldOutTexts))
	}
	if g.SHA256["replay"] != f.SHA256["replay"] {
		t.Error("the replay records changed with TrainText")
	}
}

func TestJoin(t *testing.T) {
	for _, c := range []struct {
		in   []string
		min  int
		want []string
	}{
		{nil, 3, nil},
		{[]string{"a b"}, 3, []string{"a b"}},
		{[]string{"a b c", "d"}, 3, []string{"a b c\n\nd"}},
		{[]string{"a b", "c", "d e f", "g h i"}, 3, []string{"a b\n\nc", "d e f", "g h i"}},
		{[]string{"a", "b", "c", "d"}, 2, []string{"a\n\nb", "c\n\nd"}},
	} {
		if got := Join(c.in, c.min); !slices.Equal(got, c.want) {
			t.Errorf("Join(%q, %d) = %q, want %q", c.in, c.min, got, c.want)
		}
	}
}

// TestWriteJoinWords: every joined document of both splits has at least
// the asked words, and no text is lost.
func TestWriteJoinWords(t *testing.T) {
	plain, err := Write(Options{Dir: t.TempDir(), ReplayWords: 50})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Write(Options{Dir: t.TempDir(), ReplayWords: 50, JoinWords: 20000})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]string{{plain.Train, f.Train}, {plain.HeldOut, f.HeldOut}} {
		a, b := lines(t, p[0]), lines(t, p[1])
		if len(b) == 0 || len(b) >= len(a) {
			t.Fatalf("%s: %d joined documents from %d", p[1], len(b), len(a))
		}
		var wa, wb int
		for _, r := range a {
			wa += len(strings.Fields(r["text"].(string)))
		}
		for _, r := range b {
			n := len(strings.Fields(r["text"].(string)))
			if n < 20000 {
				t.Errorf("%s: a joined document of %d words", p[1], n)
			}
			wb += n
		}
		if wa != wb {
			t.Errorf("%s: %d words, unjoined %d", p[1], wb, wa)
		}
	}
}
