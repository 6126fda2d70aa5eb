package data

import (
	"context"
	"fmt"
	"io"

	"github.com/longrecipe/longrecipe/shards"
)

// Job is a whole "prepare" run: a corpus in, a dataset folder with its
// manifest out. It is what "longrecipe prepare" and the recipe's data
// stages run.
type Job struct {
	// Input is the corpus (file or folder); Output the dataset folder.
	Input, Output string
	Format        shards.Format
	// MaxShardBytes starts a new data file past this size (0: default).
	MaxShardBytes int64

	Method Method
	// TargetLength is Lt; TrainLength is Ls (ignored for Full, which uses
	// Lt).
	TargetLength, TrainLength int
	Seed                      uint64
	Threads                   int

	// Tokenizer is needed for text corpora, sentence ends, digit tokens
	// and replay; nil only for pre-tokenized corpora without selection.
	Tokenizer Tokenizer
	// Impactful is "", "digits" or an impactful-token file (analyze).
	Impactful string
	// DropProb is p; nil means 0.5 when Impactful is set, else 0.
	DropProb *float64
	// SelectRatio, when not nil, is the reference code's select_ratio r
	// that DropProb was derived from (recorded in the manifest).
	SelectRatio *float64

	Corpus CorpusOptions
	// Replay configures the replay method or replay rows mixed into
	// another method (Replay.Input and Replay.Fraction set).
	Replay *ReplayConfig

	Progress io.Writer
}

// shortDocsPolicy is written into manifests of the long-context methods.
const shortDocsPolicy = "skipped: a document is skipped (and counted under documents_skipped.short) when it has fewer " +
	"selected tokens than the row length (Ls; Lt for full); every other document gives exactly one row"

// replayPolicy is written into manifests of the replay method.
const replayPolicy = "replay: records are concatenated and cut into rows of Ls tokens; the tokens after the last full row are dropped"

// RunJob builds the selection, prepares the rows and writes the dataset
// folder and its manifest. On error nothing is left at Output.
func RunJob(ctx context.Context, j Job) (*shards.Manifest, error) {
	ls, err := j.checkLengths()
	if err != nil {
		return nil, err
	}
	sel, selInfo, err := j.selector()
	if err != nil {
		return nil, err
	}
	cfg := Config{
		Method: j.Method, TargetLength: j.TargetLength, TrainLength: ls, Seed: j.Seed, Threads: j.Threads,
		Selector: sel, Tokenizer: j.Tokenizer, Corpus: j.Corpus, Replay: j.Replay, Progress: j.Progress,
	}
	m := j.manifest(ls, selInfo)
	labels := j.Replay != nil && j.Replay.MaskPrompt
	w, err := shards.Create(j.Output, shards.WriterOptions{Format: j.Format, MaxShardBytes: j.MaxShardBytes, Labels: labels})
	if err != nil {
		return nil, err
	}
	counts, err := Prepare(ctx, j.Input, cfg, w)
	if err == nil && w.Rows() == 0 {
		err = fmt.Errorf("prepare %s: no rows: %d documents read, skipped %v (too short for a row of %d tokens?)", j.Input, counts.DocumentsRead, counts.DocumentsSkipped, ls)
	}
	if err != nil {
		w.Abort()
		return nil, err
	}
	m.Counts = counts
	if err := w.Close(m); err != nil {
		return nil, err
	}
	return &m, nil
}

// checkLengths returns the job's row length (the target length for
// full-length training) after checking the lengths, and that a job
// which needs a tokenizer has one.
func (j Job) checkLengths() (int, error) {
	ls := j.TrainLength
	if j.Method == Full {
		ls = j.TargetLength
	}
	if j.TargetLength <= 0 || ls <= 0 || ls > j.TargetLength {
		return 0, fmt.Errorf("prepare %s: train length %d must be in [1, target length %d]", j.Input, ls, j.TargetLength)
	}
	mixing := j.Replay != nil && j.Method != Replay
	needsTok := j.Method == LongRecipe || j.Method == Replay || mixing || j.Impactful != "" || (j.DropProb != nil && *j.DropProb > 0)
	if needsTok && j.Tokenizer == nil {
		return 0, fmt.Errorf("prepare %s: a tokenizer is needed (sentence ends, digit tokens and replay text come from the vocabulary)", j.Input)
	}
	if j.Method == Replay && (j.Impactful != "" || j.Replay == nil) {
		return 0, fmt.Errorf("prepare %s: the replay method takes replay settings and no impactful tokens", j.Input)
	}
	return ls, nil
}

// selector returns the job's sentence selector and its record for the
// manifest: the drop probability, the sentence ends of the tokenizer and
// the impactful tokens (digits or a file's).
func (j Job) selector() (Selector, *shards.Selection, error) {
	sel := Selector{}
	selInfo := &shards.Selection{SelectRatio: j.SelectRatio}
	switch {
	case j.DropProb != nil:
		if !(*j.DropProb >= 0 && *j.DropProb <= 1) {
			return sel, nil, fmt.Errorf("prepare %s: drop probability %v outside [0, 1]", j.Input, *j.DropProb)
		}
		sel.DropProb = *j.DropProb
	case j.Impactful != "":
		sel.DropProb = 0.5
	}
	selInfo.DropProb = sel.DropProb
	if j.Tokenizer != nil && j.Method != Replay {
		sel.Ends = SentenceEnds(j.Tokenizer)
		selInfo.SentenceEndTokens = sel.Ends.Len()
		if sel.Ends.Len() == 0 && (j.Method == LongRecipe || sel.DropProb > 0) {
			return sel, nil, fmt.Errorf("prepare %s: no token of the tokenizer ends with '.', '?', '!' or a newline; cannot split sentences", j.Input)
		}
	}
	switch j.Impactful {
	case "":
	case "digits":
		sel.Impactful = DigitTokens(j.Tokenizer)
	default:
		var err error
		if sel.Impactful, _, err = ReadImpactful(j.Impactful, j.Tokenizer.Hash(), j.Tokenizer.VocabSize()); err != nil {
			return sel, nil, err
		}
	}
	selInfo.Impactful = j.Impactful
	selInfo.ImpactfulTokens = sel.Impactful.Len()
	return sel, selInfo, nil
}

// manifest returns the job's manifest before its counts: the settings,
// the replay source and the selection (or the replay policy).
func (j Job) manifest(ls int, selInfo *shards.Selection) shards.Manifest {
	m := shards.Manifest{Method: string(j.Method), TargetLength: j.TargetLength, TrainLength: ls, Seed: j.Seed, Input: j.Input, ShortDocuments: shortDocsPolicy}
	if j.Replay != nil {
		in := j.Replay.Input
		if j.Method == Replay {
			in = j.Input
		}
		m.Replay = &shards.Replay{Input: in, PromptField: j.Replay.PromptField, ResponseField: j.Replay.ResponseField,
			MaskPrompt: j.Replay.MaskPrompt, Fraction: j.Replay.Fraction}
	}
	if j.Method == Replay {
		m.ShortDocuments = replayPolicy
	} else {
		m.Selection = selInfo
	}
	if j.Tokenizer != nil {
		m.TokenizerHash = j.Tokenizer.Hash()
	}
	return m
}
