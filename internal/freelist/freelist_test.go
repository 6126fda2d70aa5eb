package freelist

import (
	"runtime"
	"sync"
	"testing"
)

func TestGetPut(t *testing.T) {
	var l List[[]float32]
	if l.Get() != nil {
		t.Fatal("an empty list returned a buffer")
	}
	a, b := new([]float32), new([]float32)
	l.Put(a)
	l.Put(b)
	l.Put(nil)
	if got := l.Get(); got != b {
		t.Fatal("Get did not return the last buffer put")
	}
	if got := l.Get(); got != a {
		t.Fatal("Get did not return the first buffer put")
	}
	if l.Get() != nil {
		t.Fatal("the list returned more buffers than it was given")
	}
}

func TestMax(t *testing.T) {
	l := List[int]{Max: 2}
	for range 5 {
		l.Put(new(int))
	}
	n := 0
	for l.Get() != nil {
		n++
	}
	if n != 2 {
		t.Fatalf("kept %d buffers, want Max = 2", n)
	}
}

// TestSurvivesGC is why the package exists: a collection between a Put
// and a Get, and a Get from another goroutine, still reuse the buffer.
func TestSurvivesGC(t *testing.T) {
	var l List[[4096]byte]
	x := new([4096]byte)
	l.Put(x)
	runtime.GC()
	var got *[4096]byte
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); got = l.Get() }()
	wg.Wait()
	if got != x {
		t.Fatal("the buffer was not reused after a collection on another goroutine")
	}
}

func TestConcurrent(t *testing.T) {
	var l List[int]
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				x := l.Get()
				if x == nil {
					x = new(int)
				}
				*x++
				l.Put(x)
			}
		}()
	}
	wg.Wait()
	total := 0
	for x := l.Get(); x != nil; x = l.Get() {
		total += *x
	}
	if total != 8000 {
		t.Fatalf("the buffers counted %d uses, want 8000", total)
	}
}
