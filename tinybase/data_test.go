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
	a, err := Mix(corpus, tok, nil, 128, 0.25, []int{0, 1}, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Mix(corpus, tok, nil, 128, 0.25, []int{0, 1}, 7)
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

func TestShippedModelLoads(t *testing.T) {
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
