package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/longrecipe/longrecipe/internal/lines"
	"github.com/longrecipe/longrecipe/internal/paths"
)

// Document is one corpus document: text to tokenize, or token ids when the
// corpus is pre-tokenized. A JSONL document is decoded lazily (by Decode,
// on a worker goroutine) so that parsing runs in parallel.
type Document struct {
	// Source says where the document comes from ("file:line", "file row
	// N", "file"), for error messages.
	Source string
	Text   string
	IDs    []int32
	// Fields holds the other string fields of a JSONL record (replay uses
	// prompt/response fields).
	Fields map[string]string

	raw  []byte // undecoded JSONL line
	opts *CorpusOptions
}

// CorpusOptions says which fields hold a document.
type CorpusOptions struct {
	// TextField is the JSONL/Parquet field holding text ("text").
	TextField string
	// IDsField is the JSONL/Parquet field holding token ids ("input_ids");
	// when a record has it, it wins over TextField.
	IDsField string
	// KeepFields lists more JSONL string fields to keep in
	// Document.Fields (used by replay); a record must have all of them.
	KeepFields []string
}

func (o *CorpusOptions) textField() string {
	if o.TextField == "" {
		return "text"
	}
	return o.TextField
}

func (o *CorpusOptions) idsField() string {
	if o.IDsField == "" {
		return "input_ids"
	}
	return o.IDsField
}

// Decode parses a lazily read JSONL document in place. It is a no-op for
// documents already decoded.
func (d *Document) Decode() error {
	if d.raw == nil {
		return nil
	}
	raw := d.raw
	d.raw = nil
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rec); err != nil {
		return fmt.Errorf("%s: %w", d.Source, err)
	}
	o := d.opts
	if len(o.KeepFields) > 0 {
		d.Fields = make(map[string]string, len(o.KeepFields))
		for _, f := range o.KeepFields {
			v, ok := rec[f]
			if !ok {
				return fmt.Errorf("%s: no %q field", d.Source, f)
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("%s: field %q: %w", d.Source, f, err)
			}
			d.Fields[f] = s
		}
		return nil
	}
	if v, ok := rec[o.idsField()]; ok {
		ids, err := ParseIDs(v)
		if err != nil {
			return fmt.Errorf("%s: field %q: %w", d.Source, o.idsField(), err)
		}
		d.IDs = ids
		return nil
	}
	if v, ok := rec[o.textField()]; ok {
		if err := json.Unmarshal(v, &d.Text); err != nil {
			return fmt.Errorf("%s: field %q: %w", d.Source, o.textField(), err)
		}
		return nil
	}
	return fmt.Errorf("%s: neither %q nor %q field", d.Source, o.textField(), o.idsField())
}

// ParseIDs parses a JSON array of non-negative integers that fit in int32
// (fast path for pre-tokenized corpora: no reflection).
func ParseIDs(b []byte) ([]int32, error) {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, fmt.Errorf("not a JSON array of token ids")
	}
	b = b[1 : len(b)-1]
	ids := make([]int32, 0, len(b)/6+1)
	i := 0
	skipSpace := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
			i++
		}
	}
	skipSpace()
	if i == len(b) {
		return ids, nil
	}
	for {
		skipSpace()
		start := i
		var v int64
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			v = v*10 + int64(b[i]-'0')
			if v > 1<<31-1 {
				return nil, fmt.Errorf("token id %s... out of int32 range", b[start:i+1])
			}
			i++
		}
		if i == start {
			if i < len(b) && b[i] == '-' {
				return nil, fmt.Errorf("negative token id at element %d", len(ids))
			}
			return nil, fmt.Errorf("element %d is not a non-negative integer", len(ids))
		}
		if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
			return nil, fmt.Errorf("element %d is not an integer", len(ids))
		}
		ids = append(ids, int32(v))
		skipSpace()
		if i == len(b) {
			return ids, nil
		}
		if b[i] != ',' {
			return nil, fmt.Errorf("unexpected %q after element %d", b[i], len(ids)-1)
		}
		i++
	}
}

