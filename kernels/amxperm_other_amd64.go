//go:build !linux && !purego

package kernels

// requestAMXPermission reports false: AMX is only enabled on Linux, the
// one system where this package knows how to ask for the tile state.
func requestAMXPermission() bool { return false }
