// Package inputs writes the text inputs of a run on the embedded corpus,
// for the quickstart and the experiment alike: the corpus's training split,
// its held-out split and replay records (prompt/response pairs made from
// the training split by tinybase.ReplayRecords), each as a JSONL file.
//
// The files are a pure function of Options: a file whose content would not
// change is left alone (its modification time kept), so a rerun finds the
// same inputs and its stages are skipped.
package inputs
