package tinybase

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/tokenizer"
)

var number = regexp.MustCompile(`[0-9]+`)

func embeddedTokenizer(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "assets/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSyntheticRowFitsAndAnswers(t *testing.T) {
	tok := embeddedTokenizer(t)
	texts := [][]string{strings.Fields(strings.Repeat("We the people of the United States, in order to form a more perfect union. ", 40))}
	for _, window := range []int{128, 256, 512} {
		for kind := 0; kind < 3; kind++ {
			rng := rand.New(rand.NewPCG(uint64(window), uint64(kind)))
			for i := 0; i < 20; i++ {
				r, err := SyntheticRow(rng, tok, texts, window, kind)
				if err != nil {
					t.Fatal(err)
				}
				if n := len(r.InputIDs); n > window || n < window/3 {
					t.Fatalf("window %d kind %d: %d tokens", window, kind, n)
				}
				text := tok.Decode(r.InputIDs, true)
				if kind == 2 {
					halves := strings.SplitN(text, "\n", 2)
					if len(halves) != 2 || halves[0] != halves[1] {
						t.Fatalf("copy document is not a passage twice:\n%s", text)
					}
					continue
				}
				// The answer given at the end must occur earlier in the text.
				nums := number.FindAllString(text, -1)
				if len(nums) == 0 {
					t.Fatalf("no answer in %q", text)
				}
				ans := nums[len(nums)-1]
				if strings.Count(text, ans) < 2 {
					t.Fatalf("answer %q not hidden in the document:\n%s", ans, text)
				}
			}
		}
	}
}

