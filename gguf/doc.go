// Package gguf reads GGUF model files (the llama.cpp format, versions 2 and
// 3, little-endian) and converts them into Hugging Face model folders, and
// writes Hugging Face model folders as GGUF v3 files.
//
// Reading. Parse reads a file's header as a stream: the metadata key/value
// pairs of every GGUF value type (integers, floats, booleans, strings and
// arrays of them, nested arrays included), the tensor infos and
// general.alignment. The input is treated as hostile: every count, string
// length and array length is checked against the bytes left in the file
// before anything is allocated, every tensor must lie inside the data
// section, be aligned and not overlap another, and every failure is an
// error naming the file and the field or tensor — never a panic. Open
// reads a model that llama.cpp's gguf-split cut into parts
// (NAME-00001-of-0000N.gguf, split.no / split.count / split.tensors.count)
// as one model.
//
// Dequantisation. Dequantize converts tensor data of the types F32, F16,
// BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K to float32 with
// llama.cpp's block layouts (ggml-common.h): 32-value blocks of an f16
// scale d (and an f16 minimum m for the _1 types), a 32-bit mask of fifth
// bits (Q5) and packed nibbles or bytes; 256-value super-blocks for the
// k-quants (Q4_K/Q5_K: f16 d and dmin, twelve bytes of packed 6-bit scales
// and mins, Q5_K's 32 bytes of fifth bits, 128 bytes of nibbles; Q6_K: 128
// bytes of low nibbles, 64 of high two-bit pairs, sixteen int8 scales and
// an f16 d). The arithmetic is done in float32 in the same order as the
// reference (gguf-py's gguf.quants), so the results are bit-identical.
// Other ggml types are recognised (their sizes are checked) but refused
// with an error naming the type and the tensor.
//
// Conversion. Import writes config.json (llama, mistral, qwen2), a
// tokenizer.json rebuilt from tokenizer.ggml.* (byte-level BPE "gpt2" and
// SentencePiece-style "llama" vocabularies), tokenizer_config.json with the
// chat template, and safetensors in bf16 or f32, streaming one tensor at a
// time. Llama-architecture attention query and key rows, which llama.cpp's
// converter permutes per head, are put back into Hugging Face order.
// Before anything is written the tensors are checked against the model the
// metadata describes (block_count, head counts, feed-forward and embedding
// sizes): every expected tensor present once with its shape, none extra;
// the error names the GGUF file and the tensor. The folder is built under
// a temporary name and renamed into place; a cancelled context stops the
// conversion at the next chunk of weights and publishes nothing.
package gguf
