// Package inputs writes the text inputs of a run on the embedded corpus,
// for the quickstart and the experiment alike: the corpus's training split,
// its held-out split and replay records (prompt/response pairs made from
// the training split by tinybase.ReplayRecords), each as a JSONL file.
//
// The files are a pure function of Options: a file whose content would not
// change is left alone (its modification time kept), so a rerun finds the
// same inputs and its stages are skipped.
package inputs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/tinybase"
)

// Options say where the files go and what they hold.
type Options struct {
	// Dir is the folder of the three files, named Train, HeldOut and
	// Replay inside it ("train.jsonl", "heldout.jsonl", "replay.jsonl"
	// when empty).
	Dir                    string
	Train, HeldOut, Replay string
	// Seed draws the replay records.
	Seed int64
	// ReplayRecords is the number of replay records (400), ReplayWords
	// the length of each one's text in words.
	ReplayRecords, ReplayWords int
	// MaxDocs keeps only the first MaxDocs training documents and the
	// first max(MaxDocs/4, 2) held-out ones (0: all).
	MaxDocs int
	// MaxHeldOut, when > 0, keeps at most that many held-out documents
	// (after MaxDocs).
	MaxHeldOut int
	// TrainText, when set, turns the training documents' texts into the
	// texts of the training file's records (the experiment cuts them into
	// target-length chunks). The replay records are drawn from the
	// documents themselves.
	TrainText func(docs []string) []string
	// JoinWords, when > 0, joins consecutive documents of each split
	// (blank line between) until each has at least JoinWords words, for
	// windows longer than one document; a short remainder joins the last
	// document. Replay records are drawn from the unjoined documents.
	JoinWords int
}

// Files are the written files.
type Files struct {
	// Train, HeldOut and Replay are the files' paths.
	Train, HeldOut, Replay string
	// SHA256 is each file's content hash, by "train", "heldout" and
	// "replay".
	SHA256 map[string]string
	// HeldOutTexts are the held-out documents' texts.
	HeldOutTexts []string
}

// Write writes (or keeps) the three files.
func Write(o Options) (*Files, error) {
	if o.ReplayWords <= 0 {
		return nil, fmt.Errorf("inputs: replay length %d words: want > 0", o.ReplayWords)
	}
	docs, err := assets.Corpus()
	if err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	trainDocs, heldOut, err := assets.Split(docs, assets.DefaultHeldOutPercent)
	if err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	if n := o.MaxDocs; n > 0 {
		trainDocs = trainDocs[:min(n, len(trainDocs))]
		heldOut = heldOut[:min(max(n/4, 2), len(heldOut))]
	}
	if o.MaxHeldOut > 0 {
		heldOut = heldOut[:min(o.MaxHeldOut, len(heldOut))]
	}
	train, held := texts(trainDocs), texts(heldOut)
	words := make([][]string, len(train))
	for i, t := range train {
		words[i] = strings.Fields(t)
	}
	recs := tinybase.ReplayRecords(rand.New(rand.NewPCG(uint64(o.Seed), 0x5e)), words, orDefault(o.ReplayRecords, 400), o.ReplayWords)
	if o.TrainText != nil {
		train = o.TrainText(train)
	}
	if o.JoinWords > 0 {
		train, held = Join(train, o.JoinWords), Join(held, o.JoinWords)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	f := &Files{
		Train: filepath.Join(o.Dir, name(o.Train, "train.jsonl")), HeldOut: filepath.Join(o.Dir, name(o.HeldOut, "heldout.jsonl")),
		Replay: filepath.Join(o.Dir, name(o.Replay, "replay.jsonl")), SHA256: map[string]string{}, HeldOutTexts: held,
	}
	for _, w := range []struct {
		key, path string
		n         int
		rec       func(i int) any
	}{
		{"train", f.Train, len(train), func(i int) any { return map[string]string{"text": train[i]} }},
		{"heldout", f.HeldOut, len(held), func(i int) any { return map[string]string{"text": held[i]} }},
		{"replay", f.Replay, len(recs), func(i int) any { return recs[i] }},
	} {
		if f.SHA256[w.key], err = writeJSONL(w.path, w.n, w.rec); err != nil {
			return nil, fmt.Errorf("inputs: %s: %w", w.path, err)
		}
	}
	return f, nil
}

// Join joins consecutive texts (blank line between) until each has at
// least minWords words; a remainder shorter than that joins the last one.
func Join(texts []string, minWords int) []string {
	var out []string
	var cur []string
	words := 0
	for _, t := range texts {
		cur = append(cur, t)
		if words += len(strings.Fields(t)); words >= minWords {
			out = append(out, strings.Join(cur, "\n\n"))
			cur, words = nil, 0
		}
	}
	switch {
	case len(cur) > 0 && len(out) > 0:
		out[len(out)-1] += "\n\n" + strings.Join(cur, "\n\n")
	case len(cur) > 0:
		out = append(out, strings.Join(cur, "\n\n"))
	}
	return out
}

func texts(docs []assets.Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Text
	}
	return out
}

func name(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// writeJSONL writes n records atomically, unless an identical file exists,
// and returns the content's SHA-256.
func writeJSONL(path string, n int, rec func(i int) any) (string, error) {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		b, err := json.Marshal(rec(i))
		if err != nil {
			return "", err
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	sum := sha256.Sum256([]byte(sb.String()))
	hash := hex.EncodeToString(sum[:])
	if old, err := paths.ReadRegular(path); err == nil && string(old) == sb.String() {
		return hash, nil
	}
	return hash, atomicfile.WriteFile(path, []byte(sb.String()))
}
