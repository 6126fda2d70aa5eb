// Package hf reads and writes the Hugging Face model formats: config.json,
// safetensors files (single or sharded) and model folders.
package hf
