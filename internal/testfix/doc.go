// Package testfix holds the fixtures that tests of several packages share:
// a tiny random Llama model folder (config.json, model.safetensors and,
// unless asked otherwise, the shipped tokenizer.json) and a JSONL file of
// pre-tokenised training rows.
//
// It is for tests only. Fixtures are deterministic for a given Llama value:
// the weights come from model.New with Llama.Seed. Errors fail the test
// through t.Fatal; nothing here returns an error.
//
// Packages that testfix imports (hf, model, tokenizer, assets) cannot use it
// from their own in-package tests.
package testfix
