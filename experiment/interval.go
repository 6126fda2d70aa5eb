package experiment

import (
	"encoding/json"
	"math"
)

// tQuantile975 holds Student's t quantile t(0.975, df) for df = 1…30;
// beyond 30 degrees of freedom the normal quantile 1.96 is used.
var tQuantile975 = []float64{
	12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
}

// Interval is the mean of per-seed values with its 95 % t-interval over
// seeds: Mean ± HalfWidth, HalfWidth = t(0.975, n−1) · s / √n with s the
// sample standard deviation. With one value the half-width is NaN (no
// interval); NaN values (not measured) are left out and counted apart.
type Interval struct {
	Mean      float64   `json:"mean"`
	HalfWidth float64   `json:"half_width"`
	N         int       `json:"n"`
	Values    []float64 `json:"values"`
	Missing   int       `json:"missing"`
}

// tInterval returns the interval of the finite values of vs.
func tInterval(vs []float64) Interval {
	iv := Interval{Mean: math.NaN(), HalfWidth: math.NaN()}
	var sum float64
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			iv.Missing++
			continue
		}
		iv.Values = append(iv.Values, v)
		sum += v
	}
	iv.N = len(iv.Values)
	if iv.N == 0 {
		return iv
	}
	iv.Mean = sum / float64(iv.N)
	if iv.N < 2 {
		return iv
	}
	var ss float64
	for _, v := range iv.Values {
		ss += (v - iv.Mean) * (v - iv.Mean)
	}
	sd := math.Sqrt(ss / float64(iv.N-1))
	t := 1.96
	if df := iv.N - 1; df <= len(tQuantile975) {
		t = tQuantile975[df-1]
	}
	iv.HalfWidth = t * sd / math.Sqrt(float64(iv.N))
	return iv
}

// Lo and Hi are the interval's bounds (NaN without an interval).
func (iv Interval) Lo() float64 { return iv.Mean - iv.HalfWidth }
func (iv Interval) Hi() float64 { return iv.Mean + iv.HalfWidth }

// MarshalJSON writes NaN (no mean, no interval) as null.
func (iv Interval) MarshalJSON() ([]byte, error) {
	type plain Interval
	return json.Marshal(struct {
		plain
		Mean      *float64 `json:"mean"`
		HalfWidth *float64 `json:"half_width"`
	}{plain(iv), finite(iv.Mean), finite(iv.HalfWidth)})
}
