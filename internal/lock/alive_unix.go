//go:build unix

package lock

import (
	"errors"
	"syscall"
)

// alive reports whether a process with this pid exists on this host
// (signal 0 checks without sending; EPERM: it exists, another user's).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
