//go:build unix

package hf

import (
	"os"

	"golang.org/x/sys/unix"
)

// mmapFile maps size bytes of f read-only.
func mmapFile(f *os.File, size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, unix.EINVAL
	}
	return unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
}

// munmap releases a mapping made by mmapFile.
func munmap(b []byte) error { return unix.Munmap(b) }
