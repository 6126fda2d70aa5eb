//go:build openblas && cgo

package blasbench

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

// sgemmOpenBLAS calls cblas_sgemm with the row-major contract of
// kernels.Sgemm. The caller has checked the slice lengths.
func sgemmOpenBLAS(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans), C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans)
	if transA {
		ta = C.CblasTrans
	}
	if transB {
		tb = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb),
		C.float(beta), (*C.float)(&c[0]), C.blasint(ldc))
}

// openblasThreads reports how many threads OpenBLAS uses.
func openblasThreads() int { return int(C.openblas_get_num_threads()) }

// openblasCore names the kernel family OpenBLAS picked for this CPU.
func openblasCore() string { return C.GoString(C.openblas_get_corename()) }
