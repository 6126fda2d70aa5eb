// Package tokenizer encodes and decodes text with a Hugging Face
// tokenizer.json, giving the same ids as the HF tokenizers library for the
// layouts of Llama 3, Qwen2/2.5/3, Mistral v0.1 / Llama 2 and the byte-level
// BPE files written by tokenizer/bpetrain.
//
// Supported components (anything else is a load error naming it):
//   - normalizer: null, NFC, Prepend, Replace (string pattern), Sequence;
//   - pre_tokenizer: null, Split (the Llama 3, Qwen2 or GPT-2 regex,
//     behavior Isolated), ByteLevel (last), Sequence;
//   - model: BPE with byte_fallback, fuse_unk, ignore_merges, unk_token;
//   - post_processor: null, TemplateProcessing, ByteLevel, Sequence;
//   - decoder: null, ByteLevel, Replace, ByteFallback, Fuse, Strip, Sequence.
//
// The Split regexes use lookahead, which Go's regexp lacks, so each known
// pattern has a hand-written matcher equivalent to the backtracking engine.
//
// Text that is not valid UTF-8 is accepted: each invalid byte is one
// character outside \p{L}, \p{N} and \s; a byte-level model encodes the raw
// byte, a SentencePiece-style model its <0xNN> byte-fallback token.
package tokenizer
