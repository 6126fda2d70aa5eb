// Package bpetrain trains byte-level BPE tokenizers the way GPT-2 and
// Llama 3 build theirs, and writes them as Hugging Face tokenizer.json files.
//
// Training has two steps. CountWords splits texts into pre-tokens with the
// GPT-2 pattern (SplitPattern) and counts each distinct pre-token, in
// parallel. Train then starts every pre-token as its bytes and repeatedly
// merges the most frequent adjacent pair of tokens into a new token until
// the vocabulary has the requested size. Pair counts are updated
// incrementally: an index from each pair to the words that contain it means
// a merge only revisits the words it changes, and a max-heap with lazy
// deletion finds the next pair. Ties go to the pair with the smaller
// (left id, right id), so training is deterministic.
package bpetrain
