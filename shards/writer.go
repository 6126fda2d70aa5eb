package shards

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
)

// DefaultShardBytes is the default size at which a data file is closed and
// the next one started.
const DefaultShardBytes = 256 << 20

// Format is the file format of a dataset's data files.
type Format string

// The formats a dataset can be written in.
const (
	// Binary: native memory-mappable shards (shard-NNNNN.lrs).
	Binary Format = "shards"
	// JSONL: data-NNNNN.jsonl, one {"input_ids", "position_ids"[, "labels"]}
	// object a line.
	JSONL Format = "jsonl"
	// Parquet: data-NNNNN.parquet with list<int32> columns input_ids,
	// position_ids[, labels], Snappy-compressed, as Hugging Face datasets
	// and pandas read them.
	Parquet Format = "parquet"
)

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Binary, JSONL, Parquet:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want shards, jsonl or parquet)", s)
}

// WriterOptions configures Create.
type WriterOptions struct {
	// Format of the data files ("" = Binary).
	Format Format
	// MaxShardBytes: a data file is closed once it reaches about this size
	// (<= 0: DefaultShardBytes).
	MaxShardBytes int64
	// Labels makes JSONL and Parquet files carry a "labels" column (input
	// ids, -100 where LossMask is false), the column Hugging Face trainers
	// read; it is required when rows have loss masks. Binary shards store
	// masks natively and ignore it.
	Labels bool
}

// dataFile is one data file being written.
type dataFile interface {
	write(r Row) error
	size() int64
	// finish commits the file and returns its manifest entry (File is
	// filled in by the caller).
	finish() (ShardInfo, error)
	abort()
}

// Writer writes rows into a dataset directory, starting a new data file
// each time the current one reaches the size limit. Each data file and the
// manifest are written atomically; the manifest, written last by Close, is
// what makes the dataset visible to Open.
type Writer struct {
	dir  string
	opts WriterOptions

	cur       dataFile
	shards    []ShardInfo
	rowsAll   int64
	tokensAll int64
	closed    bool
	// created lists the folders Create made, deepest first; Abort removes
	// those left empty.
	created []string
}

// Create starts a dataset in dir (created if missing). Data files of an
// earlier dataset in dir are replaced (its manifest is removed at once);
// data files the new dataset does not use are removed by Close.
func Create(dir string, opts WriterOptions) (*Writer, error) {
	if opts.Format == "" {
		opts.Format = Binary
	}
	if _, err := ParseFormat(string(opts.Format)); err != nil {
		return nil, err
	}
	if opts.MaxShardBytes <= 0 {
		opts.MaxShardBytes = DefaultShardBytes
	}
	created := missingDirs(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create dataset directory: %w", err)
	}
	// Temporaries of an earlier write killed half-way.
	if _, err := atomicfile.RemoveStale(dir, func(name string) bool { return name == ManifestName || isDataFileName(name) }); err != nil {
		return nil, err
	}
	// An earlier manifest would describe files about to be overwritten:
	// remove it first so a half-written dataset is never opened as valid.
	if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("remove old manifest: %w", err)
	}
	return &Writer{dir: dir, opts: opts, created: created}, nil
}

// missingDirs returns dir and those of its parents that do not exist yet,
// deepest first.
func missingDirs(dir string) []string {
	var out []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !os.IsNotExist(err) {
			return out
		}
		out = append(out, d)
		if filepath.Dir(d) == d {
			return out
		}
	}
}

// dataFileName is the name of data file i of a format.
func dataFileName(f Format, i int) string {
	switch f {
	case JSONL:
		return fmt.Sprintf("data-%05d.jsonl", i)
	case Parquet:
		return fmt.Sprintf("data-%05d.parquet", i)
	}
	return shardFileName(i)
}

// isDataFileName reports whether name is a data file name of any format.
func isDataFileName(name string) bool {
	return strings.HasPrefix(name, "shard-") && strings.HasSuffix(name, ".lrs") ||
		strings.HasPrefix(name, "data-") && (strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".parquet"))
}

func (w *Writer) start() error {
	path := filepath.Join(w.dir, dataFileName(w.opts.Format, len(w.shards)))
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	switch w.opts.Format {
	case JSONL:
		w.cur = newJSONLFile(f, w.opts.Labels)
	case Parquet:
		w.cur = newParquetFile(f, w.opts.Labels)
	default:
		w.cur, err = newBinaryFile(f)
	}
	if err != nil {
		f.Abort()
	}
	return err
}

// Write appends one row. The row is checked with CheckRow first.
func (w *Writer) Write(r Row) error {
	if w.closed {
		return fmt.Errorf("shards: write after Close")
	}
	if err := CheckRow(r); err != nil {
		return fmt.Errorf("dataset %s, row %d: %w", w.dir, w.rowsAll, err)
	}
	if r.LossMask != nil && w.opts.Format != Binary && !w.opts.Labels {
		return fmt.Errorf("dataset %s, row %d: row has a loss mask but the %s writer has no labels column", w.dir, w.rowsAll, w.opts.Format)
	}
	if w.cur == nil {
		if err := w.start(); err != nil {
			return err
		}
	}
	if err := w.cur.write(r); err != nil {
		return fmt.Errorf("write %s: %w", dataFileName(w.opts.Format, len(w.shards)), err)
	}
	w.rowsAll++
	w.tokensAll += int64(len(r.InputIDs))
	if w.cur.size() >= w.opts.MaxShardBytes {
		return w.finish()
	}
	return nil
}

func (w *Writer) finish() error {
	info, err := w.cur.finish()
	w.cur = nil
	if err != nil {
		return err
	}
	info.File = dataFileName(w.opts.Format, len(w.shards))
	w.shards = append(w.shards, info)
	return nil
}

// Rows returns the number of rows written so far.
func (w *Writer) Rows() int64 { return w.rowsAll }

// Close finishes the last data file and writes the manifest: m's
// FormatVersion, Format, Shards, Counts.Rows and Counts.Tokens are filled in
// by Close; the other fields are the caller's. Stale data files of an
// earlier dataset in the directory are removed afterwards.
func (w *Writer) Close(m Manifest) error {
	if w.closed {
		return fmt.Errorf("shards: Close called twice")
	}
	w.closed = true
	if w.cur != nil {
		if err := w.finish(); err != nil {
			return err
		}
	}
	m.FormatVersion = FormatVersion
	m.Format = w.opts.Format
	m.Shards = slices.Clone(w.shards)
	if m.Shards == nil {
		m.Shards = []ShardInfo{}
	}
	m.Counts.Rows = w.rowsAll
	m.Counts.Tokens = w.tokensAll
	b, err := m.Encode()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(w.dir, ManifestName), b); err != nil {
		return err
	}
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("list dataset directory: %w", err)
	}
	for _, e := range entries {
		if !isDataFileName(e.Name()) || slices.ContainsFunc(w.shards, func(s ShardInfo) bool { return s.File == e.Name() }) {
			continue
		}
		if err := os.Remove(filepath.Join(w.dir, e.Name())); err != nil {
			return fmt.Errorf("remove stale data file: %w", err)
		}
	}
	return nil
}

// Abort discards the data files written so far (no manifest is written)
// and removes the folders Create made when nothing else is in them, so a
// failed run leaves no partial dataset or empty folder behind.
func (w *Writer) Abort() {
	w.closed = true
	if w.cur != nil {
		w.cur.abort()
		w.cur = nil
	}
	for _, sh := range w.shards {
		os.Remove(filepath.Join(w.dir, sh.File))
	}
	for _, d := range w.created {
		if os.Remove(d) != nil { // not empty (finished data files) or gone
			return
		}
	}
}
