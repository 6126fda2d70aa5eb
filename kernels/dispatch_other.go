//go:build !amd64 || purego

package kernels

// active is the matrix-multiply path Sgemm uses.
var active = genericImpl

// impls lists the paths this machine can run, best first (for tests).
func impls() []*impl { return []*impl{genericImpl} }

// peakLoop returns the portable FMA loop and the flops of one iteration.
func peakLoop() (func(n int), float64) {
	return func(n int) { peakSink += fmaLoopGeneric(n) }, 16
}
