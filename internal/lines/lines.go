// Package lines reads a text file line by line with a bound on the length
// of a line, for the JSONL readers of every command. A line over the bound
// is never held in memory: it is skipped to its end (counting its length in
// fixed-size chunks) and reported as a *TooLongError naming the file, the
// line and the length, so one 200 MB line costs at most the bufio buffer
// and a clear one-line error, not all of RAM.
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

// Reader yields the lines of an io.Reader.
type Reader struct {
	br   *bufio.Reader
	name string
	max  int
	line int
}

// New returns a reader of r whose lines may hold at most max bytes (max > 0).
// name labels errors.
func New(r io.Reader, name string, max int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 1<<16), name: name, max: max}
}

// Line returns the 1-based number of the line Next returned last.
func (r *Reader) Line() int { return r.line }

// Next returns the next line without its trailing "\n" (a "\r" before it is
// kept), or io.EOF after the last. The slice is valid until the next call.
// A line over the bound returns a *TooLongError; a read error is wrapped
// with the file name and line.
func (r *Reader) Next() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(buf)+len(chunk) > r.max+1 || len(buf)+len(chunk) == r.max+1 && chunk[len(chunk)-1] != '\n' {
			r.line++
			return nil, r.skip(int64(len(buf)+len(chunk)), chunk, err)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			buf = append(buf, chunk...)
			continue
		}
		if err != nil && err != io.EOF {
			r.line++
			return nil, fmt.Errorf("read %s line %d: %w", r.name, r.line, err)
		}
		if err == io.EOF && len(buf)+len(chunk) == 0 {
			return nil, io.EOF
		}
		r.line++
		if buf == nil {
			buf = chunk
		} else {
			buf = append(buf, chunk...)
		}
		if n := len(buf); n > 0 && buf[n-1] == '\n' {
			buf = buf[:n-1]
		}
		return buf, nil
	}
}

// skip consumes the rest of an over-long line whose first n bytes were
// read (the last read returned last and err) and returns its error.
func (r *Reader) skip(n int64, last []byte, err error) error {
	for errors.Is(err, bufio.ErrBufferFull) {
		last, err = r.br.ReadSlice('\n')
		n += int64(len(last))
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("read %s line %d: %w", r.name, r.line, err)
	}
	if len(last) > 0 && last[len(last)-1] == '\n' {
		n--
	}
	return &TooLongError{Name: r.name, Line: r.line, Len: n, Max: r.max}
}
