// Package shards is the on-disk training format: binary, memory-mappable
// shards of (input_ids, position_ids, loss mask) rows with an index and a
// manifest, plus JSONL and Parquet import/export.
package shards
