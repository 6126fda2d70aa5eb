//go:build !amd64 || purego

package kernels

// vecAsm is false: there are no assembly vector helpers on this platform.
const vecAsm = false

func dotAVX512(a, b *float32, n int) float32                   { panic("unreachable") }
func axpyAVX512(alpha float32, x, y *float32, n int)           { panic("unreachable") }
func scaleAVX512(alpha float32, x *float32, n int)             { panic("unreachable") }
func addAVX512(dst, a, b *float32, n int)                      { panic("unreachable") }
func maxAVX512(x *float32, n int) (m float32, nan bool)        { panic("unreachable") }
func expSubAVX512(dst, x *float32, n int, max float32) float32 { panic("unreachable") }

func swigluAVX512(h, gate, up *float32, n int) { panic("unreachable") }

func swigluBackAVX512(dg, du, dh, gate, up *float32, n int) { panic("unreachable") }
