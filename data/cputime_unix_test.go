//go:build unix

package data

import (
	"syscall"
	"time"
)

// cpuSeconds is the user+system CPU time of this process so far. On a
// shared machine, tokens per CPU-second estimate the throughput of
// dedicated cores better than wall time does.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
