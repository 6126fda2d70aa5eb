// Package data turns a corpus into LongRecipe training rows: it reads
// corpora (JSONL, plain text files or folders, Parquet as Hugging Face
// datasets store them), splits token streams into sentences, keeps
// impactful sentences and drops others at random, cuts samples and gives
// them positions (package positions), and packs instruction data for the
// replay stage. Prepare runs the whole pipeline over all cores with bounded
// memory; its output depends on the seed only, never on the thread count.
package data
