package bpetrain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
)

// JSON returns the tokenizer in Hugging Face's tokenizer.json format:
// model BPE (vocab and merges, merges written as "left right" strings as
// in Llama 3's file), pre-tokenizer Sequence[Split(SplitPattern,
// Isolated), ByteLevel(add_prefix_space false, trim_offsets true,
// use_regex false)], decoder ByteLevel, the specials as added tokens, and a
// TemplateProcessing post-processor that prepends BOS when m.BOS is set.
// Vocab and merges are written one entry a line, in id and rank order.
func (m *Model) JSON() ([]byte, error) {
	var b bytes.Buffer
	q := func(s string) {
		var e bytes.Buffer
		enc := json.NewEncoder(&e)
		enc.SetEscapeHTML(false)
		enc.Encode(s) // a string always encodes
		b.Write(bytes.TrimRight(e.Bytes(), "\n"))
	}
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, s := range m.Specials {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n    {\"id\": %d, \"content\": ", len(m.Vocab)+i)
		q(s)
		b.WriteString(", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}")
	}
	if len(m.Specials) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("],\n  \"normalizer\": null,\n")
	b.WriteString("  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [\n")
	b.WriteString("    {\"type\": \"Split\", \"pattern\": {\"Regex\": ")
	q(SplitPattern)
	b.WriteString("}, \"behavior\": \"Isolated\", \"invert\": false},\n")
	b.WriteString("    {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}\n  ]},\n")
	if m.BOS == "" {
		b.WriteString("  \"post_processor\": null,\n")
	} else {
		id, ok := m.SpecialID(m.BOS)
		if !ok {
			return nil, fmt.Errorf("bpetrain: BOS token %q is not one of the special tokens %q", m.BOS, m.Specials)
		}
		bos := func(typeID int) {
			b.WriteString("{\"SpecialToken\": {\"id\": ")
			q(m.BOS)
			fmt.Fprintf(&b, ", \"type_id\": %d}}", typeID)
		}
		b.WriteString("  \"post_processor\": {\"type\": \"TemplateProcessing\",\n    \"single\": [")
		bos(0)
		b.WriteString(", {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],\n    \"pair\": [")
		bos(0)
		b.WriteString(", {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, ")
		bos(1)
		b.WriteString(", {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}],\n    \"special_tokens\": {")
		q(m.BOS)
		b.WriteString(": {\"id\": ")
		q(m.BOS)
		fmt.Fprintf(&b, ", \"ids\": [%d], \"tokens\": [", id)
		q(m.BOS)
		b.WriteString("]}}},\n")
	}
	b.WriteString("  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n")
	b.WriteString("  \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": null, \"end_of_word_suffix\": null, \"fuse_unk\": false, \"byte_fallback\": false, \"ignore_merges\": false,\n")
	b.WriteString("    \"vocab\": {")
	for id, s := range m.Vocab {
		if id > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n      ")
		q(s)
		fmt.Fprintf(&b, ": %d", id)
	}
	b.WriteString("\n    },\n    \"merges\": [")
	for r, mg := range m.Merges {
		if mg[0] < 0 || int(mg[0]) >= len(m.Vocab) || mg[1] < 0 || int(mg[1]) >= len(m.Vocab) {
			return nil, fmt.Errorf("bpetrain: merge %d refers to token ids %v outside the vocabulary of %d", r, mg, len(m.Vocab))
		}
		if r > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n      ")
		q(m.Vocab[mg[0]] + " " + m.Vocab[mg[1]])
	}
	b.WriteString("\n    ]\n  }\n}\n")
	return b.Bytes(), nil
}

// WriteFile writes the tokenizer.json to path atomically.
func (m *Model) WriteFile(path string) error {
	data, err := m.JSON()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
