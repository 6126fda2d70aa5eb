package lines

import (
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestNext(t *testing.T) {
	long := strings.Repeat("x", 200000)
	tests := []struct {
		name, in string
		max      int
		want     []string // lines, "!N:L" for a TooLongError on line N of length L
	}{
		{"plain", "a\nbb\n\nccc", 3, []string{"a", "bb", "", "ccc"}},
		{"trailing newline", "a\n", 3, []string{"a"}},
		{"exactly max", "abc\nabcd\nab", 3, []string{"abc", "!2:4", "ab"}},
		{"max at EOF", "abcd", 3, []string{"!1:4"}},
		{"over a buffer", "a\n" + long + "\nb\n", 1000, []string{"a", "!2:200000", "b"}},
		{"over a buffer at EOF", long, 1000, []string{"!1:200000"}},
		{"long but allowed", long + "\n", 200000, []string{long}},
		{"crlf kept", "a\r\n", 3, []string{"a\r"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(strings.NewReader(tc.in), "f.jsonl", tc.max)
			var got []string
			for {
				b, err := r.Next()
				if err == io.EOF {
					break
				}
				var tl *TooLongError
				if errors.As(err, &tl) {
					if tl.Name != "f.jsonl" || tl.Line != r.Line() {
						t.Errorf("error %+v, line %d", tl, r.Line())
					}
					got = append(got, "!"+strconv.Itoa(tl.Line)+":"+strconv.FormatInt(tl.Len, 10))
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(b))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %.80q, want %.80q", got, tc.want)
			}
		})
	}
}

// endless yields n bytes of 'x' and no newline, without holding them.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), e.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	e.n -= k
	return int(k), nil
}

// TestHugeLineBoundedMemory is the regression test of F1: a 256 MB line is
// reported with its length while the heap stays far below its size.
func TestHugeLineBoundedMemory(t *testing.T) {
	const size = 256 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := New(&endless{n: size}, "huge.jsonl", 1<<20)
	_, err := r.Next()
	runtime.ReadMemStats(&after)
	var tl *TooLongError
	if !errors.As(err, &tl) || tl.Len != size || tl.Line != 1 {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "huge.jsonl line 1: 268435456 bytes, over the limit of 1048576") {
		t.Errorf("message %q", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("allocated %d bytes to skip a %d-byte line", grew, size)
	}
}
