package tinybase

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/shards"
)

// GeneratorVersion names the generator of the pretraining rows (data.go
// and the phase mixes of build.go). Bump it with any change that changes
// the rows; a model built by an older generator then no longer matches
// its manifest's regenerated rows.
//
// Version 2 is the first generator free of evaluation wording (issue 15:
// the recall and key–value documents in wordings of their own); version
// 1 wrote PoSE's passkey and RULER's needle prompts verbatim.
const GeneratorVersion = 2

// ManifestFile is the name of the data manifest in a build folder and
// beside the shipped model.
const ManifestFile = "data-manifest.json"

// DataManifest records what a base model was pretrained on: the
// generator, the corpus and tokenizer it drew from, the seed, and per
// phase the number of rows and tokens and a SHA-256 of the rows in
// training order (RowsHash). Data regenerates the same rows from the
// options, so the manifest can be checked, and the rows searched for
// evaluation wording, without keeping them.
type DataManifest struct {
	Generator    int         `json:"generator_version"`
	Corpus       string      `json:"corpus"`
	CorpusSHA256 string      `json:"corpus_sha256"`
	Tokenizer    string      `json:"tokenizer_sha256"`
	Seed         int64       `json:"seed"`
	Window       int         `json:"window"`
	Phases       []PhaseData `json:"phases"`
}

// PhaseData is one phase's rows.
type PhaseData struct {
	Name   string `json:"name"`
	What   string `json:"what"`
	Rows   int    `json:"rows"`
	Tokens int64  `json:"tokens"`
	SHA256 string `json:"rows_sha256"`
}

// RowsHash hashes rows in order: each row's length, token ids, position
// ids and loss mask (little-endian), so any change to any row changes it.
func RowsHash(rows []shards.Row) string {
	h := sha256.New()
	for _, r := range rows {
		writeInts(h, []int32{int32(len(r.InputIDs)), int32(len(r.PositionIDs)), int32(len(r.LossMask))})
		writeInts(h, r.InputIDs)
		writeInts(h, r.PositionIDs)
		for _, m := range r.LossMask {
			if m {
				h.Write([]byte{1})
			} else {
				h.Write([]byte{0})
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeInts(h hash.Hash, v []int32) {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	h.Write(b)
}

// Data regenerates the rows of every phase of a build with options o (o.Output
// is not used) and returns them, by phase name, with their manifest.
func Data(o Options) (*DataManifest, map[string][]shards.Row, error) {
	b, err := newBuilder(o)
	if err != nil {
		return nil, nil, err
	}
	return b.manifest()
}

// manifest regenerates every phase's rows and describes them.
func (b *builder) manifest() (*DataManifest, map[string][]shards.Row, error) {
	b.sources()
	m := &DataManifest{Generator: GeneratorVersion, Corpus: b.info.Corpus, CorpusSHA256: sha(b.texts),
		Tokenizer: b.tok.Hash(), Seed: b.o.Seed, Window: b.o.Window}
	all := map[string][]shards.Row{}
	for _, d := range b.dataStages() {
		rows, err := d.rows()
		if err != nil {
			return nil, nil, err
		}
		var tokens int64
		for _, r := range rows {
			tokens += int64(len(r.InputIDs))
		}
		m.Phases = append(m.Phases, PhaseData{Name: d.name, What: d.what, Rows: len(rows), Tokens: tokens, SHA256: RowsHash(rows)})
		all[d.name] = rows
	}
	return m, all, nil
}

// Write writes the manifest as indented JSON, atomically.
func (m *DataManifest) Write(path string) error {
	j, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("tinybase: %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(j, '\n'))
}

// Diff lists how got differs from m (want), phase by phase; empty when
// they agree.
func (m *DataManifest) Diff(got *DataManifest) []string {
	var out []string
	if m.Generator != got.Generator || m.CorpusSHA256 != got.CorpusSHA256 || m.Tokenizer != got.Tokenizer || m.Seed != got.Seed || m.Window != got.Window {
		out = append(out, fmt.Sprintf("generator/corpus/tokenizer/seed/window: recorded %d/%.12s/%.12s/%d/%d, regenerated %d/%.12s/%.12s/%d/%d",
			m.Generator, m.CorpusSHA256, m.Tokenizer, m.Seed, m.Window, got.Generator, got.CorpusSHA256, got.Tokenizer, got.Seed, got.Window))
	}
	if len(m.Phases) != len(got.Phases) {
		return append(out, fmt.Sprintf("%d phases recorded, %d regenerated", len(m.Phases), len(got.Phases)))
	}
	for i, p := range m.Phases {
		if g := got.Phases[i]; p != g {
			out = append(out, fmt.Sprintf("phase %s: recorded %d rows, %d tokens, %.16s; regenerated %s %d rows, %d tokens, %.16s",
				p.Name, p.Rows, p.Tokens, p.SHA256, g.Name, g.Rows, g.Tokens, g.SHA256))
		}
	}
	return out
}
