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
		{"over the bound by its newline chunk", "a\n" + long[:70000] + "\nb\n", 69999, []string{"a", "!2:70000", "b"}},
		{"two long lines allowed", long + "\n" + long[:100000] + "\nc", 200000, []string{long, long[:100000], "c"}},
		{"over a buffer at EOF", long, 1000, []string{"!1:200000"}},
		{"long but allowed", long + "\n", 200000, []string{long}},
		{"crlf kept", "a\r\n", 3, []string{"a\r"}},
	}
	for _, tc := range tests {
		for _, seek := range []bool{true, false} {
			t.Run(tc.name+"/seek="+strconv.FormatBool(seek), func(t *testing.T) {
				var src io.Reader = strings.NewReader(tc.in)
				if !seek {
					src = struct{ io.Reader }{src}
				}
				r := New(src, "f.jsonl", tc.max)
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
}

// virtual is a file of size bytes, all 'x' but a newline at the end,
// generated on the fly; it seeks when seekable is set.
type virtual struct {
	size, off int64
}

func (v *virtual) Read(p []byte) (int, error) {
	if v.off >= v.size {
		return 0, io.EOF
	}
	k := min(int64(len(p)), v.size-v.off)
	for i := range p[:k] {
		p[i] = 'x'
		if v.off+int64(i) == v.size-1 {
			p[i] = '\n'
		}
	}
	v.off += k
	return int(k), nil
}

type seekable struct{ *virtual }

func (s seekable) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		s.off = off
	case io.SeekCurrent:
		s.off += off
	default:
		s.off = s.size + off
	}
	return s.off, nil
}

// TestHugeLineBoundedMemory is the regression test of F1: a 256 MB line is
// reported with its length while the heap stays far below its size, from a
// file (measured before anything is allocated) and from a pipe.
func TestHugeLineBoundedMemory(t *testing.T) {
	const size = 256 << 20
	for _, tc := range []struct {
		name  string
		src   io.Reader
		limit uint64
	}{
		{"seekable", seekable{&virtual{size: size + 1}}, 1 << 20},
		{"pipe", &virtual{size: size + 1}, 8 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := New(tc.src, "huge.jsonl", 1<<20)
			_, err := r.Next()
			runtime.ReadMemStats(&after)
			var tl *TooLongError
			if !errors.As(err, &tl) || tl.Len != size || tl.Line != 1 {
				t.Fatalf("error %v", err)
			}
			if !strings.Contains(err.Error(), "huge.jsonl line 1: 268435456 bytes, over the limit of 1048576") {
				t.Errorf("message %q", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > tc.limit {
				t.Errorf("allocated %d bytes to skip a %d-byte line", grew, size)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("after the line: %v", err)
			}
		})
	}
}
