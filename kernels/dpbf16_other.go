//go:build !amd64 || purego

package kernels

// dpbf16Impl is the AVX-512 BF16 path: none on this platform.
var dpbf16Impl *impl

// bf16PeakLoop returns nil: no bfloat16 dot-product instruction here.
func bf16PeakLoop() (func(n int), float64) { return nil, 0 }

// useRowDot reports false: the row-dot kernels need AVX512_BF16.
func useRowDot(transA, transB bool, m int) bool { return false }

func sgemmRowDot(workers, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("kernels: sgemmRowDot without AVX512_BF16")
}

// PanelsA is unused without AVX512_BF16 (see HasPanels).
type PanelsA struct{}

// PanelsB is unused without AVX512_BF16 (see HasPanels).
type PanelsB struct{}

// HasPanels reports false: the panels need AVX512_BF16.
func HasPanels() bool { return false }

// Pack panics: see HasPanels.
func (p *PanelsA) Pack(trans bool, a []float32, lda, m, k int) { panic("kernels: no PanelsA here") }

// Pack panics: see HasPanels.
func (p *PanelsB) Pack(trans bool, b []float32, ldb, k, n int) { panic("kernels: no PanelsB here") }

// GemmPanels panics: see HasPanels.
func GemmPanels(a *PanelsA, b *PanelsB, p0, j0, n int, alpha, beta float32, c []float32, ldc int) {
	panic("kernels: no GemmPanels here")
}

// PanelsBWords panics: see HasPanels.
func PanelsBWords(k, n int) int { panic("kernels: no PanelsB here") }

// Use panics: see HasPanels.
func (p *PanelsB) Use(buf []float32) { panic("kernels: no PanelsB here") }

// PanelsAWords panics: see HasPanels.
func PanelsAWords(m, k int) int { panic("kernels: no PanelsA here") }

// Use panics: see HasPanels.
func (p *PanelsA) Use(buf []float32) { panic("kernels: no PanelsA here") }
