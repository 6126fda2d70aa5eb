package train

import (
	"testing"

	"github.com/longrecipe/longrecipe/shards"
)

// FuzzMakeBatch builds batches from arbitrary rows: makeBatch must either
// reject a row or return a batch whose mask is the row mask shifted by one.
func FuzzMakeBatch(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 0xff, 2, 5, 6}, true, false)
	f.Add([]byte{1, 7}, false, true)
	f.Add([]byte{0}, true, true)
	f.Fuzz(func(t *testing.T, b []byte, withMask, withPos bool) {
		var rows []shards.Row
		for len(b) > 0 {
			n := int(b[0] % 9)
			b = b[1:]
			if n > len(b) {
				n = len(b)
			}
			r := shards.Row{InputIDs: make([]int32, n)}
			for i := 0; i < n; i++ {
				r.InputIDs[i] = int32(int8(b[i]))
			}
			if withMask && n > 0 {
				r.LossMask = make([]bool, n)
				for i := range r.LossMask {
					r.LossMask[i] = b[i]&1 == 1
				}
			}
			if withPos && len(rows)%2 == 0 {
				r.PositionIDs = make([]int32, n)
				for i := range r.PositionIDs {
					r.PositionIDs[i] = int32(i * 2)
				}
			}
			b = b[n:]
			rows = append(rows, r)
		}
		batch, tok, err := makeBatch(rows)
		if err != nil {
			return
		}
		total := 0
		for i, r := range rows {
			total += len(r.InputIDs)
			if batch.LossMask != nil {
				m := batch.LossMask[i]
				if len(m) != len(r.InputIDs) || m[len(m)-1] {
					t.Fatalf("row %d: mask %v for %d tokens", i, m, len(r.InputIDs))
				}
				for j := 0; j+1 < len(m); j++ {
					if want := r.LossMask == nil || r.LossMask[j+1]; m[j] != want {
						t.Fatalf("row %d: mask[%d] = %v, want %v", i, j, m[j], want)
					}
				}
			}
			if batch.Positions != nil && len(batch.Positions[i]) != len(r.InputIDs) {
				t.Fatalf("row %d: %d positions for %d tokens", i, len(batch.Positions[i]), len(r.InputIDs))
			}
		}
		if tok != total {
			t.Fatalf("tokens %d, want %d", tok, total)
		}
	})
}
