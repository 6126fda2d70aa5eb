package lines

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// TooLongError reports a line longer than the reader's bound.
type TooLongError struct {
	Name string // file name as given to New
	Line int    // 1-based
	Len  int64  // bytes, without the newline
	Max  int
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("%s line %d: %d bytes, over the limit of %d bytes for one line", e.Name, e.Line, e.Len, e.Max)
}

const bufSize = 1 << 16

// Reader yields the lines of an io.Reader.
type Reader struct {
	src    io.Reader
	seeker io.Seeker // nil unless src can seek
	br     *bufio.Reader
	off    int64 // offset in src of the next byte br returns (when seeker != nil)
	name   string
	max    int
	line   int
}

// New returns a reader of r whose lines may hold at most max bytes (max > 0).
// name labels errors. If r is an io.Seeker that can seek (a regular file),
// reading starts at its current offset.
func New(r io.Reader, name string, max int) *Reader {
	lr := &Reader{src: r, br: bufio.NewReaderSize(r, bufSize), name: name, max: max}
	if s, ok := r.(io.Seeker); ok {
		if off, err := s.Seek(0, io.SeekCurrent); err == nil {
			lr.seeker, lr.off = s, off
		}
	}
	return lr
}

// Line returns the 1-based number of the line Next returned last.
func (r *Reader) Line() int { return r.line }

// Next returns the next line without its trailing "\n" (a "\r" before it is
// kept), or io.EOF after the last. The slice is valid until the next call.
// A line over the bound returns a *TooLongError (and reading goes on with
// the next line); a read error is wrapped with the file name and line.
func (r *Reader) Next() ([]byte, error) {
	start := r.off
	chunk, err := r.br.ReadSlice('\n')
	r.off += int64(len(chunk))
	if err == io.EOF && len(chunk) == 0 {
		return nil, io.EOF
	}
	r.line++
	switch {
	case errors.Is(err, bufio.ErrBufferFull) && r.seeker != nil:
		return r.measureThenRead(start, int64(len(chunk)))
	case errors.Is(err, bufio.ErrBufferFull):
		return r.gather(chunk)
	case err != nil && err != io.EOF:
		return nil, fmt.Errorf("read %s line %d: %w", r.name, r.line, err)
	}
	line := trimNewline(chunk)
	if len(line) > r.max {
		return nil, &TooLongError{Name: r.name, Line: r.line, Len: int64(len(line)), Max: r.max}
	}
	return line, nil
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

// skipRest consumes the rest of a line whose first n bytes were read and
// returns its total length with the newline, and whether it had one.
func (r *Reader) skipRest(n int64) (total int64, newline bool, err error) {
	for {
		chunk, err := r.br.ReadSlice('\n')
		n += int64(len(chunk))
		r.off += int64(len(chunk))
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && err != io.EOF {
			return n, false, fmt.Errorf("read %s line %d: %w", r.name, r.line, err)
		}
		return n, len(chunk) > 0 && chunk[len(chunk)-1] == '\n', nil
	}
}

// measureThenRead handles a line longer than the buffer from a seekable
// source: it finds the end of the line, and only when the line is within
// the bound seeks back and reads it into a buffer of its exact size.
func (r *Reader) measureThenRead(start, n int64) ([]byte, error) {
	total, newline, err := r.skipRest(n)
	if err != nil {
		return nil, err
	}
	length := total
	if newline {
		length--
	}
	if length > int64(r.max) {
		return nil, &TooLongError{Name: r.name, Line: r.line, Len: length, Max: r.max}
	}
	end := r.off
	if _, err := r.seeker.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read %s line %d: %w", r.name, r.line, err)
	}
	r.br.Reset(r.src)
	buf := make([]byte, total)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		return nil, fmt.Errorf("read %s line %d: %w", r.name, r.line, err)
	}
	r.off = end
	return trimNewline(buf), nil
}

// gather collects a line longer than the buffer from a source that cannot
// seek, up to the bound; past it, it skips the rest and reports the length.
func (r *Reader) gather(first []byte) ([]byte, error) {
	buf := append(make([]byte, 0, 2*len(first)), first...)
	for {
		chunk, err := r.br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		if err != nil && !full && err != io.EOF {
			return nil, fmt.Errorf("read %s line %d: %w", r.name, r.line, err)
		}
		if len(buf)+len(trimNewline(chunk)) > r.max {
			n := int64(len(buf) + len(chunk))
			newline := len(chunk) > 0 && chunk[len(chunk)-1] == '\n'
			if full {
				if n, newline, err = r.skipRest(n); err != nil {
					return nil, err
				}
			}
			if newline {
				n--
			}
			return nil, &TooLongError{Name: r.name, Line: r.line, Len: n, Max: r.max}
		}
		buf = append(buf, chunk...)
		if !full {
			return trimNewline(buf), nil
		}
	}
}
