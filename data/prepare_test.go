package data

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/positions"
	"github.com/longrecipe/longrecipe/shards"
)

// writeCorpus writes n random text documents of varied length as JSONL
// and returns the path and the documents' token ids (byteTok, with BOS).
func writeCorpus(t testing.TB, dir string, seed uint64, n, minLen, maxLen int) (string, [][]int32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	path := filepath.Join(dir, fmt.Sprintf("corpus-%d.jsonl", seed))
	var sb strings.Builder
	var docs [][]int32
	for range n {
		text := randomText(rng, minLen+rng.IntN(maxLen-minLen+1))
		b, _ := json.Marshal(map[string]string{"text": text})
		sb.Write(b)
		sb.WriteByte('\n')
		docs = append(docs, byteTok{}.Encode(text, true))
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, docs
}

func baseConfig(m Method, ls, lt int, seed uint64) Config {
	tok := byteTok{}
	return Config{
		Method: m, TargetLength: lt, TrainLength: ls, Seed: seed, Tokenizer: tok,
		Selector: Selector{Ends: SentenceEnds(tok), Impactful: DigitTokens(tok), DropProb: 0.5},
	}
}

// TestPrepareProperties runs every method over several seeds and lengths
// and checks each row against the method's invariants and its source
// document; then checks that the thread count changes nothing.
func TestPrepareProperties(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []Method{LongRecipe, PoSE, RandPos, Full} {
		for _, tc := range []struct {
			ls, lt int
			drop   float64
		}{{50, 200, 0.5}, {300, 1000, 0.9}, {300, 1000, 0}, {1000, 1000, 0.3}} {
			for seed := range uint64(3) {
				name := fmt.Sprintf("%s/ls%d-lt%d-p%v-seed%d", m, tc.ls, tc.lt, tc.drop, seed)
				t.Run(name, func(t *testing.T) {
					input, docs := writeCorpus(t, dir, seed, 40, 100, 4000)
					cfg := baseConfig(m, tc.ls, tc.lt, seed)
					cfg.Selector.DropProb = tc.drop
					cfg.Threads = 1
					rows, counts := runPrepare(t, input, cfg)
					checkRows(t, cfg, rows, docs, counts)
					cfg.Threads = 4
					rows4, counts4 := runPrepare(t, input, cfg)
					if !reflect.DeepEqual(rows, rows4) || !reflect.DeepEqual(counts, counts4) {
						t.Fatal("output differs between 1 and 4 threads")
					}
				})
			}
		}
	}
}

// checkRows checks rows against the documents they came from: row k must
// be exactly what BuildRow gives for the k-th non-skipped document with
// that document's own generator (so no document/position misalignment),
// and satisfy the method's invariants checked independently.
func checkRows(t *testing.T, cfg Config, rows []shards.Row, docs [][]int32, counts shards.Counts) {
	t.Helper()
	k := 0
	var skipped int64
	for i, doc := range docs {
		want, skip, err := cfg.BuildRow(DocRNG(cfg.Seed, int64(i)), doc)
		if err != nil {
			t.Fatal(err)
		}
		if skip != "" {
			skipped++
			continue
		}
		if k >= len(rows) {
			t.Fatalf("only %d rows, document %d should give one", len(rows), i)
		}
		got := rows[k]
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("row %d is not document %d's row", k, i)
		}
		checkRow(t, cfg, got, doc)
		k++
	}
	if k != len(rows) {
		t.Fatalf("%d rows, want %d", len(rows), k)
	}
	if len(rows) == 0 {
		t.Fatal("no rows: the test corpus is too short for these lengths")
	}
	if counts.Rows != int64(len(rows)) || counts.DocumentsRead != int64(len(docs)) || counts.DocumentsSkipped[SkipShort] != skipped {
		t.Fatalf("counts %+v, want rows %d, docs %d, skipped %d", counts, len(rows), len(docs), skipped)
	}
}

