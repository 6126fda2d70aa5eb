package train

import (
	"fmt"
	"math"
	"time"

	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
)

// bigram is a small deterministic model for loop tests: the logits of the
// token after c are scale ⊙ table[c] + bias, trained with softmax
// cross-entropy. Its parameter names exercise weight-decay exclusion.
type bigram struct {
	V                  int
	table, bias, scale *model.Param
	sleep              time.Duration // per ForwardBackward call, to widen kill windows
	nanAtCall, calls   int           // return a NaN loss on call nanAtCall (1-based; 0 never)
	seen               [][]int32     // first token of every row seen, per call
}

func newBigram(v int, seed uint64) *bigram {
	m := &bigram{V: v,
		table: &model.Param{Name: "model.embed_tokens.weight", Shape: []int{v, v}, W: make([]float32, v*v), G: make([]float32, v*v)},
		bias:  &model.Param{Name: "lm_head.bias", Shape: []int{v}, W: make([]float32, v), G: make([]float32, v)},
		scale: &model.Param{Name: "model.norm.weight", Shape: []int{v}, W: make([]float32, v), G: make([]float32, v)},
	}
	s := seed | 1
	for i := range m.table.W {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		m.table.W[i] = float32(int64(s%2001)-1000) / 4000
	}
	for i := range m.scale.W {
		m.scale.W[i] = 1
	}
	return m
}

func (m *bigram) Params() []*model.Param { return []*model.Param{m.table, m.bias, m.scale} }

func (m *bigram) ForwardBackward(b *model.Batch) (float64, int, error) {
	m.calls++
	if m.sleep > 0 {
		time.Sleep(m.sleep)
	}
	var first []int32
	var loss float64
	n := 0
	logits := make([]float64, m.V)
	for i, toks := range b.Tokens {
		first = append(first, toks[0])
		for t := 0; t+1 < len(toks); t++ {
			if b.LossMask != nil && !b.LossMask[i][t] {
				continue
			}
			c, y := int(toks[t]), int(toks[t+1])
			if c >= m.V || y >= m.V {
				return 0, 0, fmt.Errorf("token out of vocabulary")
			}
			row := m.table.W[c*m.V : (c+1)*m.V]
			mx := math.Inf(-1)
			for j := range logits {
				logits[j] = float64(m.scale.W[j]*row[j] + m.bias.W[j])
				mx = math.Max(mx, logits[j])
			}
			var z float64
			for j := range logits {
				logits[j] = math.Exp(logits[j] - mx)
				z += logits[j]
			}
			loss += math.Log(z) - math.Log(logits[y])
			n++
			for j := range logits {
				d := logits[j] / z
				if j == y {
					d--
				}
				df := float32(d)
				m.table.G[c*m.V+j] += m.scale.W[j] * df
				m.scale.G[j] += row[j] * df
				m.bias.G[j] += df
			}
		}
	}
	m.seen = append(m.seen, first)
	if m.calls == m.nanAtCall {
		return math.NaN(), n, nil
	}
	return loss, n, nil
}

// cyclicRows returns rows of a learnable pattern: row i is the sequence
// i, i+1, ... mod v of length l(i).
func cyclicRows(count, v int) Rows {
	var rs Rows
	for i := 0; i < count; i++ {
		l := 5 + i%4
		r := shards.Row{InputIDs: make([]int32, l)}
		for t := range r.InputIDs {
			r.InputIDs[t] = int32((i + t) % v)
		}
		rs = append(rs, r)
	}
	return rs
}
