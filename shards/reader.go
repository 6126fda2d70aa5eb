package shards

import (
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// Dataset is a read-only, random-access list of rows. Row may be called
// from several goroutines at once; the returned slices belong to the caller.
type Dataset interface {
	// Len is the number of rows.
	Len() int
	// Row returns row i (0 <= i < Len()).
	Row(i int) (Row, error)
	// Close releases the files behind the dataset.
	Close() error
}

// Open opens a dataset: a directory written by Writer (with manifest.json)
// or a JSONL file with one row per line, {"input_ids": [...]} and optionally
// "position_ids" (default 0..n-1) and either "loss_mask" (0/1 or booleans)
// or "labels" (input ids, -100 where the token is not a target).
func Open(path string) (Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	if st.IsDir() {
		return OpenDir(path)
	}
	return OpenJSONL(path)
}

// ShardDataset is a dataset directory opened with OpenDir.
type ShardDataset struct {
	dir      string
	manifest *Manifest
	files    []dataReader
	starts   []int // starts[k] = index of the first row of files[k]; len = len(files)+1
	checks   []crcCheck
}

// crcCheck runs the CRC-32C check of one data file once, before the first
// row of that file is returned.
type crcCheck struct {
	once sync.Once
	err  error
}

// dataReader is one opened data file.
type dataReader interface {
	name() string
	len() int
	row(i int) (Row, error)
	// checkCRC checks the file's CRC-32C (want: the manifest's).
	checkCRC(want uint32) error
	// verify is checkCRC and a decode of every row.
	verify(want uint32) error
	close() error
}

// OpenDir opens a dataset directory: it reads the manifest, opens every
// data file (native shards are memory-mapped and their structure checked;
// JSONL files are indexed; Parquet files are read into memory) and checks
// each file against the manifest. The CRC-32C of a data file is checked
// against its header and the manifest before the first row of that file is
// returned (once per file and open), so a flipped byte is an error for every
// reader, not only for Verify; Verify also decodes every row.
func OpenDir(dir string) (*ShardDataset, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	d := &ShardDataset{dir: dir, manifest: m, starts: []int{0}}
	for _, s := range m.Shards {
		path := filepath.Join(dir, s.File)
		st, err := os.Stat(path)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("dataset %s: %w", dir, err)
		}
		if st.Size() != s.Bytes {
			d.Close()
			return nil, fmt.Errorf("%s: %d bytes, the manifest says %d", path, st.Size(), s.Bytes)
		}
		var f dataReader
		switch m.Format {
		case JSONL:
			f, err = openJSONLData(path)
		case Parquet:
			f, err = openParquetData(path)
		default:
			var sf *shardFile
			sf, err = openShardFile(path)
			if err == nil && sf.crc != s.CRC32C {
				sf.close()
				err = fmt.Errorf("%s: header CRC %08x, the manifest says %08x", path, sf.crc, s.CRC32C)
			}
			f = sf
		}
		if err != nil {
			d.Close()
			return nil, err
		}
		d.files = append(d.files, f)
		if int64(f.len()) != s.Rows {
			d.Close()
			return nil, fmt.Errorf("%s: %d rows, the manifest says %d", path, f.len(), s.Rows)
		}
		d.starts = append(d.starts, d.starts[len(d.starts)-1]+f.len())
	}
	d.checks = make([]crcCheck, len(d.files))
	return d, nil
}

type shardFile struct {
	path  string
	data  []byte
	unmap func() error
	index []indexEntry
	crc   uint32
}

func openShardFile(path string) (*shardFile, error) {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("open shard: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat shard: %w", err)
	}
	data, unmap, err := mapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	h, idx, err := parseIndex(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &shardFile{path: path, data: data, unmap: unmap, index: idx, crc: h.crc}, nil
}

func (sf *shardFile) name() string { return sf.path }
func (sf *shardFile) len() int     { return len(sf.index) }

func (sf *shardFile) row(i int) (Row, error) {
	if sf.data == nil {
		return Row{}, fmt.Errorf("%s: Row after Close", sf.path)
	}
	r, err := decodeRow(sf.data, sf.index[i])
	if err != nil {
		return Row{}, fmt.Errorf("%s: row %d: %w", sf.path, i, err)
	}
	return r, nil
}

