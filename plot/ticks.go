package plot

import (
	"math"
	"strconv"
	"strings"
)

// niceNum rounds x to 1, 2, 5 or 10 times a power of ten: to the nearest
// such number when round, else to the smallest one ≥ x.
func niceNum(x float64, round bool) float64 {
	exp := math.Floor(math.Log10(x))
	f := x / math.Pow(10, exp)
	var nf float64
	if round {
		switch {
		case f < 1.5:
			nf = 1
		case f < 3:
			nf = 2
		case f < 7:
			nf = 5
		default:
			nf = 10
		}
	} else {
		switch {
		case f <= 1:
			nf = 1
		case f <= 2:
			nf = 2
		case f <= 5:
			nf = 5
		default:
			nf = 10
		}
	}
	return nf * math.Pow(10, exp)
}

// linearAxis returns rounded axis bounds that contain [lo, hi] and the
// ticks between them (about maxTicks of them), and the tick step.
func linearAxis(lo, hi float64, maxTicks int) (axLo, axHi float64, ticks []float64, step float64) {
	if !(hi > lo) {
		d := math.Abs(lo) * 0.1
		if d == 0 {
			d = 1
		}
		lo, hi = lo-d, hi+d
	}
	if maxTicks < 2 {
		maxTicks = 2
	}
	step = niceNum(niceNum(hi-lo, false)/float64(maxTicks-1), true)
	axLo = math.Floor(lo/step) * step
	axHi = math.Ceil(hi/step) * step
	if !(step > 0) || math.IsInf(step, 0) || math.IsInf(axLo, 0) || math.IsInf(axHi, 0) || (axHi-axLo)/step > 100 {
		// Extreme ranges (near the float64 limits): plain bounds.
		return lo, hi, []float64{lo, hi}, 0
	}
	for i := 0; i <= 100; i++ {
		v := axLo + float64(i)*step
		if v > axHi+step*1e-9 {
			break
		}
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, v)
	}
	return axLo, axHi, ticks, step
}

// logAxis returns bounds (slightly padded in log space) around the
// positive range [lo, hi] and ticks at 1, 2, 5 × 10^k (or only powers of
// ten for wide ranges). Falls back to linear ticks when fewer than two
// such values lie in the range.
func logAxis(lo, hi float64) (axLo, axHi float64, ticks []float64) {
	if !(hi > lo) {
		lo, hi = lo/2, hi*2
	}
	l0, l1 := math.Log10(lo), math.Log10(hi)
	pad := (l1 - l0) * 0.04
	axLo, axHi = math.Pow(10, l0-pad), math.Pow(10, l1+pad)
	decades := l1 - l0
	mant := []float64{1, 2, 5}
	every := 1
	if decades > 3 {
		mant = []float64{1}
		every = int(math.Ceil(decades / 8))
	}
	for e := int(math.Floor(l0 - pad)); e <= int(math.Ceil(l1+pad)); e++ {
		if e%every != 0 {
			continue
		}
		for _, m := range mant {
			v := m * math.Pow(10, float64(e))
			if v >= axLo*(1-1e-12) && v <= axHi*(1+1e-12) {
				ticks = append(ticks, v)
			}
		}
	}
	if len(ticks) < 2 {
		_, _, lin, _ := linearAxis(axLo, axHi, 5)
		ticks = ticks[:0]
		for _, v := range lin {
			if v >= axLo && v <= axHi && v > 0 {
				ticks = append(ticks, v)
			}
		}
	}
	return axLo, axHi, ticks
}

// formatTick formats an axis value. step > 0 is the spacing of linear
// ticks (it sets the decimals); step 0 formats the value on its own.
// Values of a thousand or more that are round in the step use k, M, G.
func formatTick(v, step float64) string {
	if v == 0 {
		return "0"
	}
	av := math.Abs(v)
	if av >= 1000 && (step == 0 || step >= 100) {
		units := []struct {
			u float64
			s string
		}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}}
		for _, u := range units {
			if av >= u.u {
				q := v / u.u
				if math.Abs(q*1000-math.Round(q*1000)) < 1e-6*math.Abs(q*1000) {
					return trimZeros(strconv.FormatFloat(q, 'f', 3, 64)) + u.s
				}
				break
			}
		}
	}
	if step > 0 {
		d := 0
		for d < 10 && math.Abs(step*math.Pow(10, float64(d))-math.Round(step*math.Pow(10, float64(d)))) > 1e-6 {
			d++
		}
		return strconv.FormatFloat(v, 'f', d, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// formatValue formats a data value compactly (heatmap cells, colour bars).
func formatValue(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	av := math.Abs(v)
	switch {
	case av == 0:
		return "0"
	case av >= 1e4 || av < 1e-3:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case av >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case av >= 10:
		return trimZeros(strconv.FormatFloat(v, 'f', 1, 64))
	default:
		return trimZeros(strconv.FormatFloat(v, 'f', 2, 64))
	}
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
