//go:build !unix

package shards

import (
	"fmt"
	"io"
	"os"
)

// mapFile reads f into memory (no mmap on this platform).
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, nil, fmt.Errorf("read: %w", err)
	}
	return b, func() error { return nil }, nil
}