func TestMixFractionAndDeterminism(t *testing.T) {
	tok := embeddedTokenizer(t)
	var corpus []shards.Row
	for i := 0; i < 300; i++ {
		corpus = append(corpus, shards.Row{InputIDs: []int32{int32(i), 1, 2}})
	}
	src := Sources{Tok: tok, Texts: [][]string{strings.Fields(strings.Repeat("a more perfect union ", 100))}}
	a, err := Mix(corpus, src, 128, 0.25, []int{0, 1}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Mix(corpus, Sources{Tok: tok}, 128, 0.25, []int{0, 1}, 7); err == nil {
		t.Fatal("synthetic rows without corpus text: no error")
	}
	b, _ := Mix(corpus, src, 128, 0.25, []int{0, 1}, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different mix")
	}
	syn := 0
	for _, r := range a {
		if len(r.InputIDs) != 3 {
			syn++
		}
	}
	if syn != 100 || len(a) != 400 {
		t.Fatalf("got %d synthetic of %d rows, want 100 of 400", syn, len(a))
	}
	// Synthetic rows are spread out, not bunched at one end.
	firstHalf := 0
	for _, r := range a[:200] {
		if len(r.InputIDs) != 3 {
			firstHalf++
		}
	}
	if firstHalf < 40 || firstHalf > 60 {
		t.Fatalf("%d synthetic rows in the first half, want about 50", firstHalf)
	}
}

func TestChunkRows(t *testing.T) {
	doc := make([]int32, 1000)
	rows := ChunkRows([][]int32{doc}, 256)
	// 3 full rows and a final 232-token row (>= 64).
	if len(rows) != 4 || len(rows[3].InputIDs) != 1000-768 {
		t.Fatalf("got %d rows", len(rows))
	}
	rows = ChunkRows([][]int32{make([]int32, 300)}, 256)
	if len(rows) != 1 {
		t.Fatalf("a 44-token tail must be dropped, got %d rows", len(rows))
	}
}

// loadShipped writes the embedded model folder to a temporary directory
// and loads it.
func loadShipped(t *testing.T) *model.Model {
	t.Helper()
	fsys, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestShippedModelLoads(t *testing.T) {
	m := loadShipped(t)
	if m.Cfg.MaxPositionEmbeddings != 256 || m.NumParams() < 4_000_000 {
		t.Fatalf("shipped model: window %d, %d params", m.Cfg.MaxPositionEmbeddings, m.NumParams())
	}
	// It is a trained model: on held-out prose its loss is far below the
	// uniform ln(4096) ≈ 8.3.
	tok := embeddedTokenizer(t)
	docs, _ := assets.Corpus()
	_, held, _ := assets.Split(docs, assets.DefaultHeldOutPercent)
	ids := tok.Encode(held[0].Text, true)[:256]
	lp, err := m.LogProbs(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	nll := 0.0
	for _, v := range lp {
		nll -= float64(v)
	}
	nll /= float64(len(lp))
	if nll > 5 {
		t.Fatalf("held-out NLL %.2f: the shipped model looks untrained", nll)
	}
}

// pairedSegments reports whether ids parse as segments of min…max tokens
// each written twice in a row (A A B B …), the last pair possibly cut off.
func pairedSegments(ids []int32, minSeg, maxSeg int) bool {
	ok := make([]bool, len(ids)+1)
	ok[0] = true
	for i := 0; i < len(ids); i++ {
		if !ok[i] {
			continue
		}
		for n := minSeg; n <= maxSeg; n++ {
			e := min(i+2*n, len(ids))
			match := true
			for j := i + n; j < e; j++ {
				if ids[j] != ids[j-n] {
					match = false
					break
				}
			}
			if match && (e-i == 2*n || e == len(ids)) {
				ok[e] = true
			}
		}
	}
	return ok[len(ids)]
}

func TestCopyRow(t *testing.T) {
	pool := make([]int32, 1000)
	for i := range pool {
		pool[i] = int32(5000 + i)
	}
	for _, tc := range []struct{ window, minSeg, maxSeg int }{{256, 8, 64}, {100, 1, 3}, {17, 16, 16}, {512, 8, 64}} {
		rng := rand.New(rand.NewPCG(uint64(tc.window), 1))
		for i := 0; i < 20; i++ {
			r, err := CopyRow(rng, pool, 7, tc.window, tc.minSeg, tc.maxSeg)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.InputIDs) != tc.window || len(r.PositionIDs) != tc.window || r.InputIDs[0] != 7 {
				t.Fatalf("%+v: %d tokens, %d positions, first %d", tc, len(r.InputIDs), len(r.PositionIDs), r.InputIDs[0])
			}
			if !pairedSegments(r.InputIDs[1:], tc.minSeg, tc.maxSeg) {
				t.Fatalf("%+v: row is not segments written twice: %v", tc, r.InputIDs)
			}
			// The loss mask keeps exactly the second copies: every kept
			// token equals the token one segment earlier, and about half
			// the row is kept.
			if len(r.LossMask) != tc.window || r.LossMask[0] {
				t.Fatalf("%+v: loss mask of %d entries, first %v", tc, len(r.LossMask), r.LossMask[0])
			}
			kept := 0
			for j := 1; j < tc.window; j++ {
				if !r.LossMask[j] {
					continue
				}
				kept++
				// Walk back over the run of kept tokens: the segment
				// length n is the run's length at its end, and the token
				// n places back must be the same.
				s := j
				for s > 0 && r.LossMask[s-1] {
					s--
				}
				e := s
				for e < tc.window && r.LossMask[e] {
					e++
				}
				n := e - s
				if e == tc.window { // cut-off pair: the run may be shorter than its first copy
					n = -1
				}
				if n > 0 && r.InputIDs[j] != r.InputIDs[j-n] {
					t.Fatalf("%+v: kept token %d is not a copy of the token %d places back", tc, j, n)
				}
				if n > 0 && (n < tc.minSeg || n > tc.maxSeg) {
					t.Fatalf("%+v: copy run of %d tokens", tc, n)
				}
			}
			if tc.window >= 4*tc.maxSeg && (kept < tc.window/4 || kept > tc.window/2) {
				t.Fatalf("%+v: %d of %d tokens kept", tc, kept, tc.window)
			}
		}
	}
	// The parser itself must reject a row that is not paired.
	if pairedSegments([]int32{1, 2, 3, 1, 2, 4}, 3, 3) {
		t.Fatal("pairedSegments accepted a broken copy")
	}
	for _, bad := range []struct {
		pool                   []int32
		window, minSeg, maxSeg int
	}{{nil, 256, 8, 64}, {pool, 1, 8, 64}, {pool, 256, 0, 4}, {pool, 256, 9, 8}} {
		if _, err := CopyRow(rand.New(rand.NewPCG(1, 1)), bad.pool, 7, bad.window, bad.minSeg, bad.maxSeg); err == nil {
			t.Errorf("CopyRow(%d tokens, window %d, %d…%d): no error", len(bad.pool), bad.window, bad.minSeg, bad.maxSeg)
		}
	}
}

func TestMixCopyRows(t *testing.T) {
	tok := embeddedTokenizer(t)
	corpus := make([]shards.Row, 30)
	for i := range corpus {
		corpus[i] = shards.Row{InputIDs: []int32{1, 2, 3}}
	}
	src := Sources{Tok: tok, Texts: [][]string{strings.Fields(strings.Repeat("a more perfect union ", 100))}, Pool: []int32{40, 41, 42, 43}, BOS: 4093}
	rows, err := Mix(corpus, src, 128, 0.5, []int{KindCopyRand, KindPasskey}, 3)
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for _, r := range rows {
		if len(r.InputIDs) == 128 && r.InputIDs[1] >= 40 && r.InputIDs[1] <= 43 {
			copies++
		}
	}
	if len(rows) != 60 || copies != 15 {
		t.Fatalf("%d rows, %d random-token copy rows; want 60 and 15", len(rows), copies)
	}
	if _, err := Mix(corpus, Sources{Tok: tok}, 128, 0.5, []int{KindCopyRand}, 3); err == nil {
		t.Fatal("copy rows without a token pool: no error")
	}
}

// TestShippedModelCopies checks the skill the retrieval tasks rest on: on
// a passage of random corpus tokens written twice, the shipped model's
// loss on the second copy is far below its loss on the first (measured:
// 8.7 → 4.4 nats over 100-token passages; the previous shipped model,
// without induction heads, 9.30 → 9.26).
func TestShippedModelCopies(t *testing.T) {
	m := loadShipped(t)
	tok := embeddedTokenizer(t)
	docs, _ := assets.Corpus()
	_, held, _ := assets.Split(docs, assets.DefaultHeldOutPercent)
	pool := tok.Encode(held[0].Text, false)
	rng := rand.New(rand.NewPCG(11, 12))
	const L = 100
	var first, second float64
	const n = 4
	for s := 0; s < n; s++ {
		seg := make([]int32, L)
		for i := range seg {
			seg[i] = pool[rng.IntN(len(pool))]
		}
		bos, _ := tok.BOS()
		ids := append(append([]int32{bos}, seg...), seg...)
		lp, err := m.LogProbs(ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range lp {
			if i < L {
				first -= float64(v)
			} else {
				second -= float64(v)
			}
		}
	}
	first, second = first/(n*L), second/(n*L)
	t.Logf("NLL first copy %.2f, second copy %.2f", first, second)
	// The previous shipped model (no induction): 9.30 → 9.26.
	if first-second < 2 {
		t.Fatalf("NLL on the repeat %.2f is not 2 nats below the first copy's %.2f: the shipped model does not copy", second, first)
	}
}
