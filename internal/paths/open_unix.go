//go:build unix

package paths

import (
	"os"
	"syscall"
)

// openFlags makes open(2) return at once on a FIFO with no writer instead
// of blocking; OpenRegular then refuses it.
const openFlags = syscall.O_NONBLOCK

// clearNonblock puts a regular file back into blocking mode (a no-op in
// practice: regular files never block, but the flag is cleared to leave
// the descriptor as os.Open would).
func clearNonblock(f *os.File) error {
	return syscall.SetNonblock(int(f.Fd()), false)
}
