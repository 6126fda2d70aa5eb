package shards

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// JSONLDataset is a JSONL file opened with OpenJSONL. Open indexes the
// lines; each Row call reads and parses one line.
type JSONLDataset struct {
	path  string
	f     *os.File
	lines []lineSpan
}

type lineSpan struct {
	off  int64
	n    int
	line int // 1-based line number, for error messages
}

// MaxJSONLRowBytes bounds one line of a JSONL dataset (about three million
// tokens with positions and mask): a longer line is refused while the file
// is indexed, with its line number and length, before any of it is held in
// memory.
const MaxJSONLRowBytes = 64 << 20

// OpenJSONL indexes the non-blank lines of a JSONL file (see Open for the
// fields a row may have). The file must be a regular file (a FIFO is refused
// before it is opened) with no line over MaxJSONLRowBytes.
func OpenJSONL(path string) (*JSONLDataset, error) {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	d := &JSONLDataset{path: path, f: f}
	br := bufio.NewReaderSize(f, 1<<20)
	var off int64
	for line := 1; ; line++ {
		n, blank, err := scanLine(br)
		if n > MaxJSONLRowBytes+1 || n == MaxJSONLRowBytes+1 && err != nil {
			f.Close()
			if err == nil {
				n-- // the newline
			}
			return nil, fmt.Errorf("%s line %d: %d bytes, over the limit of %d bytes for one row", path, line, n, MaxJSONLRowBytes)
		}
		if n > 0 && !blank {
			d.lines = append(d.lines, lineSpan{off: off, n: n, line: line})
		}
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return d, nil
}

// scanLine consumes one line (with its newline) and returns its length and
// whether it is only white space.
func scanLine(br *bufio.Reader) (n int, blank bool, err error) {
	blank = true
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if blank && len(bytes.TrimSpace(chunk)) > 0 {
			blank = false
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return n, blank, err
	}
}

// Len returns the number of rows (non-blank lines).
func (d *JSONLDataset) Len() int { return len(d.lines) }

// jsonlRow is the JSON shape of a row.
type jsonlRow struct {
	InputIDs    []int32       `json:"input_ids"`
	PositionIDs []int32       `json:"position_ids"`
	LossMask    []jsonMaskBit `json:"loss_mask"`
	Labels      []int64       `json:"labels"`
}

// jsonMaskBit accepts true/false or 1/0.
type jsonMaskBit bool

func (m *jsonMaskBit) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true", "1":
		*m = true
	case "false", "0":
		*m = false
	default:
		return fmt.Errorf("loss_mask entry %s is not 0, 1, true or false", b)
	}
	return nil
}

// Row reads and parses row i.
func (d *JSONLDataset) Row(i int) (Row, error) {
	if i < 0 || i >= len(d.lines) {
		return Row{}, fmt.Errorf("%s: row %d out of range [0, %d)", d.path, i, len(d.lines))
	}
	sp := d.lines[i]
	buf := make([]byte, sp.n)
	if _, err := d.f.ReadAt(buf, sp.off); err != nil {
		return Row{}, fmt.Errorf("%s line %d: %w", d.path, sp.line, err)
	}
	r, err := ParseJSONRow(buf)
	if err != nil {
		return Row{}, fmt.Errorf("%s line %d: %w", d.path, sp.line, err)
	}
	return r, nil
}

// ParseJSONRow parses one JSON row (the JSONL line format described at Open)
// and checks it with CheckRow.
func ParseJSONRow(b []byte) (Row, error) {
	var jr jsonlRow
	if err := json.Unmarshal(b, &jr); err != nil {
		return Row{}, err
	}
	if jr.InputIDs == nil {
		return Row{}, fmt.Errorf("no input_ids field")
	}
	r := Row{InputIDs: jr.InputIDs, PositionIDs: jr.PositionIDs}
	if r.PositionIDs == nil {
		r.PositionIDs = make([]int32, len(r.InputIDs))
		for j := range r.PositionIDs {
			r.PositionIDs[j] = int32(j)
		}
	}
	switch {
	case jr.LossMask != nil && jr.Labels != nil:
		return Row{}, fmt.Errorf("both loss_mask and labels given; give one")
	case jr.LossMask != nil:
		r.LossMask = make([]bool, len(jr.LossMask))
		for j, m := range jr.LossMask {
			r.LossMask[j] = bool(m)
		}
	case jr.Labels != nil:
		if len(jr.Labels) != len(r.InputIDs) {
			return Row{}, fmt.Errorf("%d labels for %d input_ids", len(jr.Labels), len(r.InputIDs))
		}
		r.LossMask = make([]bool, len(jr.Labels))
		for j, l := range jr.Labels {
			switch l {
			case -100:
			case int64(r.InputIDs[j]):
				r.LossMask[j] = true
			default:
				return Row{}, fmt.Errorf("labels[%d] = %d is neither -100 nor input_ids[%d] = %d", j, l, j, r.InputIDs[j])
			}
		}
	}
	if err := CheckRow(r); err != nil {
		return Row{}, err
	}
	return r, nil
}

// Close closes the file.
func (d *JSONLDataset) Close() error { return d.f.Close() }