// checkRow checks one row's invariants without using the code under test.
func checkRow(t *testing.T, cfg Config, r shards.Row, doc []int32) {
	t.Helper()
	n := len(r.InputIDs)
	wantLen := cfg.TrainLength
	if cfg.Method == Full {
		wantLen = cfg.TargetLength
	}
	if n != wantLen || len(r.PositionIDs) != n {
		t.Fatalf("%d tokens and %d positions, want %d", n, len(r.PositionIDs), wantLen)
	}
	for j, p := range r.PositionIDs {
		if p < 0 || int(p) >= cfg.TargetLength || j > 0 && p <= r.PositionIDs[j-1] {
			t.Fatalf("position %d = %d breaks 0 <= p < %d, strictly increasing", j, p, cfg.TargetLength)
		}
	}
	if !isSubsequence(r.InputIDs, doc) {
		t.Fatal("row tokens are not a subsequence of the document")
	}
	// Impactful sentences are never dropped: every digit of the document's
	// first sentences up to the cut appears in the row, for longrecipe.
	switch cfg.Method {
	case LongRecipe:
		if r.PositionIDs[0] != 0 {
			t.Fatal("first position is not 0")
		}
		// Gaps only between kept sentences: a jump may only follow a
		// sentence-end token of the row itself (the reference computed
		// positions from unfiltered sentences, putting jumps mid-sentence).
		for j := 1; j < n; j++ {
			if r.PositionIDs[j] != r.PositionIDs[j-1]+1 && !cfg.Selector.Ends.Has(r.InputIDs[j-1]) {
				t.Fatalf("position jump inside a sentence at token %d", j)
			}
		}
	case PoSE:
		runs := 1
		for j := 1; j < n; j++ {
			if r.PositionIDs[j] != r.PositionIDs[j-1]+1 {
				runs++
			}
		}
		if runs > 2 || r.PositionIDs[0] != 0 {
			t.Fatalf("PoSE row has %d runs, first position %d", runs, r.PositionIDs[0])
		}
	case Full:
		if !slices.Equal(r.PositionIDs, positions.Full(n)) || !slices.Equal(r.InputIDs, doc[:n]) && cfg.Selector.DropProb == 0 {
			t.Fatal("full row is not the document's first tokens at 0..n-1")
		}
	}
}

// TestDefectUnfilteredPositions: the reference computed positions from the
// unfiltered sentence list. With heavy dropping, our positions stay
// contiguous inside every kept sentence and the head is 0..rt1-1.
func TestDefectUnfilteredPositions(t *testing.T) {
	tok := byteTok{}
	sel := Selector{Ends: SentenceEnds(tok), Impactful: DigitTokens(tok), DropProb: 0.9}
	cfg := Config{Method: LongRecipe, TargetLength: 5000, TrainLength: 500, Selector: sel}
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 1))
		doc := tok.Encode(randomText(rng, 20000), true)
		// Independent recomputation of the kept sentences with the same
		// generator: split, keep digits or draw >= p.
		ref := DocRNG(seed, 0)
		var keptLens []int
		var kept []int32
		start := 0
		for start < len(doc) && len(kept) < cfg.TrainLength {
			end := start
			digit := false
			for end < len(doc) {
				c := doc[end]
				end++
				if c >= '0' && c <= '9' {
					digit = true
				}
				if c == '.' || c == '?' || c == '!' || c == '\n' {
					break
				}
			}
			if digit || ref.Float64() >= 0.9 {
				l := min(end-start, cfg.TrainLength-len(kept))
				kept = append(kept, doc[start:start+l]...)
				keptLens = append(keptLens, l)
			}
			start = end
		}
		row, skip, err := cfg.BuildRow(DocRNG(seed, 0), doc)
		if err != nil || skip != "" {
			t.Fatalf("seed %d: %v %q", seed, err, skip)
		}
		if !slices.Equal(row.InputIDs, kept) {
			t.Fatalf("seed %d: kept tokens differ from the independent selection", seed)
		}
		wantPos, _, err := positions.LongRecipe(ref, keptLens, cfg.TargetLength)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(row.PositionIDs, wantPos) {
			t.Fatalf("seed %d: positions not computed from the kept sentences", seed)
		}
	}
}

