package shards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// ManifestName is the file name of a dataset's manifest inside its directory.
const ManifestName = "manifest.json"

// FormatVersion is the manifest/shard format this package writes.
const FormatVersion = 1

// Manifest describes a prepared dataset: how it was made and what it holds.
// It contains no timestamps, so two runs with the same inputs and seed write
// byte-identical manifests.
type Manifest struct {
	FormatVersion int `json:"format_version"`
	// Format is the data files' format (shards, jsonl or parquet).
	Format Format `json:"format"`
	// Method is the position method: longrecipe, pose, randpos, full or
	// replay (and "mixed" rows are counted under Counts.ReplayRows).
	Method string `json:"method"`
	// TargetLength is Lt, the context window the positions span.
	TargetLength int `json:"target_length"`
	// TrainLength is Ls, the number of real tokens per row.
	TrainLength int `json:"train_length"`
	// Seed is the seed every per-document random generator derives from.
	Seed uint64 `json:"seed"`
	// TokenizerHash identifies the tokenizer (empty for pre-tokenized input
	// prepared without one).
	TokenizerHash string `json:"tokenizer_hash,omitempty"`
	// Input names the corpus (as given on the command line).
	Input string `json:"input,omitempty"`
	// Selection holds the sentence-selection parameters (nil: none).
	Selection *Selection `json:"selection,omitempty"`
	// Replay holds the replay parameters (nil: none).
	Replay *Replay `json:"replay,omitempty"`
	// ShortDocuments says what happened to documents too short for the
	// method, e.g. "skip: documents with fewer than Ls selected tokens".
	ShortDocuments string `json:"short_documents,omitempty"`
	Counts         Counts `json:"counts"`
	// Shards lists the shard files in row order.
	Shards []ShardInfo `json:"shards"`
}

// Selection records how sentences were selected.
type Selection struct {
	// Impactful is "digits", the impactful-token file used, or "" (none:
	// every sentence is a drop candidate).
	Impactful string `json:"impactful,omitempty"`
	// ImpactfulTokens is the number of vocabulary ids counted impactful.
	ImpactfulTokens int `json:"impactful_tokens"`
	// DropProb is p, the probability of dropping a sentence without an
	// impactful token.
	DropProb float64 `json:"drop_prob"`
	// SelectRatio is the reference-compatible r that p was derived from,
	// when given.
	SelectRatio *float64 `json:"select_ratio,omitempty"`
	// SentenceEndTokens is the number of vocabulary ids that end sentences.
	SentenceEndTokens int `json:"sentence_end_tokens"`
}

// Replay records the replay (stage 2) parameters.
type Replay struct {
	Input         string  `json:"input"`
	PromptField   string  `json:"prompt_field"`
	ResponseField string  `json:"response_field"`
	MaskPrompt    bool    `json:"mask_prompt"`
	Fraction      float64 `json:"fraction,omitempty"`
}

// Counts are the totals of a prepare run.
type Counts struct {
	DocumentsRead int64 `json:"documents_read"`
	// DocumentsSkipped counts skipped documents by reason.
	DocumentsSkipped map[string]int64 `json:"documents_skipped,omitempty"`
	Rows             int64            `json:"rows"`
	Tokens           int64            `json:"tokens"`
	// ReplayRows is how many of Rows are replay rows.
	ReplayRows int64 `json:"replay_rows,omitempty"`
	// ReplayTokensDropped counts replay tokens after the last full row.
	ReplayTokensDropped int64 `json:"replay_tokens_dropped,omitempty"`
	// ReplayExhausted is true when the replay input ran out before the
	// requested replay fraction was reached.
	ReplayExhausted bool `json:"replay_exhausted,omitempty"`
	// SourceTokens is the number of tokens read from the corpus.
	SourceTokens int64 `json:"source_tokens"`
}

// ShardInfo is one data file's entry in the manifest. CRC32C is the
// CRC-32C (Castagnoli) of the bytes after the 64-byte header for native
// shards, of the whole file for JSONL and Parquet files.
type ShardInfo struct {
	File   string `json:"file"`
	Rows   int64  `json:"rows"`
	Tokens int64  `json:"tokens"`
	Bytes  int64  `json:"bytes"`
	CRC32C uint32 `json:"crc32c"`
}

// ReadManifest reads and checks dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := paths.ReadRegular(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%s: format_version %d, this build reads %d", path, m.FormatVersion, FormatVersion)
	}
	if _, err := ParseFormat(string(m.Format)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var rows, tokens int64
	for i, s := range m.Shards {
		if s.File == "" || filepath.Base(s.File) != s.File || s.File == "." || s.File == ".." {
			return nil, fmt.Errorf("%s: shard %d has bad file name %q", path, i, s.File)
		}
		if s.Rows < 0 || s.Tokens < 0 || s.Bytes < headerSize {
			return nil, fmt.Errorf("%s: shard %s has impossible sizes", path, s.File)
		}
		rows += s.Rows
		tokens += s.Tokens
	}
	if rows != m.Counts.Rows || tokens != m.Counts.Tokens {
		return nil, fmt.Errorf("%s: counts say %d rows/%d tokens, shards hold %d/%d", path, m.Counts.Rows, m.Counts.Tokens, rows, tokens)
	}
	return &m, nil
}

// Encode returns the manifest as indented JSON with a final newline.
func (m *Manifest) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}
