package shards

import (
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
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
	files    []*shardFile
	starts   []int // starts[k] = index of the first row of files[k]; len = len(files)+1
}

type shardFile struct {
	path  string
	data  []byte
	unmap func() error
	index []indexEntry
	crc   uint32
}

// OpenDir opens a dataset directory: it reads the manifest, maps every
// shard and checks each shard's structure and its agreement with the
// manifest (the CRCs are checked only by Verify).
func OpenDir(dir string) (*ShardDataset, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	d := &ShardDataset{dir: dir, manifest: m, starts: []int{0}}
	for _, s := range m.Shards {
		sf, err := openShardFile(filepath.Join(dir, s.File))
		if err != nil {
			d.Close()
			return nil, err
		}
		d.files = append(d.files, sf)
		if int64(len(sf.data)) != s.Bytes || int64(len(sf.index)) != s.Rows || sf.crc != s.CRC32C {
			d.Close()
			return nil, fmt.Errorf("%s: does not match the manifest (bytes %d/%d, rows %d/%d, crc %08x/%08x)",
				sf.path, len(sf.data), s.Bytes, len(sf.index), s.Rows, sf.crc, s.CRC32C)
		}
		d.starts = append(d.starts, d.starts[len(d.starts)-1]+len(sf.index))
	}
	return d, nil
}

func openShardFile(path string) (*shardFile, error) {
	f, err := os.Open(path)
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
	sf := d.files[k]
	if sf.data == nil {
		return Row{}, fmt.Errorf("dataset %s: Row after Close", d.dir)
	}
	r, err := decodeRow(sf.data, sf.index[i-d.starts[k]])
	if err != nil {
		return Row{}, fmt.Errorf("%s: row %d: %w", sf.path, i-d.starts[k], err)
	}
	return r, nil
}

// Verify checks every shard's CRC-32C against its header and decodes every
// row, so a damaged byte anywhere is reported.
func (d *ShardDataset) Verify() error {
	for _, sf := range d.files {
		if got := crc32.Checksum(sf.data[headerSize:], castagnoli); got != sf.crc {
			return fmt.Errorf("%s: CRC-32C %08x, header says %08x: file is damaged", sf.path, got, sf.crc)
		}
		for j, e := range sf.index {
			if _, err := decodeRow(sf.data, e); err != nil {
				return fmt.Errorf("%s: row %d: %w", sf.path, j, err)
			}
		}
	}
	return nil
}

// Close unmaps the shard files.
func (d *ShardDataset) Close() error {
	var first error
	for _, sf := range d.files {
		if sf.unmap != nil {
			if err := sf.unmap(); err != nil && first == nil {
				first = fmt.Errorf("%s: unmap: %w", sf.path, err)
			}
			sf.unmap = nil
		}
		sf.data = nil
	}
	return first
}
