package experiment

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Resamples is the number of draws of the paired bootstrap.
const Resamples = 1000

// Bootstrap is the 95 % percentile interval of a claim's value (its mean
// over seeds) under a paired bootstrap: each draw resamples, in every
// seed, the claim prompts and the perplexity documents with replacement,
// the same draw for every model (so differences between models are paired
// by prompt and document), and recomputes the claim. N counts the draws
// in which the value was defined.
type Bootstrap struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	N  int     `json:"n"`
}

// MarshalJSON writes NaN bounds (too few defined draws) as null.
func (b Bootstrap) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Lo *float64 `json:"lo"`
		Hi *float64 `json:"hi"`
		N  int      `json:"n"`
	}{finite(b.Lo), finite(b.Hi), b.N})
}

// seedSample holds one seed's per-prompt and per-document values as
// aligned slices, ready to resample.
type seedSample struct {
	r     *Results
	copy  []float64             // per prompt
	top1  map[RunName][]float64 // per model, per prompt
	nll   map[RunName][]float64 // per model, per document
	nDocs int
}

// newSeedSample aligns r's item and document values by sorted keys; a
// model missing a key gets no slice (its values stay as measured).
func newSeedSample(r *Results) *seedSample {
	s := &seedSample{r: r, top1: map[RunName][]float64{}, nll: map[RunName][]float64{}}
	keys := make([]string, 0, len(r.ItemCopy))
	for k := range r.ItemCopy {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var docs []int
	if st := r.model(Start); st != nil {
		for d := range st.DocLastNLL {
			docs = append(docs, d)
		}
	}
	slices.Sort(docs)
	s.nDocs = len(docs)
	for _, k := range keys {
		s.copy = append(s.copy, r.ItemCopy[k])
	}
	for _, m := range r.Models {
		if v, ok := aligned(m.ItemTop1, keys); ok && len(keys) > 0 {
			s.top1[m.Name] = v
		}
		if v, ok := aligned(m.DocLastNLL, docs); ok && len(docs) > 0 {
			s.nll[m.Name] = v
		}
	}
	return s
}

// aligned returns m's values in the order of keys (ok false when one is
// missing).
func aligned[K comparable](m map[K]float64, keys []K) ([]float64, bool) {
	out := make([]float64, len(keys))
	for i, k := range keys {
		v, ok := m[k]
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// draw returns a copy of the seed's results whose LongTop1, LongCopy and
// LastPPL are recomputed over the prompts items and documents docs
// (indices, drawn with replacement).
func (s *seedSample) draw(items, docs []int) *Results {
	r := *s.r
	r.Models = make([]*ModelResult, len(s.r.Models))
	meanOf := func(v []float64, idx []int) float64 {
		var sum float64
		for _, i := range idx {
			sum += v[i]
		}
		return sum / float64(len(idx))
	}
	for i, m := range s.r.Models {
		c := *m
		if v, ok := s.top1[m.Name]; ok {
			c.LongTop1, c.LongCopy = meanOf(v, items), meanOf(s.copy, items)
		}
		if v, ok := s.nll[m.Name]; ok {
			c.LastPPL = math.Exp(meanOf(v, docs))
		}
		r.Models[i] = &c
	}
	return &r
}

// indices returns n indices drawn uniformly from [0, n).
func indices(rng *rand.Rand, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = rng.IntN(n)
	}
	return out
}

// bootstrapClaims returns the bootstrap interval of every claim of every
// table (by table, then claim index) over the seeds' results, from a
// fixed random stream (the same results give the same intervals).
func bootstrapClaims(per []*Results, tables []func(RunName) RunName) [][]Bootstrap {
	samples := make([]*seedSample, len(per))
	for i, r := range per {
		samples[i] = newSeedSample(r)
	}
	vals := make([][][]float64, len(tables))
	for t := range tables {
		vals[t] = make([][]float64, len(claims))
	}
	rng := rand.New(rand.NewPCG(0xb0075, 0x7a9))
	drawn := make([]*Results, len(per))
	for b := 0; b < Resamples; b++ {
		for i, s := range samples {
			drawn[i] = s.draw(indices(rng, len(s.copy)), indices(rng, s.nDocs))
		}
		for t, at := range tables {
			for c, cl := range claims {
				var sum float64
				n := 0
				for _, r := range drawn {
					if v := cl.value(r, at); !math.IsNaN(v) && !math.IsInf(v, 0) {
						sum += v
						n++
					}
				}
				if n == len(drawn) {
					vals[t][c] = append(vals[t][c], sum/float64(n))
				}
			}
		}
	}
	out := make([][]Bootstrap, len(tables))
	for t := range tables {
		out[t] = make([]Bootstrap, len(claims))
		for c, vs := range vals[t] {
			out[t][c] = percentiles(vs)
		}
	}
	return out
}

// percentiles returns the 2.5 % and 97.5 % points of vs (NaN when vs
// holds fewer than half the draws).
func percentiles(vs []float64) Bootstrap {
	if len(vs) < Resamples/2 {
		return Bootstrap{Lo: math.NaN(), Hi: math.NaN(), N: len(vs)}
	}
	slices.Sort(vs)
	at := func(q float64) float64 { return vs[min(int(q*float64(len(vs))), len(vs)-1)] }
	return Bootstrap{Lo: at(0.025), Hi: at(0.975), N: len(vs)}
}
