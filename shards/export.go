package shards

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
)

// labelsOf returns the Hugging Face labels of r: input ids, -100 where the
// token is not a prediction target.
func labelsOf(r Row) []int32 {
	l := make([]int32, len(r.InputIDs))
	for j, t := range r.InputIDs {
		if r.LossMask != nil && !r.LossMask[j] {
			t = -100
		}
		l[j] = t
	}
	return l
}

// countingWriter counts bytes and feeds a CRC.
type countingWriter struct {
	w   io.Writer
	crc hash.Hash32
	n   int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// jsonlFile writes one JSONL data file.
type jsonlFile struct {
	f      *atomicfile.File
	bw     *bufio.Writer
	cw     *countingWriter
	labels bool
	rows   int64
	tokens int64
	buf    []byte
}

func newJSONLFile(f *atomicfile.File, labels bool) *jsonlFile {
	j := &jsonlFile{f: f, bw: bufio.NewWriterSize(f, 1<<20), labels: labels}
	j.cw = &countingWriter{w: j.bw, crc: crc32.New(castagnoli)}
	return j
}

func appendInts(b []byte, v []int32) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return append(b, ']')
}

// AppendJSONRow appends r as one JSON object (no newline): input_ids,
// position_ids and, when labels is true, labels.
func AppendJSONRow(b []byte, r Row, labels bool) []byte {
	b = append(b, `{"input_ids":`...)
	b = appendInts(b, r.InputIDs)
	b = append(b, `,"position_ids":`...)
	b = appendInts(b, r.PositionIDs)
	if labels {
		b = append(b, `,"labels":`...)
		b = appendInts(b, labelsOf(r))
	}
	return append(b, '}')
}

func (j *jsonlFile) write(r Row) error {
	j.buf = append(AppendJSONRow(j.buf[:0], r, j.labels), '\n')
	if _, err := j.cw.Write(j.buf); err != nil {
		return err
	}
	j.rows++
	j.tokens += int64(len(r.InputIDs))
	return nil
}

func (j *jsonlFile) size() int64 { return j.cw.n }

func (j *jsonlFile) finish() (ShardInfo, error) {
	defer j.f.Abort()
	if err := j.bw.Flush(); err != nil {
		return ShardInfo{}, err
	}
	if err := j.f.Commit(); err != nil {
		return ShardInfo{}, err
	}
	return ShardInfo{Rows: j.rows, Tokens: j.tokens, Bytes: j.cw.n, CRC32C: j.cw.crc.Sum32()}, nil
}

func (j *jsonlFile) abort() { j.f.Abort() }

// parquetRow and parquetRowLabels are the Parquet schemas: list<int32>
// columns, as Hugging Face datasets write Sequence(int32) features.
type parquetRow struct {
	InputIDs    []int32 `parquet:"input_ids,list"`
	PositionIDs []int32 `parquet:"position_ids,list"`
}

type parquetRowLabels struct {
	InputIDs    []int32 `parquet:"input_ids,list"`
	PositionIDs []int32 `parquet:"position_ids,list"`
	Labels      []int32 `parquet:"labels,list"`
}

// parquetFile writes one Parquet data file.
type parquetFile struct {
	f      *atomicfile.File
	bw     *bufio.Writer
	cw     *countingWriter
	w      *parquet.GenericWriter[parquetRow]
	wl     *parquet.GenericWriter[parquetRowLabels]
	rows   int64
	tokens int64
}

func newParquetFile(f *atomicfile.File, labels bool) *parquetFile {
	p := &parquetFile{f: f, bw: bufio.NewWriterSize(f, 1<<20)}
	p.cw = &countingWriter{w: p.bw, crc: crc32.New(castagnoli)}
	opts := []parquet.WriterOption{parquet.Compression(&parquet.Snappy), parquet.CreatedBy("longrecipe", "", "")}
	if labels {
		p.wl = parquet.NewGenericWriter[parquetRowLabels](p.cw, opts...)
	} else {
		p.w = parquet.NewGenericWriter[parquetRow](p.cw, opts...)
	}
	return p
}

func (p *parquetFile) write(r Row) error {
	var err error
	if p.wl != nil {
		_, err = p.wl.Write([]parquetRowLabels{{InputIDs: r.InputIDs, PositionIDs: r.PositionIDs, Labels: labelsOf(r)}})
	} else {
		_, err = p.w.Write([]parquetRow{{InputIDs: r.InputIDs, PositionIDs: r.PositionIDs}})
	}
	if err != nil {
		return err
	}
	p.rows++
	p.tokens += int64(len(r.InputIDs))
	return nil
}

// size estimates the file size: what is flushed, or the uncompressed
// column data if more (rows are buffered until the file is closed).
func (p *parquetFile) size() int64 {
	cols := int64(2)
	if p.wl != nil {
		cols = 3
	}
	return max(p.cw.n, 4*cols*p.tokens)
}

func (p *parquetFile) finish() (ShardInfo, error) {
	defer p.f.Abort()
	var err error
	if p.wl != nil {
		err = p.wl.Close()
	} else {
		err = p.w.Close()
	}
	if err != nil {
		return ShardInfo{}, err
	}
	if err := p.bw.Flush(); err != nil {
		return ShardInfo{}, err
	}
	if err := p.f.Commit(); err != nil {
		return ShardInfo{}, err
	}
	return ShardInfo{Rows: p.rows, Tokens: p.tokens, Bytes: p.cw.n, CRC32C: p.cw.crc.Sum32()}, nil
}

func (p *parquetFile) abort() { p.f.Abort() }

// readParquetRows reads a whole Parquet data file (input_ids,
// position_ids, optional labels list columns) into memory.
func readParquetRows(path string) ([]Row, error) {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("open data file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat data file: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	hasLabels := false
	for _, c := range pf.Schema().Columns() {
		if len(c) > 0 && c[0] == "labels" {
			hasLabels = true
		}
	}
	rd := parquet.NewGenericReader[parquetRowLabels](f)
	defer rd.Close()
	var rows []Row
	buf := make([]parquetRowLabels, 64)
	for {
		n, err := rd.Read(buf)
		for _, pr := range buf[:n] {
			r := Row{InputIDs: pr.InputIDs, PositionIDs: pr.PositionIDs}
			if hasLabels {
				if len(pr.Labels) != len(r.InputIDs) {
					return nil, fmt.Errorf("%s row %d: %d labels for %d input ids", path, len(rows), len(pr.Labels), len(r.InputIDs))
				}
				r.LossMask = make([]bool, len(pr.Labels))
				for j, l := range pr.Labels {
					switch l {
					case -100:
					case r.InputIDs[j]:
						r.LossMask[j] = true
					default:
						return nil, fmt.Errorf("%s row %d: labels[%d] = %d is neither -100 nor the input id", path, len(rows), j, l)
					}
				}
			}
			if err := CheckRow(r); err != nil {
				return nil, fmt.Errorf("%s row %d: %w", path, len(rows), err)
			}
			rows = append(rows, r)
		}
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
}
