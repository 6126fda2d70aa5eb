// Package shards is the on-disk training format: binary, memory-mappable
// shards of (input_ids, position_ids, loss mask) rows with an index and a
// manifest, plus JSONL and Parquet import/export.
package shards

// Row is one training sample.
type Row struct {
	InputIDs    []int32
	PositionIDs []int32 // same length as InputIDs
	// LossMask, when not nil, has one entry per token: false means the
	// token is not a prediction target (e.g. a masked prompt).
	LossMask []bool
}