func (sf *shardFile) checkCRC(want uint32) error {
	if sf.data == nil {
		return fmt.Errorf("%s: read after Close", sf.path)
	}
	if got := crc32.Checksum(sf.data[headerSize:], castagnoli); got != sf.crc || got != want {
		return fmt.Errorf("%s: CRC-32C %08x, header says %08x, manifest %08x: file is damaged", sf.path, got, sf.crc, want)
	}
	return nil
}

func (sf *shardFile) verify(want uint32) error {
	if err := sf.checkCRC(want); err != nil {
		return err
	}
	for j, e := range sf.index {
		if _, err := decodeRow(sf.data, e); err != nil {
			return fmt.Errorf("%s: row %d: %w", sf.path, j, err)
		}
	}
	return nil
}

func (sf *shardFile) close() error {
	var err error
	if sf.unmap != nil {
		if e := sf.unmap(); e != nil {
			err = fmt.Errorf("%s: unmap: %w", sf.path, e)
		}
		sf.unmap = nil
	}
	sf.data = nil
	return err
}

// jsonlData is a JSONL data file of a dataset directory.
type jsonlData struct{ *JSONLDataset }

func openJSONLData(path string) (*jsonlData, error) {
	d, err := OpenJSONL(path)
	if err != nil {
		return nil, err
	}
	return &jsonlData{d}, nil
}

func (j *jsonlData) name() string           { return j.path }
func (j *jsonlData) len() int               { return j.Len() }
func (j *jsonlData) row(i int) (Row, error) { return j.Row(i) }
func (j *jsonlData) close() error           { return j.Close() }
func (j *jsonlData) checkCRC(want uint32) error {
	return fileCRC(j.path, want)
}
func (j *jsonlData) verify(want uint32) error {
	if err := fileCRC(j.path, want); err != nil {
		return err
	}
	for i := range j.Len() {
		if _, err := j.Row(i); err != nil {
			return err
		}
	}
	return nil
}

// parquetData is a Parquet data file, held in memory.
type parquetData struct {
	path string
	rows []Row
}

func openParquetData(path string) (*parquetData, error) {
	rows, err := readParquetRows(path)
	if err != nil {
		return nil, err
	}
	return &parquetData{path: path, rows: rows}, nil
}

func (p *parquetData) name() string { return p.path }
func (p *parquetData) len() int     { return len(p.rows) }
func (p *parquetData) row(i int) (Row, error) {
	r := p.rows[i]
	out := Row{InputIDs: slices.Clone(r.InputIDs), PositionIDs: slices.Clone(r.PositionIDs)}
	if r.LossMask != nil {
		out.LossMask = slices.Clone(r.LossMask)
	}
	return out, nil
}
func (p *parquetData) checkCRC(want uint32) error { return fileCRC(p.path, want) }
func (p *parquetData) verify(want uint32) error   { return fileCRC(p.path, want) }
func (p *parquetData) close() error               { p.rows = nil; return nil }

// fileCRC checks the CRC-32C of a whole file.
func fileCRC(path string, want uint32) error {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	if got := h.Sum32(); got != want {
		return fmt.Errorf("%s: CRC-32C %08x, the manifest says %08x: file is damaged", path, got, want)
	}
	return nil
}

// Manifest returns the dataset's manifest.
func (d *ShardDataset) Manifest() *Manifest { return d.manifest }

// Len returns the number of rows.
func (d *ShardDataset) Len() int { return d.starts[len(d.starts)-1] }

// Row returns row i.
func (d *ShardDataset) Row(i int) (Row, error) {
	if i < 0 || i >= d.Len() {
		return Row{}, fmt.Errorf("dataset %s: row %d out of range [0, %d)", d.dir, i, d.Len())
	}
	k := sort.SearchInts(d.starts, i+1) - 1
	c := &d.checks[k]
	c.once.Do(func() { c.err = d.files[k].checkCRC(d.manifest.Shards[k].CRC32C) })
	if c.err != nil {
		return Row{}, c.err
	}
	return d.files[k].row(i - d.starts[k])
}

// Verify checks every data file's CRC-32C against the manifest and decodes
// every row, so a damaged byte anywhere is reported.
func (d *ShardDataset) Verify() error {
	for k, f := range d.files {
		if err := f.verify(d.manifest.Shards[k].CRC32C); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the data files.
func (d *ShardDataset) Close() error {
	var first error
	for _, f := range d.files {
		if err := f.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