// TestDefectOrderAndBatches covers two reference defects at once: rows out
// of order relative to their position lists when threads finish in another
// order, and the row index restarting at each batch. Each document's tokens
// come from its own id range, so any misalignment shows; there are many
// batches, 4 threads and tiny shards, read back through shards.Open.
func TestDefectOrderAndBatches(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ids.jsonl")
	var sb strings.Builder
	const docsN, ls, lt = 300, 64, 256
	rng := rand.New(rand.NewPCG(1, 2))
	var docs [][]int32
	for i := range docsN {
		n := ls + rng.IntN(200)
		ids := make([]int32, n)
		for j := range ids {
			ids[j] = int32(i*1000 + j)
		}
		docs = append(docs, ids)
		b, _ := json.Marshal(map[string][]int32{"input_ids": ids})
		sb.Write(b)
		sb.WriteByte('\n')
	}
	os.WriteFile(path, []byte(sb.String()), 0o644)
	for _, m := range []Method{RandPos, PoSE} {
		cfg := Config{Method: m, TargetLength: lt, TrainLength: ls, Seed: 5, Threads: 4}
		out := filepath.Join(dir, string(m))
		w, err := shards.Create(out, shards.WriterOptions{MaxShardBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		counts, err := Prepare(t.Context(), path, cfg, w)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(shards.Manifest{Method: string(m), Counts: counts}); err != nil {
			t.Fatal(err)
		}
		d, err := shards.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != docsN {
			t.Fatalf("%s: %d rows, want %d", m, d.Len(), docsN)
		}
		for i := range docsN {
			r, err := d.Row(i)
			if err != nil {
				t.Fatal(err)
			}
			for _, tkn := range r.InputIDs {
				if int(tkn)/1000 != i {
					t.Fatalf("%s: row %d holds token %d of document %d", m, i, tkn, tkn/1000)
				}
			}
			want, skip, err := cfg.BuildRow(DocRNG(5, int64(i)), docs[i])
			if err != nil || skip != "" || !reflect.DeepEqual(r, want) {
				t.Fatalf("%s: row %d is not document %d's row (%v %q)", m, i, i, err, skip)
			}
		}
		d.Close()
	}
}

func TestSelectorRule(t *testing.T) {
	tok := byteTok{}
	sel := Selector{Ends: SentenceEnds(tok), Impactful: DigitTokens(tok), DropProb: 0.3}
	var keptPlain, totalPlain int
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 3))
		doc := tok.Encode(randomText(rng, 3000), false)
		kept, sents := sel.Select(DocRNG(seed, 0), doc, 0)
		if !isSubsequence(kept, doc) {
			t.Fatal("kept tokens not in source order")
		}
		sum := 0
		for _, l := range sents {
			sum += l
		}
		if sum != len(kept) {
			t.Fatalf("sentence lengths sum to %d, %d tokens kept", sum, len(kept))
		}
		// Every digit sentence is kept; count plain sentences kept.
		keptText := string(int32sToBytes(kept))
		for _, s := range sentencesOf(string(int32sToBytes(doc))) {
			if strings.ContainsAny(s, "0123456789") {
				if !strings.Contains(keptText, s) {
					t.Fatalf("impactful sentence %q dropped", s)
				}
			} else {
				totalPlain++
			}
		}
		for _, s := range sentencesOf(keptText) {
			if !strings.ContainsAny(s, "0123456789") {
				keptPlain++
			}
		}
		limited, _ := sel.Select(DocRNG(seed, 0), doc, 100)
		if len(limited) != min(100, len(kept)) || !slices.Equal(limited, kept[:len(limited)]) {
			t.Fatal("limit does not cut the same selection")
		}
	}
	// Dropped fraction ≈ p = 0.3 (binomial, thousands of sentences).
	frac := 1 - float64(keptPlain)/float64(totalPlain)
	if math.Abs(frac-0.3) > 0.03 {
		t.Fatalf("dropped %.3f of plain sentences, want 0.3", frac)
	}
}

func int32sToBytes(ids []int32) []byte {
	b := make([]byte, len(ids))
	for i, t := range ids {
		b[i] = byte(t)
	}
	return b
}

