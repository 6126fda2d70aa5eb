// Package assets holds the files shipped inside the longrecipe binary: a
// public-domain English corpus (the US State of the Union addresses,
// 1790–2021) and the project's byte-level BPE tokenizer trained on it.
// See README.md in this directory for sources, licences and the commands
// that rebuild each file.
package assets
