package model

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzLogProbs feeds arbitrary token and position ids to LogProbs and
// ForwardBackward: they must return an error or finite values, never panic.
func FuzzLogProbs(f *testing.F) {
	f.Add([]byte{1, 0, 2, 0, 3, 0}, []byte{0, 0, 5, 0, 9, 0}, uint8(0))
	f.Add([]byte{36, 0}, []byte(nil), uint8(1))
	f.Add([]byte{200, 0, 1, 0}, []byte{0, 0, 255, 255}, uint8(2))
	cfg := tinyConfig()
	cfg.SlidingWindow = 3
	m, err := New(cfg, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tokBytes, posBytes []byte, flags uint8) {
		if len(tokBytes) > 128 {
			return
		}
		toks := make([]int32, len(tokBytes)/2)
		for i := range toks {
			toks[i] = int32(int16(binary.LittleEndian.Uint16(tokBytes[2*i:])))
		}
		var pos []int32
		if flags&1 == 0 && len(posBytes) >= 2 {
			pos = make([]int32, len(posBytes)/2)
			for i := range pos {
				pos[i] = int32(int16(binary.LittleEndian.Uint16(posBytes[2*i:])))
			}
		}
		lp, err := m.LogProbs(toks, pos)
		if err == nil {
			if len(lp) != len(toks)-1 {
				t.Fatalf("%d logprobs for %d tokens", len(lp), len(toks))
			}
			for _, v := range lp {
				if math.IsNaN(float64(v)) || v > 0 {
					t.Fatalf("bad log-probability %v", v)
				}
			}
		}
		loss, _, err2 := m.ForwardBackward(&Batch{Tokens: [][]int32{toks}, Positions: [][]int32{pos}}, Options{Checkpointing: flags&2 != 0})
		if (err == nil) != (err2 == nil) {
			t.Fatalf("LogProbs error %v, ForwardBackward error %v", err, err2)
		}
		if err2 == nil && (math.IsNaN(loss) || math.IsInf(loss, 0)) {
			t.Fatalf("loss %v", loss)
		}
		m.ZeroGrad()
	})
}
