package data

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/parquet-go/parquet-go"
)

// parquetFile streams one column of a Parquet file as Hugging Face datasets
// write them: a string column (text) or a list<int32|int64> column
// (input_ids), one document per row. It reads one page at a time.
type parquetFile struct {
	path  string
	f     *os.File
	pf    *parquet.File
	col   int
	ids   bool // list column of ids, else text
	name  string
	rg    int           // next row group
	pages parquet.Pages // current column chunk's pages
	vals  parquet.ValueReader
	buf   []parquet.Value
	bufN  int
	bufI  int
	row   int64
	cur   []int32
	inRow bool
	done  bool
}

func openParquet(path string, opts *CorpusOptions) (*parquetFile, error) {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("open corpus: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat corpus: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	p := &parquetFile{path: path, f: f, pf: pf, col: -1, buf: make([]parquet.Value, 4096)}
	cols := pf.Schema().Columns()
	for i, c := range cols {
		if len(c) > 0 && c[0] == opts.idsField() {
			p.col, p.ids, p.name = i, true, opts.idsField()
			break
		}
	}
	if p.col < 0 {
		for i, c := range cols {
			if len(c) == 1 && c[0] == opts.textField() {
				p.col, p.name = i, opts.textField()
				break
			}
		}
	}
	if p.col < 0 {
		f.Close()
		return nil, fmt.Errorf("%s: neither a %q nor a %q column (columns: %v)", path, opts.textField(), opts.idsField(), cols)
	}
	return p, nil
}

// nextValue returns the next value of the column, or io.EOF.
func (p *parquetFile) nextValue() (parquet.Value, error) {
	for p.bufI >= p.bufN {
		if p.vals != nil {
			n, err := p.vals.ReadValues(p.buf)
			p.bufN, p.bufI = n, 0
			if err == io.EOF {
				// The page is left to the garbage collector: values still
				// in buf may point into it.
				p.vals = nil
			} else if err != nil {
				return parquet.Value{}, fmt.Errorf("%s: column %q: %w", p.path, p.name, err)
			}
			continue
		}
		if p.pages != nil {
			pg, err := p.pages.ReadPage()
			if err == io.EOF {
				p.pages.Close()
				p.pages = nil
				continue
			}
			if err != nil {
				return parquet.Value{}, fmt.Errorf("%s: column %q: %w", p.path, p.name, err)
			}
			p.vals = pg.Values()
			continue
		}
		rgs := p.pf.RowGroups()
		if p.rg >= len(rgs) {
			return parquet.Value{}, io.EOF
		}
		chunks := rgs[p.rg].ColumnChunks()
		p.rg++
		if p.col >= len(chunks) {
			return parquet.Value{}, fmt.Errorf("%s: row group %d has no column %d", p.path, p.rg-1, p.col)
		}
		p.pages = chunks[p.col].Pages()
	}
	v := p.buf[p.bufI]
	p.bufI++
	return v, nil
}

func (p *parquetFile) Next() (Document, error) {
	if p.done {
		return Document{}, io.EOF
	}
	for {
		v, err := p.nextValue()
		if errors.Is(err, io.EOF) {
			p.done = true
			if p.ids && p.inRow {
				return p.emit(), nil
			}
			return Document{}, io.EOF
		}
		if err != nil {
			return Document{}, err
		}
		if !p.ids {
			src := fmt.Sprintf("%s row %d", p.path, p.row)
			p.row++
			if v.IsNull() {
				return Document{Source: src}, nil
			}
			if v.Kind() != parquet.ByteArray {
				return Document{}, fmt.Errorf("%s: column %q holds %v, not strings", p.path, p.name, v.Kind())
			}
			if n := len(v.ByteArray()); n > MaxDocumentBytes {
				return Document{}, fmt.Errorf("%s: %d bytes, over the limit of %d bytes for one document", src, n, MaxDocumentBytes)
			}
			return Document{Source: src, Text: string(v.ByteArray())}, nil
		}
		var d Document
		emitted := false
		if v.RepetitionLevel() == 0 && p.inRow {
			d, emitted = p.emit(), true
		}
		p.inRow = true
		if !v.IsNull() {
			var id int64
			switch v.Kind() {
			case parquet.Int32:
				id = int64(v.Int32())
			case parquet.Int64:
				id = v.Int64()
			default:
				return Document{}, fmt.Errorf("%s: column %q holds %v, not integers", p.path, p.name, v.Kind())
			}
			if id < 0 || id > 1<<31-1 {
				return Document{}, fmt.Errorf("%s row %d: token id %d out of range", p.path, p.row, id)
			}
			if len(p.cur) >= MaxDocumentBytes/4 {
				return Document{}, fmt.Errorf("%s row %d: more than %d token ids, over the limit for one document", p.path, p.row, MaxDocumentBytes/4)
			}
			p.cur = append(p.cur, int32(id))
		}
		if emitted {
			return d, nil
		}
	}
}

// emit returns the ids gathered for the current row and starts the next.
func (p *parquetFile) emit() Document {
	d := Document{Source: fmt.Sprintf("%s row %d", p.path, p.row), IDs: p.cur}
	if d.IDs == nil {
		d.IDs = []int32{}
	}
	p.row++
	p.cur = nil
	p.inRow = false
	return d
}

func (p *parquetFile) Close() error {
	if p.pages != nil {
		p.pages.Close()
	}
	return p.f.Close()
}
