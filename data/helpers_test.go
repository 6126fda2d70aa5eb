package data

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/longrecipe/longrecipe/shards"
)

// byteTok is a fake tokenizer: one token per byte (id = byte value), BOS
// 256, EOS 257. Its sentence ends are '.', '?', '!' and '\n'; its digit
// tokens are '0'..'9'.
type byteTok struct{}

const (
	bosID = 256
	eosID = 257
)

func (byteTok) VocabSize() int { return 258 }
func (byteTok) TokenText(id int32) []byte {
	if id < 256 {
		return []byte{byte(id)}
	}
	if id == bosID {
		return []byte("<s>")
	}
	return []byte("</s>")
}
func (byteTok) Encode(text string, addSpecial bool) []int32 {
	ids := make([]int32, 0, len(text)+1)
	if addSpecial {
		ids = append(ids, bosID)
	}
	for i := 0; i < len(text); i++ {
		ids = append(ids, int32(text[i]))
	}
	return ids
}
func (byteTok) EOS() (int32, bool) { return eosID, true }
func (byteTok) Hash() string       { return "bytetok" }

// mapVocab is a fake vocabulary of arbitrary token texts.
type mapVocab []string

func (v mapVocab) VocabSize() int            { return len(v) }
func (v mapVocab) TokenText(id int32) []byte { return []byte(v[id]) }

// memSink collects rows.
type memSink struct {
	mu   sync.Mutex
	rows []shards.Row
}

func (s *memSink) Write(r shards.Row) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, r)
	return nil
}

// randomText returns a document of about n bytes made of sentences, some
// with digits.
func randomText(rng *rand.Rand, n int) string {
	words := []string{"the", "model", "reads", "long", "text", "and", "a", "needle", "is", "hidden", "in", "it"}
	var sb strings.Builder
	for sb.Len() < n {
		k := 2 + rng.IntN(12)
		for j := range k {
			if j > 0 {
				sb.WriteByte(' ')
			}
			if rng.IntN(30) == 0 {
				sb.WriteString(string(rune('0' + rng.IntN(10))))
			} else {
				sb.WriteString(words[rng.IntN(len(words))])
			}
		}
		sb.WriteString([]string{". ", "? ", "!", ".\n", "\n"}[rng.IntN(5)])
	}
	return sb.String()
}

// runPrepare runs Prepare into memory.
func runPrepare(t testing.TB, input string, cfg Config) ([]shards.Row, shards.Counts) {
	t.Helper()
	var s memSink
	c, err := Prepare(context.Background(), input, cfg, &s)
	if err != nil {
		t.Fatal(err)
	}
	return s.rows, c
}

// isSubsequence reports whether sub appears in seq in order.
func isSubsequence(sub, seq []int32) bool {
	j := 0
	for _, t := range seq {
		if j < len(sub) && sub[j] == t {
			j++
		}
	}
	return j == len(sub)
}
