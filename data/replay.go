package data

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/longrecipe/longrecipe/positions"
	"github.com/longrecipe/longrecipe/shards"
)

// ReplayConfig configures stage-2 replay data: JSONL records with a prompt
// and a response field (e.g. prompt/response or instruction/output). Each
// record becomes BOS + prompt + Separator, then response + EOS (prompt and
// response tokenized separately); records are concatenated in file order
// and cut into rows of exactly Ls tokens at positions 0..Ls−1. The tokens
// left over after the last full row are dropped and counted.
type ReplayConfig struct {
	// Input is the replay corpus for mixing into another method (for the
	// replay method itself the main input is used).
	Input         string
	PromptField   string
	ResponseField string
	// Separator is appended to the prompt text ("" allowed).
	Separator string
	// MaskPrompt sets LossMask false on prompt tokens (BOS included) so
	// only responses are trained on.
	MaskPrompt bool
	// Fraction, for mixing: the fraction of all rows that are replay rows.
	// Replay rows are interleaved deterministically: after the k-th long row
	// come as many replay rows as needed to reach floor(k·f/(1−f)).
	Fraction float64
}

func (r *ReplayConfig) check(m Method) error {
	if r.PromptField == "" || r.ResponseField == "" {
		return fmt.Errorf("replay needs a prompt and a response field name")
	}
	if r.PromptField == r.ResponseField {
		return fmt.Errorf("replay prompt and response fields are both %q", r.PromptField)
	}
	if m != Replay {
		if !(r.Fraction > 0 && r.Fraction < 1) {
			return fmt.Errorf("replay fraction %v outside (0, 1)", r.Fraction)
		}
		if r.Input == "" {
			return fmt.Errorf("replay fraction given without a replay input")
		}
	}
	return nil
}

func (r *ReplayConfig) fields() []string { return []string{r.PromptField, r.ResponseField} }

// replayDoc is one tokenized record.
type replayDoc struct {
	prompt, response []int32
}

func (r *ReplayConfig) tokenize(tok Tokenizer, d *Document) (replayDoc, error) {
	p, okp := d.Fields[r.PromptField]
	s, oks := d.Fields[r.ResponseField]
	if !okp || !oks {
		return replayDoc{}, fmt.Errorf("%s: record needs %q and %q fields", d.Source, r.PromptField, r.ResponseField)
	}
	eos, _ := tok.EOS()
	rd := replayDoc{prompt: tok.Encode(p+r.Separator, true), response: tok.Encode(s, false)}
	rd.response = append(rd.response, eos)
	return rd, nil
}

// replayPacker concatenates replay documents and cuts rows of ls tokens.
// Under mask, a row with no trained token after its first (all prompt: a
// prompt longer than ls) is dropped and counted, since the trainer refuses
// a step without a predicted token.
type replayPacker struct {
	ls      int
	mask    bool
	ids     []int32
	lm      []bool
	dropped int64 // rows dropped for having no predicted token
}

// add appends a document and returns the rows it completes.
func (p *replayPacker) add(rd replayDoc) []shards.Row {
	p.ids = append(p.ids, rd.prompt...)
	p.ids = append(p.ids, rd.response...)
	if p.mask {
		for range rd.prompt {
			p.lm = append(p.lm, false)
		}
		for range rd.response {
			p.lm = append(p.lm, true)
		}
	}
	var rows []shards.Row
	off := 0
	for len(p.ids)-off >= p.ls {
		r := shards.Row{
			InputIDs:    append([]int32(nil), p.ids[off:off+p.ls]...),
			PositionIDs: positions.Full(p.ls),
		}
		off += p.ls
		if p.mask {
			r.LossMask = append([]bool(nil), p.lm[off-p.ls:off]...)
			if !slices.Contains(r.LossMask[1:], true) {
				p.dropped++
				continue
			}
		}
		rows = append(rows, r)
	}
	p.ids = append(p.ids[:0], p.ids[off:]...)
	if p.mask {
		p.lm = append(p.lm[:0], p.lm[off:]...)
	}
	return rows
}

// leftover is the number of tokens that never filled a row.
func (p *replayPacker) leftover() int { return len(p.ids) }

// replayMixer produces replay rows on demand for mixing.
type replayMixer struct {
	cfg       *Config
	corpus    Corpus
	packer    *replayPacker
	queue     []shards.Row
	emitted   int64
	exhausted bool
}

func newReplayMixer(cfg *Config) (*replayMixer, error) {
	opts := cfg.Corpus
	opts.KeepFields = cfg.Replay.fields()
	c, err := OpenCorpus(cfg.Replay.Input, opts)
	if err != nil {
		return nil, fmt.Errorf("replay input: %w", err)
	}
	return &replayMixer{cfg: cfg, corpus: c, packer: &replayPacker{ls: cfg.TrainLength, mask: cfg.Replay.MaskPrompt}}, nil
}

// rowsAfter returns the replay rows due after the longRows-th long row.
func (m *replayMixer) rowsAfter(longRows int64) ([]shards.Row, error) {
	f := m.cfg.Replay.Fraction
	target := int64(math.Floor(float64(longRows)*f/(1-f) + 1e-9))
	var out []shards.Row
	for m.emitted < target && !m.exhausted {
		if len(m.queue) == 0 {
			d, err := m.corpus.Next()
			if err == io.EOF {
				m.exhausted = true
				break
			}
			if err != nil {
				return nil, fmt.Errorf("replay input: %w", err)
			}
			if err := d.Decode(); err != nil {
				return nil, fmt.Errorf("replay input: %w", err)
			}
			rd, err := m.cfg.Replay.tokenize(m.cfg.Tokenizer, &d)
			if err != nil {
				return nil, fmt.Errorf("replay input: %w", err)
			}
			m.queue = append(m.queue, m.packer.add(rd)...)
			continue
		}
		out = append(out, m.queue[0])
		m.queue = m.queue[1:]
		m.emitted++
	}
	return out, nil
}

func (m *replayMixer) close() { m.corpus.Close() }
