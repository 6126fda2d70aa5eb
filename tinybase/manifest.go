package tinybase

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"path/filepath"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/shards"
)

// GeneratorVersion is the version of the row generator (data.go and the
// data stages of build.go). Version 1 is the generator of the models
// before issue 15, whose recall and key–value rows used PoSE's passkey
// and RULER's needle prompts word for word; version 2 writes rows that
// share no wording with any evaluation prompt (RecallDoc, KeyValueDoc,
// CopyRow). Raise it whenever the rows written for the same options
// change; the data manifest test then fails until the shipped model is
// rebuilt from the new rows.
const GeneratorVersion = 2

// ManifestFile is the name of the data manifest in a build folder (and in
// the shipped model's folder).
const ManifestFile = "data-manifest.json"

// RowHashEncoding says what a manifest's SHA-256 digests are taken over.
const RowHashEncoding = "per row, little-endian: uint32 n, n int32 input ids, n int32 position ids, " +
	"uint8 1 and n bytes of loss mask (0/1) or uint8 0 when the row has no mask"

// DataManifest is data-manifest.json: what every training phase of a
// build trained on, so that the rows can be regenerated and checked.
type DataManifest struct {
	GeneratorVersion int    `json:"generator_version"`
	Corpus           string `json:"corpus"`
	CorpusSHA256     string `json:"corpus_sha256"`
	Tokenizer        string `json:"tokenizer"`
	Window           int    `json:"window"`
	Seed             int64  `json:"seed"`
	RowHash          string `json:"row_hash"`
	// Phases are the training phases in the order they ran.
	Phases []PhaseData `json:"phases"`
}

// PhaseData is one training phase's rows.
type PhaseData struct {
	// Stage is the training stage (its folder in the build), Data the data
	// stage whose rows it trained on.
	Stage string `json:"stage"`
	Data  string `json:"data"`
	Steps int    `json:"steps"`
	// RowSeed seeds the random draws that made the rows.
	RowSeed uint64 `json:"row_seed"`
	RowsDigest
}

// RowsDigest is the count and SHA-256 of a list of rows, in order.
type RowsDigest struct {
	Rows   int    `json:"rows"`
	Tokens int64  `json:"tokens"`
	SHA256 string `json:"sha256"`
}

// RowHasher digests rows streaming (RowHashEncoding).
type RowHasher struct {
	h      hash.Hash
	rows   int
	tokens int64
	buf    []byte
}

// NewRowHasher returns an empty RowHasher.
func NewRowHasher() *RowHasher { return &RowHasher{h: sha256.New()} }

// Add digests one row.
func (r *RowHasher) Add(row shards.Row) {
	n := len(row.InputIDs)
	b := binary.LittleEndian.AppendUint32(r.buf[:0], uint32(n))
	for _, id := range row.InputIDs {
		b = binary.LittleEndian.AppendUint32(b, uint32(id))
	}
	for _, p := range row.PositionIDs {
		b = binary.LittleEndian.AppendUint32(b, uint32(p))
	}
	if row.LossMask == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		for _, m := range row.LossMask {
			b = append(b, boolByte(m))
		}
	}
	r.h.Write(b)
	r.buf = b
	r.rows++
	r.tokens += int64(n)
}

// Digest returns the digest of the rows added so far.
func (r *RowHasher) Digest() RowsDigest {
	return RowsDigest{Rows: r.rows, Tokens: r.tokens, SHA256: hex.EncodeToString(r.h.Sum(nil))}
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// DigestRows digests a list of rows.
func DigestRows(rows []shards.Row) RowsDigest {
	h := NewRowHasher()
	for _, r := range rows {
		h.Add(r)
	}
	return h.Digest()
}

// digestFolder digests the rows of a written data folder, in order.
func digestFolder(dir string) (RowsDigest, error) {
	ds, err := shards.Open(dir)
	if err != nil {
		return RowsDigest{}, err
	}
	defer ds.Close()
	h := NewRowHasher()
	for i := 0; i < ds.Len(); i++ {
		r, err := ds.Row(i)
		if err != nil {
			return RowsDigest{}, fmt.Errorf("%s: row %d: %w", dir, i, err)
		}
		h.Add(r)
	}
	return h.Digest(), nil
}

// StageRows are the rows of one data stage.
type StageRows struct {
	Data string
	Seed uint64
	Rows []shards.Row
}

// Regenerate returns the rows of every data stage for o, in memory and
// in order, exactly as Build writes them (o.Output is not used).
func Regenerate(o Options) ([]StageRows, error) {
	b, err := newBuilder(o)
	if err != nil {
		return nil, err
	}
	b.sources()
	var out []StageRows
	for _, d := range b.dataStages() {
		rows, err := d.rows()
		if err != nil {
			return nil, fmt.Errorf("tinybase: %s: %w", d.name, err)
		}
		out = append(out, StageRows{Data: d.name, Seed: d.seed, Rows: rows})
	}
	return out, nil
}

// NewManifest returns the data manifest of the training phases that o
// runs, given the digest of each data stage's rows.
func NewManifest(o Options, digests map[string]RowsDigest) (*DataManifest, error) {
	b, err := newBuilder(o)
	if err != nil {
		return nil, err
	}
	return b.manifest(digests)
}

// manifest builds the data manifest from the data stages' digests.
func (b *builder) manifest(digests map[string]RowsDigest) (*DataManifest, error) {
	seeds := map[string]uint64{}
	for _, d := range b.dataStages() {
		seeds[d.name] = d.seed
	}
	m := &DataManifest{GeneratorVersion: GeneratorVersion, Corpus: assets.CorpusName, CorpusSHA256: sha(b.texts),
		Tokenizer: b.tok.Hash(), Window: b.o.Window, Seed: b.o.Seed, RowHash: RowHashEncoding}
	for _, p := range b.phases() {
		d, ok := digests[p.data]
		if !ok {
			return nil, fmt.Errorf("tinybase: data manifest: no digest of the rows of %s", p.data)
		}
		m.Phases = append(m.Phases, PhaseData{Stage: p.name, Data: p.data, Steps: p.h.Steps, RowSeed: seeds[p.data], RowsDigest: d})
	}
	return m, nil
}

// writeManifest digests the build's data folders and writes
// Output/data-manifest.json.
func (b *builder) writeManifest() error {
	digests := map[string]RowsDigest{}
	for _, p := range b.phases() {
		d, err := digestFolder(filepath.Join(b.o.Output, p.data))
		if err != nil {
			return err
		}
		digests[p.data] = d
	}
	m, err := b.manifest(digests)
	if err != nil {
		return err
	}
	j, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("tinybase: %s: %w", ManifestFile, err)
	}
	return atomicfile.WriteFile(filepath.Join(b.o.Output, ManifestFile), append(j, '\n'))
}

// ReadManifest reads a data manifest file.
func ReadManifest(path string) (*DataManifest, error) {
	b, err := paths.ReadRegular(path)
	if err != nil {
		return nil, err
	}
	var m DataManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.GeneratorVersion <= 0 || len(m.Phases) == 0 {
		return nil, fmt.Errorf("%s: not a data manifest (no generator_version or no phases)", path)
	}
	return &m, nil
}
