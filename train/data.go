package train

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
)

// Dataset is the training data: rows addressed by index 0..Len()-1. A
// shards.Dataset (shards.Open: shard folder or JSONL file) is one.
type Dataset interface {
	Len() int
	Row(i int) (shards.Row, error)
}

// Rows is an in-memory Dataset.
type Rows []shards.Row

// Len returns the number of rows.
func (r Rows) Len() int { return len(r) }

// Row returns row i.
func (r Rows) Row(i int) (shards.Row, error) {
	if i < 0 || i >= len(r) {
		return shards.Row{}, fmt.Errorf("row %d out of range [0, %d)", i, len(r))
	}
	return r[i], nil
}

// rowLimit is a Dataset whose rows longer than max tokens are refused as
// they are read, so an over-long row fails in one line before makeBatch and
// the model allocate for it.
type rowLimit struct {
	Dataset
	max  int
	name string
}

// Row returns row i, or an error naming the data, the row and its length.
func (l rowLimit) Row(i int) (shards.Row, error) {
	r, err := l.Dataset.Row(i)
	if err == nil && len(r.InputIDs) > l.max {
		name := l.name
		if name == "" {
			name = "training data"
		}
		return shards.Row{}, fmt.Errorf("%s row %d has %d tokens, more than the %d (max_position_embeddings) of the model being trained: split the row or train a model with a longer window",
			name, i, len(r.InputIDs), l.max)
	}
	return r, err
}

// checkRow reports a row the loop cannot train on.
func checkRow(r shards.Row) error {
	n := len(r.InputIDs)
	switch {
	case n == 0:
		return fmt.Errorf("empty input_ids")
	case r.PositionIDs != nil && len(r.PositionIDs) != n:
		return fmt.Errorf("%d position_ids for %d input_ids", len(r.PositionIDs), n)
	case r.LossMask != nil && len(r.LossMask) != n:
		return fmt.Errorf("%d loss_mask entries for %d input_ids", len(r.LossMask), n)
	}
	for i, id := range r.InputIDs {
		if id < 0 {
			return fmt.Errorf("input_ids[%d] = %d is negative", i, id)
		}
	}
	for i, p := range r.PositionIDs {
		if p < 0 {
			return fmt.Errorf("position_ids[%d] = %d is negative", i, p)
		}
	}
	return nil
}

// makeBatch turns rows into a model batch. A row's loss mask is per target
// token (shards.Row: false = token t is not predicted), a batch's is per
// input position (model.Batch: false = the prediction of token t+1 made at t
// does not count), so batch mask[t] = row mask[t+1] and the last entry is
// false. Rows without position ids get 0..n-1 when others have them; rows
// without a mask get all-true when others have one. It returns the batch
// and its number of input tokens.
func makeBatch(rows []shards.Row) (*model.Batch, int, error) {
	b := &model.Batch{Tokens: make([][]int32, len(rows))}
	anyPos, anyMask := false, false
	tokens := 0
	for i, r := range rows {
		if err := checkRow(r); err != nil {
			return nil, 0, err
		}
		b.Tokens[i] = r.InputIDs
		tokens += len(r.InputIDs)
		anyPos = anyPos || r.PositionIDs != nil
		anyMask = anyMask || r.LossMask != nil
	}
	if anyPos {
		b.Positions = make([][]int32, len(rows))
		for i, r := range rows {
			b.Positions[i] = r.PositionIDs
			if r.PositionIDs == nil {
				p := make([]int32, len(r.InputIDs))
				for t := range p {
					p[t] = int32(t)
				}
				b.Positions[i] = p
			}
		}
	}
	if anyMask {
		b.LossMask = make([][]bool, len(rows))
		for i, r := range rows {
			n := len(r.InputIDs)
			m := make([]bool, n)
			for t := 0; t+1 < n; t++ {
				m[t] = r.LossMask == nil || r.LossMask[t+1]
			}
			b.LossMask[i] = m
		}
	}
	return b, tokens, nil
}

// dataSample returns a fingerprint of d: an FNV-64a hash of its length and
// of rows 0, Len/2 and Len-1 (ids, positions, masks). It is cheap (three
// rows) and catches a resume on different data of the same length in all
// but contrived cases.
func dataSample(d Dataset) (string, error) {
	h := fnv.New64a()
	n := d.Len()
	var buf [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	put(uint64(n))
	for _, i := range []int{0, n / 2, n - 1} {
		r, err := d.Row(i)
		if err != nil {
			return "", fmt.Errorf("data row %d: %w", i, err)
		}
		put(uint64(len(r.InputIDs)))
		for _, v := range r.InputIDs {
			put(uint64(v))
		}
		put(uint64(len(r.PositionIDs)))
		for _, v := range r.PositionIDs {
			put(uint64(v))
		}
		put(uint64(len(r.LossMask)))
		for _, v := range r.LossMask {
			if v {
				put(1)
			} else {
				put(0)
			}
		}
	}
	return fmt.Sprintf("%016x", h.Sum64()), nil
}