// Corpus streams the documents of a corpus in a fixed order.
type Corpus interface {
	// Next returns the next document, or io.EOF after the last one.
	Next() (Document, error)
	Close() error
}

// OpenCorpus opens a corpus: a .jsonl/.json file (one JSON object a line),
// a .parquet file, a plain-text file (one document), or a directory, whose
// files are read in lexical path order (recursively, skipping hidden names)
// each according to its extension.
func OpenCorpus(path string, opts CorpusOptions) (Corpus, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open corpus: %w", err)
	}
	if !st.IsDir() {
		return openFile(path, &opts)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list corpus %s: %w", path, err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("corpus directory %s has no files", path)
	}
	return &multiCorpus{files: files, opts: &opts}, nil
}

func openFile(path string, opts *CorpusOptions) (Corpus, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".json", ".ndjson":
		return openJSONL(path, opts)
	case ".parquet":
		return openParquet(path, opts)
	default:
		return &textFile{path: path}, nil
	}
}

// multiCorpus chains the files of a directory.
type multiCorpus struct {
	files []string
	opts  *CorpusOptions
	cur   Corpus
}

func (m *multiCorpus) Next() (Document, error) {
	for {
		if m.cur == nil {
			if len(m.files) == 0 {
				return Document{}, io.EOF
			}
			c, err := openFile(m.files[0], m.opts)
			if err != nil {
				return Document{}, err
			}
			m.cur, m.files = c, m.files[1:]
		}
		d, err := m.cur.Next()
		if err == io.EOF {
			if err := m.cur.Close(); err != nil {
				return Document{}, err
			}
			m.cur = nil
			continue
		}
		return d, err
	}
}

func (m *multiCorpus) Close() error {
	if m.cur != nil {
		return m.cur.Close()
	}
	return nil
}

// MaxDocumentBytes bounds one document of a corpus: a JSONL line, a
// plain-text file, a Parquet value. A larger one is refused with its file,
// line (or row) and length before it is held in memory, so a corrupt or
// hostile corpus costs an error, not all of RAM.
const MaxDocumentBytes = 64 << 20

// textFile is a plain-text file holding one document.
type textFile struct {
	path string
	done bool
}

func (t *textFile) Next() (Document, error) {
	if t.done {
		return Document{}, io.EOF
	}
	t.done = true
	f, err := paths.OpenRegular(t.path)
	if err != nil {
		return Document{}, fmt.Errorf("read corpus: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxDocumentBytes {
		return Document{}, fmt.Errorf("%s: %d bytes, over the limit of %d bytes for one document", t.path, st.Size(), MaxDocumentBytes)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxDocumentBytes+1))
	if err != nil {
		return Document{}, fmt.Errorf("read corpus: %w", err)
	}
	if len(b) > MaxDocumentBytes {
		return Document{}, fmt.Errorf("%s: over the limit of %d bytes for one document", t.path, MaxDocumentBytes)
	}
	return Document{Source: t.path, Text: string(b)}, nil
}

func (t *textFile) Close() error { return nil }

// jsonlFile streams the lines of a JSONL file.
type jsonlFile struct {
	path string
	f    *os.File
	lr   *lines.Reader
	opts *CorpusOptions
}

func openJSONL(path string, opts *CorpusOptions) (*jsonlFile, error) {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("open corpus: %w", err)
	}
	return &jsonlFile{path: path, f: f, lr: lines.New(f, path, MaxDocumentBytes), opts: opts}, nil
}

func (j *jsonlFile) Next() (Document, error) {
	for {
		line, err := j.lr.Next()
		if err != nil {
			return Document{}, err // io.EOF, or an error naming file and line
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return Document{Source: j.path + ":" + strconv.Itoa(j.lr.Line()), raw: bytes.Clone(line), opts: j.opts}, nil
	}
}

func (j *jsonlFile) Close() error { return j.f.Close() }
