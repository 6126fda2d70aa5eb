package kernels

import "unsafe"

// genericImpl is the portable path: the same packing and blocking as the
// assembly paths around a 4×4 pure-Go micro-kernel.
var genericImpl = &impl{name: "generic", mr: 4, nr: 4, kc: 256, mc: 128, nc: 1024, kernel: kernelGeneric4x4}

// kernelGeneric4x4 is the portable micro-kernel (see microKernel). Its
// sixteen accumulators are separate variables so the compiler keeps them
// in registers.
func kernelGeneric4x4(kc int, a, b, c *float32, ldc int, beta float32, load int) {
	as := unsafe.Slice(a, 4*kc)
	bs := unsafe.Slice(b, 4*kc)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < kc; p++ {
		av := as[4*p : 4*p+4 : 4*p+4]
		bv := bs[4*p : 4*p+4 : 4*p+4]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		a0 := av[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := av[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := av[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := av[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	acc := [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	for i := 0; i < 4; i++ {
		row := cs[i*ldc : i*ldc+4 : i*ldc+4]
		if load == 0 {
			copy(row, acc[i][:])
			continue
		}
		for j := range row {
			row[j] = beta*row[j] + acc[i][j]
		}
	}
}
