//go:build !amd64 || purego

package kernels

// dpbf16Impl is the AVX-512 BF16 path: none on this platform.
var dpbf16Impl *impl

// bf16PeakLoop returns nil: no bfloat16 dot-product instruction here.
func bf16PeakLoop() (func(n int), float64) { return nil, 0 }
