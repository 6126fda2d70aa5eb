//go:build !unix

package data

import "math"

// cpuSeconds is not measured on this platform (NaN metrics).
func cpuSeconds() float64 { return math.NaN() }
