// Package freelist is a bounded stack of reusable buffers shared by
// goroutines. Unlike sync.Pool it never drops what it holds at a garbage
// collection and any goroutine gets any free buffer (sync.Pool keeps one
// buffer private to each P), so a workload that repeats allocates nothing
// the second time, deterministically. It keeps at most Max buffers;
// beyond that Put lets them go to the collector.
package freelist
