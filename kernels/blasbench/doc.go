// Package blasbench benchmarks kernels.Sgemm side by side with OpenBLAS's
// cblas_sgemm and checks that the two agree. It needs cgo and the OpenBLAS
// development files (Debian: libopenblas-pthread-dev), so everything but
// this comment sits behind the openblas build tag; the default build of the
// module stays free of cgo. Run:
//
//	OPENBLAS_CORETYPE=SkylakeX go test -tags openblas -bench . ./kernels/blasbench
package blasbench
