//go:build amd64 && !purego

package kernels

// vecAsm selects the AVX-512 vector helpers in vec_amd64.s.
var vecAsm = hasAVX512

//go:noescape
func dotAVX512(a, b *float32, n int) float32

//go:noescape
func axpyAVX512(alpha float32, x, y *float32, n int)

//go:noescape
func scaleAVX512(alpha float32, x *float32, n int)

//go:noescape
func addAVX512(dst, a, b *float32, n int)

//go:noescape
func maxAVX512(x *float32, n int) (m float32, nan bool)

//go:noescape
func expSubAVX512(dst, x *float32, n int, max float32) float32

//go:noescape
func swigluAVX512(h, gate, up *float32, n int)

//go:noescape
func swigluBackAVX512(dg, du, dh, gate, up *float32, n int)