// sentencesOf splits text after '.', '?', '!' and '\n'.
func sentencesOf(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(".?!\n", s[i]) >= 0 {
			out = append(out, s[start:i+1])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func TestDropProbFromSelectRatio(t *testing.T) {
	for _, tc := range []struct{ r, p float64 }{
		{0, 0}, {0.1, 0}, {0.15, 0}, {0.2, 0.1}, {0.3, 0.2}, {0.6, 0.5}, {0.7, 0.6}, {0.99, 0.8}, {1, 0.9},
	} {
		p, err := DropProbFromSelectRatio(tc.r)
		if err != nil || math.Abs(p-tc.p) > 1e-12 {
			t.Errorf("r %v: p %v, %v; want %v", tc.r, p, err, tc.p)
		}
		// Against the reference rule itself: randint(1,10) < int(10r).
		k := int(10 * tc.r)
		drops := 0
		for v := 1; v <= 10; v++ {
			if v < k {
				drops++
			}
		}
		if math.Abs(float64(drops)/10-p) > 1e-12 {
			t.Errorf("r %v: reference drops %d/10, p = %v", tc.r, drops, p)
		}
	}
	for _, r := range []float64{-0.1, 1.1, math.NaN()} {
		if _, err := DropProbFromSelectRatio(r); err == nil {
			t.Errorf("r %v accepted", r)
		}
	}
}

func TestTokenSets(t *testing.T) {
	v := mapVocab{"a", ".", ".\n", "?", "!", "\n", "3", "a1b", "x.y", ").", " .", ". ", "", "<s>", "?\n\n", "10"}
	ends := SentenceEnds(v).IDs()
	if want := []int32{1, 2, 3, 4, 5, 9, 10, 14}; !slices.Equal(ends, want) {
		t.Errorf("sentence ends %v, want %v", ends, want)
	}
	digits := DigitTokens(v).IDs()
	if want := []int32{6, 7, 15}; !slices.Equal(digits, want) {
		t.Errorf("digit tokens %v, want %v", digits, want)
	}
}

func TestReadImpactful(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, hash string
		ok                  bool
	}{
		{"good", `{"token_ids": [5, 3, 5], "source": "analyze"}`, "", true},
		{"hash ok", `{"token_ids": [1], "tokenizer_hash": "h"}`, "h", true},
		{"hash mismatch", `{"token_ids": [1], "tokenizer_hash": "h"}`, "other", false},
		{"missing ids", `{"source": "x"}`, "", false},
		{"unknown field", `{"token_ids": [1], "ids": [2]}`, "", false},
		{"outside vocab", `{"token_ids": [258]}`, "", false},
		{"negative", `{"token_ids": [-1]}`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".json")
			os.WriteFile(p, []byte(tc.content), 0o644)
			s, _, err := ReadImpactful(p, tc.hash, 258)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.name == "good" && !slices.Equal(s.IDs(), []int32{3, 5}) {
				t.Fatalf("ids %v", s.IDs())
			}
		})
	}
}

// TestReplayMixing: replay rows are interleaved deterministically at the
// requested fraction, and running out of replay data is reported.
func TestReplayMixing(t *testing.T) {
	dir := t.TempDir()
	input, _ := writeCorpus(t, dir, 1, 60, 300, 3000)
	replay := filepath.Join(dir, "replay.jsonl")
	var sb strings.Builder
	for i := range 200 {
		b, _ := json.Marshal(map[string]string{"q": fmt.Sprintf("question %d?", i), "a": strings.Repeat("answer. ", 1+i%7)})
		sb.Write(b)
		sb.WriteByte('\n')
	}
	os.WriteFile(replay, []byte(sb.String()), 0o644)
	for _, tc := range []struct {
		frac      float64
		exhausted bool
	}{{0.1, false}, {0.5, false}, {0.9, true}} {
		cfg := baseConfig(RandPos, 100, 400, 3)
		cfg.Replay = &ReplayConfig{Input: replay, PromptField: "q", ResponseField: "a", Fraction: tc.frac, MaskPrompt: true}
		rows, counts := runPrepare(t, input, cfg)
		long := counts.Rows - counts.ReplayRows
		// After the k-th long row, floor(k f/(1-f)) replay rows are due.
		var seenLong, seenReplay int64
		for _, r := range rows {
			if r.LossMask != nil {
				seenReplay++
				continue
			}
			due := int64(math.Floor(float64(seenLong)*tc.frac/(1-tc.frac) + 1e-9))
			if seenReplay != due && !tc.exhausted {
				t.Fatalf("f %v: %d replay rows before long row %d, want %d", tc.frac, seenReplay, seenLong+1, due)
			}
			seenLong++
		}
		if seenReplay != counts.ReplayRows || seenLong != long || counts.ReplayExhausted != tc.exhausted {
			t.Fatalf("f %v: counts %+v, saw %d long %d replay", tc.frac, counts, seenLong, seenReplay)
		}
	}
}
