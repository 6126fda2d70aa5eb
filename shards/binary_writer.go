package shards

import (
	"bufio"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"io"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
)

// binaryFile writes one native shard (layout in format.go).
type binaryFile struct {
	f      *atomicfile.File
	bw     *bufio.Writer
	crc    hash.Hash32
	cw     io.Writer // bw and crc together
	off    uint64    // bytes written so far
	index  []byte
	rows   int64
	tokens int64
	buf    []byte
}

func newBinaryFile(f *atomicfile.File) (*binaryFile, error) {
	b := &binaryFile{f: f, bw: bufio.NewWriterSize(f, 1<<20), crc: crc32.New(castagnoli)}
	b.cw = io.MultiWriter(b.bw, b.crc)
	// Placeholder header; the real one is written by finish.
	if _, err := b.bw.Write(make([]byte, headerSize)); err != nil {
		return nil, err
	}
	b.off = headerSize
	return b, nil
}

func (b *binaryFile) write(r Row) error {
	b.buf = appendRow(b.buf[:0], r)
	if _, err := b.cw.Write(b.buf); err != nil {
		return err
	}
	var flags uint32
	if r.LossMask != nil {
		flags = rowFlagMask
	}
	b.index = binary.LittleEndian.AppendUint64(b.index, b.off)
	b.index = binary.LittleEndian.AppendUint32(b.index, uint32(len(r.InputIDs)))
	b.index = binary.LittleEndian.AppendUint32(b.index, flags)
	b.off += uint64(len(b.buf))
	b.rows++
	b.tokens += int64(len(r.InputIDs))
	return nil
}

func (b *binaryFile) size() int64 { return int64(b.off) + int64(len(b.index)) }

func (b *binaryFile) finish() (ShardInfo, error) {
	defer b.f.Abort()
	if _, err := b.cw.Write(b.index); err != nil {
		return ShardInfo{}, err
	}
	if err := b.bw.Flush(); err != nil {
		return ShardInfo{}, err
	}
	h := header{rows: uint64(b.rows), tokens: uint64(b.tokens), indexOffset: b.off, crc: b.crc.Sum32()}
	if _, err := b.f.WriteAt(h.encode(), 0); err != nil {
		return ShardInfo{}, err
	}
	if err := b.f.Commit(); err != nil {
		return ShardInfo{}, err
	}
	return ShardInfo{Rows: b.rows, Tokens: b.tokens, Bytes: b.size(), CRC32C: h.crc}, nil
}

func (b *binaryFile) abort() { b.f.Abort() }
