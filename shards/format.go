package shards

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
)

// Shard file layout (all integers little-endian). One shard file holds a run
// of rows; a dataset is a directory of shard files plus manifest.json.
//
//	offset 0, 64-byte header:
//	  [0:8]   magic "LRSHARD1"
//	  [8:12]  format version (uint32, currently 1)
//	  [12:16] flags (uint32, must be 0)
//	  [16:24] number of rows (uint64)
//	  [24:32] number of tokens, all rows together (uint64)
//	  [32:40] byte offset of the row index (uint64)
//	  [40:44] CRC-32C (Castagnoli) of every byte after the header (uint32)
//	  [44:64] zero
//	offset 64, row data, the rows one after the other; row i is
//	  n int32 input ids, n int32 position ids, and, when the row has a loss
//	  mask, ceil(n/32)*4 bytes of mask bits (bit j%8 of byte j/8 is token j;
//	  1 = the token is a prediction target).
//	at the index offset, one 16-byte entry per row:
//	  [0:8]   byte offset of the row's data (uint64)
//	  [8:12]  n, the row's token count (uint32, > 0)
//	  [12:16] row flags (uint32; bit 0 = the row has a loss mask)
//	the file ends right after the index.
//
// Every field is checked when a shard is opened (sizes, offsets, contiguity,
// counts), so a damaged file yields an error rather than a crash; Verify also
// checks the CRC.
const (
	shardMagic    = "LRSHARD1"
	shardVersion  = 1
	headerSize    = 64
	indexEntrySz  = 16
	rowFlagMask   = 1
	maxRowTokens  = 1 << 30
	shardFileGlob = "shard-*.lrs"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// shardFileName is the name of shard number i inside a dataset directory.
func shardFileName(i int) string { return fmt.Sprintf("shard-%05d.lrs", i) }

// maskBytes is the size of a row's mask bits for n tokens (padded to 4 bytes
// so the next row's ids stay 4-byte aligned).
func maskBytes(n int) int { return (n + 31) / 32 * 4 }

// rowBytes is the size of a row's data.
func rowBytes(n int, hasMask bool) int {
	b := 8 * n
	if hasMask {
		b += maskBytes(n)
	}
	return b
}

type header struct {
	rows, tokens, indexOffset uint64
	crc                       uint32
}

func (h header) encode() []byte {
	b := make([]byte, headerSize)
	copy(b, shardMagic)
	binary.LittleEndian.PutUint32(b[8:], shardVersion)
	binary.LittleEndian.PutUint64(b[16:], h.rows)
	binary.LittleEndian.PutUint64(b[24:], h.tokens)
	binary.LittleEndian.PutUint64(b[32:], h.indexOffset)
	binary.LittleEndian.PutUint32(b[40:], h.crc)
	return b
}

func decodeHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize {
		return h, fmt.Errorf("file is %d bytes, shorter than the %d-byte header", len(b), headerSize)
	}
	if string(b[:8]) != shardMagic {
		return h, fmt.Errorf("bad magic %q (want %q): not a longrecipe shard", b[:8], shardMagic)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != shardVersion {
		return h, fmt.Errorf("shard format version %d, this build reads version %d", v, shardVersion)
	}
	if f := binary.LittleEndian.Uint32(b[12:]); f != 0 {
		return h, fmt.Errorf("unknown header flags %#x", f)
	}
	for _, c := range b[44:headerSize] {
		if c != 0 {
			return h, fmt.Errorf("reserved header bytes are not zero")
		}
	}
	h.rows = binary.LittleEndian.Uint64(b[16:])
	h.tokens = binary.LittleEndian.Uint64(b[24:])
	h.indexOffset = binary.LittleEndian.Uint64(b[32:])
	h.crc = binary.LittleEndian.Uint32(b[40:])
	return h, nil
}

// indexEntry locates one row inside a shard.
type indexEntry struct {
	off     uint64
	n       uint32
	hasMask bool
}

// parseIndex validates a whole shard image (header, index, row layout) and
// returns its index. It never reads outside b.
func parseIndex(b []byte) (header, []indexEntry, error) {
	h, err := decodeHeader(b)
	if err != nil {
		return h, nil, err
	}
	size := uint64(len(b))
	if h.indexOffset < headerSize || h.indexOffset > size {
		return h, nil, fmt.Errorf("index offset %d outside the file (%d bytes)", h.indexOffset, size)
	}
	if (size-h.indexOffset)%indexEntrySz != 0 || (size-h.indexOffset)/indexEntrySz != h.rows {
		return h, nil, fmt.Errorf("header says %d rows but the index region is %d bytes", h.rows, size-h.indexOffset)
	}
	idx := make([]indexEntry, h.rows)
	next := uint64(headerSize)
	var tokens uint64
	for i := range idx {
		e := b[h.indexOffset+uint64(i)*indexEntrySz:]
		off := binary.LittleEndian.Uint64(e)
		n := binary.LittleEndian.Uint32(e[8:])
		fl := binary.LittleEndian.Uint32(e[12:])
		if fl&^rowFlagMask != 0 {
			return h, nil, fmt.Errorf("row %d: unknown row flags %#x", i, fl)
		}
		if n == 0 || n > maxRowTokens {
			return h, nil, fmt.Errorf("row %d: token count %d out of range [1, %d]", i, n, maxRowTokens)
		}
		if off != next {
			return h, nil, fmt.Errorf("row %d: data offset %d, expected %d (rows must be contiguous)", i, off, next)
		}
		hasMask := fl&rowFlagMask != 0
		end := off + uint64(rowBytes(int(n), hasMask))
		if end > h.indexOffset {
			return h, nil, fmt.Errorf("row %d: data [%d, %d) runs into the index at %d", i, off, end, h.indexOffset)
		}
		idx[i] = indexEntry{off: off, n: n, hasMask: hasMask}
		next = end
		tokens += uint64(n)
	}
	if next != h.indexOffset {
		return h, nil, fmt.Errorf("%d bytes of unaccounted data before the index", h.indexOffset-next)
	}
	if tokens != h.tokens {
		return h, nil, fmt.Errorf("header says %d tokens, rows hold %d", h.tokens, tokens)
	}
	return h, idx, nil
}

// decodeRow copies row e out of the shard image b, checking every value.
func decodeRow(b []byte, e indexEntry) (Row, error) {
	n := int(e.n)
	data := b[e.off : e.off+uint64(rowBytes(n, e.hasMask))]
	r := Row{InputIDs: make([]int32, n), PositionIDs: make([]int32, n)}
	for j := 0; j < n; j++ {
		t := int32(binary.LittleEndian.Uint32(data[4*j:]))
		p := int32(binary.LittleEndian.Uint32(data[4*(n+j):]))
		if t < 0 {
			return Row{}, fmt.Errorf("token %d: negative input id %d", j, t)
		}
		if p < 0 {
			return Row{}, fmt.Errorf("token %d: negative position id %d", j, p)
		}
		r.InputIDs[j] = t
		r.PositionIDs[j] = p
	}
	if e.hasMask {
		bits := data[8*n:]
		r.LossMask = make([]bool, n)
		for j := 0; j < n; j++ {
			r.LossMask[j] = bits[j>>3]&(1<<(j&7)) != 0
		}
		for j := n; j < 8*len(bits); j++ {
			if bits[j>>3]&(1<<(j&7)) != 0 {
				return Row{}, fmt.Errorf("mask padding bit %d is set", j)
			}
		}
	}
	return r, nil
}

// appendRow appends row r's data in shard layout to buf.
func appendRow(buf []byte, r Row) []byte {
	n := len(r.InputIDs)
	start := len(buf)
	buf = slices.Grow(buf, rowBytes(n, r.LossMask != nil))[:start+rowBytes(n, r.LossMask != nil)]
	out := buf[start:]
	ids, pos := out[:4*n], out[4*n:8*n]
	for j, t := range r.InputIDs {
		binary.LittleEndian.PutUint32(ids[4*j:], uint32(t))
	}
	for j, p := range r.PositionIDs[:n] {
		binary.LittleEndian.PutUint32(pos[4*j:], uint32(p))
	}
	if r.LossMask != nil {
		bits := out[8*n:]
		clear(bits)
		for j, m := range r.LossMask {
			if m {
				bits[j>>3] |= 1 << (j & 7)
			}
		}
	}
	return buf
}

// CheckRow reports what is wrong with r as a training row: empty, length
// mismatch between ids, positions and mask, or negative values.
func CheckRow(r Row) error {
	n := len(r.InputIDs)
	if n == 0 {
		return fmt.Errorf("row has no tokens")
	}
	if n > maxRowTokens {
		return fmt.Errorf("row has %d tokens, more than %d", n, maxRowTokens)
	}
	if len(r.PositionIDs) != n {
		return fmt.Errorf("row has %d input ids but %d position ids", n, len(r.PositionIDs))
	}
	if r.LossMask != nil && len(r.LossMask) != n {
		return fmt.Errorf("row has %d input ids but %d loss mask entries", n, len(r.LossMask))
	}
	// One OR over all values finds a negative one without a branch per
	// token; the slow loop runs only to name it.
	var acc int32
	for j, t := range r.InputIDs {
		acc |= t | r.PositionIDs[j]
	}
	if acc >= 0 {
		return nil
	}
	for j := range n {
		if r.InputIDs[j] < 0 {
			return fmt.Errorf("token %d: negative input id %d", j, r.InputIDs[j])
		}
		if r.PositionIDs[j] < 0 {
			return fmt.Errorf("token %d: negative position id %d", j, r.PositionIDs[j])
		}
	}
	return nil
}
