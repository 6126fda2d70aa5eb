//go:build !unix

package hf

import (
	"errors"
	"os"
)

// mmapFile is not available on this platform; the reader falls back to
// ReadAt.
func mmapFile(f *os.File, size int64) ([]byte, error) {
	return nil, errors.New("mmap not supported on this platform")
}

func munmap(b []byte) error { return nil }
