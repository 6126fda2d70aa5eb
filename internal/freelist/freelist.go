package freelist

import "sync"

// List is a free list of *T. The zero value is ready to use and keeps up
// to DefaultMax buffers.
type List[T any] struct {
	// Max is the most buffers kept (0: DefaultMax).
	Max  int
	mu   sync.Mutex
	free []*T
}

// DefaultMax bounds a List whose Max is 0: enough for every worker of a
// many-core machine to hold a few buffers at once.
const DefaultMax = 256

// Get returns a free buffer, or nil when there is none (the caller makes
// one).
func (l *List[T]) Get() *T {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.free)
	if n == 0 {
		return nil
	}
	x := l.free[n-1]
	l.free[n-1] = nil
	l.free = l.free[:n-1]
	return x
}

// Put returns x to the list (nil is ignored).
func (l *List[T]) Put(x *T) {
	if x == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := l.Max
	if limit <= 0 {
		limit = DefaultMax
	}
	if len(l.free) < limit {
		l.free = append(l.free, x)
	}
}
