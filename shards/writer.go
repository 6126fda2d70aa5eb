package shards

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
)

// DefaultShardBytes is the default size at which a shard file is closed and
// the next one started.
const DefaultShardBytes = 256 << 20

// Writer writes rows into a dataset directory, starting a new shard file
// each time the current one reaches the size limit. Each shard file and the
// manifest are written atomically; the manifest, written last by Close, is
// what makes the dataset visible to Open.
type Writer struct {
	dir      string
	maxBytes int64

	f      *atomicfile.File
	bw     *bufio.Writer
	crc    hash.Hash32
	cw     io.Writer // bw and crc together
	off    uint64    // bytes written to the current shard so far
	index  []byte    // index entries of the current shard
	rows   int64
	tokens int64
	buf    []byte

	shards    []ShardInfo
	rowsAll   int64
	tokensAll int64
	closed    bool
}

// Create starts a dataset in dir (created if missing). maxShardBytes <= 0
// means DefaultShardBytes. Shard files from an earlier dataset in dir are
// replaced (its manifest is removed at once); shard files the new dataset
// does not use are removed by Close.
func Create(dir string, maxShardBytes int64) (*Writer, error) {
	if maxShardBytes <= 0 {
		maxShardBytes = DefaultShardBytes
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create dataset directory: %w", err)
	}
	// An earlier manifest would describe shards about to be overwritten:
	// remove it first so a half-written dataset is never opened as valid.
	if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("remove old manifest: %w", err)
	}
	return &Writer{dir: dir, maxBytes: maxShardBytes}, nil
}

func (w *Writer) startShard() error {
	path := filepath.Join(w.dir, shardFileName(len(w.shards)))
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	w.f = f
	w.bw = bufio.NewWriterSize(f, 1<<20)
	w.crc = crc32.New(castagnoli)
	w.cw = io.MultiWriter(w.bw, w.crc)
	// Placeholder header; the real one is written at the end.
	if _, err := w.bw.Write(make([]byte, headerSize)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w.off = headerSize
	w.index = w.index[:0]
	w.rows, w.tokens = 0, 0
	return nil
}

// Write appends one row. The row is checked with CheckRow first.
func (w *Writer) Write(r Row) error {
	if w.closed {
		return fmt.Errorf("shards: write after Close")
	}
	if err := CheckRow(r); err != nil {
		return fmt.Errorf("dataset %s, row %d: %w", w.dir, w.rowsAll, err)
	}
	if w.f == nil {
		if err := w.startShard(); err != nil {
			return err
		}
	}
	w.buf = appendRow(w.buf[:0], r)
	if _, err := w.cw.Write(w.buf); err != nil {
		return fmt.Errorf("write shard in %s: %w", w.dir, err)
	}
	var flags uint32
	if r.LossMask != nil {
		flags = rowFlagMask
	}
	w.index = binary.LittleEndian.AppendUint64(w.index, w.off)
	w.index = binary.LittleEndian.AppendUint32(w.index, uint32(len(r.InputIDs)))
	w.index = binary.LittleEndian.AppendUint32(w.index, flags)
	w.off += uint64(len(w.buf))
	w.rows++
	w.tokens += int64(len(r.InputIDs))
	w.rowsAll++
	w.tokensAll += int64(len(r.InputIDs))
	if int64(w.off)+int64(len(w.index)) >= w.maxBytes {
		return w.finishShard()
	}
	return nil
}

func (w *Writer) finishShard() error {
	name := shardFileName(len(w.shards))
	if _, err := w.cw.Write(w.index); err != nil {
		return fmt.Errorf("write %s index: %w", name, err)
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	h := header{rows: uint64(w.rows), tokens: uint64(w.tokens), indexOffset: w.off, crc: w.crc.Sum32()}
	if _, err := w.f.WriteAt(h.encode(), 0); err != nil {
		return fmt.Errorf("write %s header: %w", name, err)
	}
	if err := w.f.Commit(); err != nil {
		return err
	}
	w.shards = append(w.shards, ShardInfo{File: name, Rows: w.rows, Tokens: w.tokens,
		Bytes: int64(w.off) + int64(len(w.index)), CRC32C: h.crc})
	w.f = nil
	return nil
}

// Rows returns the number of rows written so far.
func (w *Writer) Rows() int64 { return w.rowsAll }

// Close finishes the last shard and writes the manifest: m's FormatVersion,
// Shards, Counts.Rows and Counts.Tokens are filled in by Close; the other
// fields are the caller's. Stale shard files of an earlier dataset in the
// directory are removed afterwards.
func (w *Writer) Close(m Manifest) error {
	if w.closed {
		return fmt.Errorf("shards: Close called twice")
	}
	w.closed = true
	if w.f != nil {
		if err := w.finishShard(); err != nil {
			w.Abort()
			return err
		}
	}
	m.FormatVersion = FormatVersion
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
	old, _ := filepath.Glob(filepath.Join(w.dir, shardFileGlob))
	for _, p := range old {
		keep := false
		for _, s := range w.shards {
			if filepath.Base(p) == s.File {
				keep = true
			}
		}
		if !keep {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove stale shard: %w", err)
			}
		}
	}
	return nil
}

// Abort discards the shard being written (finished shards stay, but no
// manifest is written for them).
func (w *Writer) Abort() {
	w.closed = true
	if w.f != nil {
		w.f.Abort()
		w.f = nil
	}
}
