package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// object decodes a JSON object into its fields and rejects any field not in
// allowed, naming the component, so that an option we do not implement is an
// error rather than silently ignored. "type" is always allowed.
func object(raw json.RawMessage, what string, allowed ...string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%s: not a JSON object", what)
	}
	for k := range m {
		if k == "type" {
			continue
		}
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("%s: unsupported field %q", what, k)
		}
	}
	return m, nil
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func typeOf(raw json.RawMessage, what string) (string, error) {
	var t struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", fmt.Errorf("%s: %v", what, err)
	}
	if t.Type == "" {
		return "", fmt.Errorf("%s: missing \"type\"", what)
	}
	return t.Type, nil
}

// field decodes m[key] into v; a missing or null key leaves v unchanged.
func field(m map[string]json.RawMessage, key, what string, v any) error {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: field %q: %v", what, key, err)
	}
	return nil
}

// stringPattern decodes a {"String": s} pattern; a Regex pattern is
// rejected.
func stringPattern(raw json.RawMessage, what string) (string, error) {
	var p struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", fmt.Errorf("%s: pattern: %v", what, err)
	}
	if p.String == nil || p.Regex != nil {
		return "", fmt.Errorf("%s: only a {\"String\": ...} pattern is supported", what)
	}
	return *p.String, nil
}

// normStep is one normalizer: NFC, Prepend or Replace.
type normStep struct {
	kind     string // "NFC", "Prepend", "Replace"
	from, to string
}

// byteLevelOptions checks a ByteLevel post-processor's or decoder's
// options (they change no id or text here).
func byteLevelOptions(raw json.RawMessage, what string) error {
	m, err := object(raw, what, "add_prefix_space", "trim_offsets", "use_regex")
	if err != nil {
		return err
	}
	var b bool
	for _, k := range []string{"add_prefix_space", "trim_offsets", "use_regex"} {
		if err := field(m, k, what, &b); err != nil {
			return err
		}
	}
	return nil
}

// sequence parses a Sequence: each entry of its list under key, in
// order, with its index in what.
func sequence(raw json.RawMessage, what, key string, each func(r json.RawMessage, what string) error) error {
	m, err := object(raw, what, key)
	if err != nil {
		return err
	}
	var list []json.RawMessage
	if err := field(m, key, what, &list); err != nil {
		return err
	}
	for i, r := range list {
		if err := each(r, fmt.Sprintf("%s[%d]", what, i)); err != nil {
			return err
		}
	}
	return nil
}

func parseNormalizer(raw json.RawMessage, what string, out *[]normStep) error {
	if isNull(raw) {
		return nil
	}
	typ, err := typeOf(raw, what)
	if err != nil {
		return err
	}
	what = what + " " + typ
	switch typ {
	case "NFC":
		if _, err := object(raw, what); err != nil {
			return err
		}
		*out = append(*out, normStep{kind: "NFC"})
	case "Sequence":
		m, err := object(raw, what, "normalizers")
		if err != nil {
			return err
		}
		var list []json.RawMessage
		if err := field(m, "normalizers", what, &list); err != nil {
			return err
		}
		for i, r := range list {
			if err := parseNormalizer(r, fmt.Sprintf("%s[%d]", what, i), out); err != nil {
				return err
			}
		}
	case "Prepend":
		m, err := object(raw, what, "prepend")
		if err != nil {
			return err
		}
		var s string
		if err := field(m, "prepend", what, &s); err != nil {
			return err
		}
		*out = append(*out, normStep{kind: "Prepend", to: s})
	case "Replace":
		m, err := object(raw, what, "pattern", "content")
		if err != nil {
			return err
		}
		from, err := stringPattern(m["pattern"], what)
		if err != nil {
			return err
		}
		if from == "" {
			return fmt.Errorf("%s: empty pattern", what)
		}
		var to string
		if err := field(m, "content", what, &to); err != nil {
			return err
		}
		*out = append(*out, normStep{kind: "Replace", from: from, to: to})
	default:
		return fmt.Errorf("%s: unsupported normalizer type", what)
	}
	return nil
}

// preTok is the parsed pre-tokenizer: Split steps applied in order, then
// optionally ByteLevel.
type preTok struct {
	splits    []matcher
	byteLevel bool
	blPrefix  bool // ByteLevel add_prefix_space
	blRegex   bool // ByteLevel use_regex (GPT-2 split)
}

func parsePreTokenizer(raw json.RawMessage, what string, p *preTok) error {
	if isNull(raw) {
		return nil
	}
	typ, err := typeOf(raw, what)
	if err != nil {
		return err
	}
	what = what + " " + typ
	if p.byteLevel {
		return fmt.Errorf("%s: only ByteLevel as the last pre-tokenizer is supported", what)
	}
	switch typ {
	case "Sequence":
		m, err := object(raw, what, "pretokenizers")
		if err != nil {
			return err
		}
		var list []json.RawMessage
		if err := field(m, "pretokenizers", what, &list); err != nil {
			return err
		}
		for i, r := range list {
			if err := parsePreTokenizer(r, fmt.Sprintf("%s[%d]", what, i), p); err != nil {
				return err
			}
		}
	case "Split":
		m, err := object(raw, what, "pattern", "behavior", "invert")
		if err != nil {
			return err
		}
		var pat struct {
			Regex *string `json:"Regex"`
		}
		if err := field(m, "pattern", what, &pat); err != nil {
			return err
		}
		if pat.Regex == nil {
			return fmt.Errorf("%s: only a {\"Regex\": ...} pattern is supported", what)
		}
		mt, ok := matcherFor(*pat.Regex)
		if !ok {
			return fmt.Errorf("%s: unsupported regex %q (supported: the Llama 3, Qwen2 and GPT-2 patterns)", what, *pat.Regex)
		}
		var behavior string
		var invert bool
		if err := field(m, "behavior", what, &behavior); err != nil {
			return err
		}
		if err := field(m, "invert", what, &invert); err != nil {
			return err
		}
		if behavior != "Isolated" || invert {
			return fmt.Errorf("%s: unsupported behavior %q invert %v (only Isolated, invert false)", what, behavior, invert)
		}
		p.splits = append(p.splits, mt)
	case "ByteLevel":
		m, err := object(raw, what, "add_prefix_space", "trim_offsets", "use_regex")
		if err != nil {
			return err
		}
		// HF defaults: add_prefix_space true, use_regex true.
		prefix, useRegex, trim := true, true, true
		if err := field(m, "add_prefix_space", what, &prefix); err != nil {
			return err
		}
		if err := field(m, "use_regex", what, &useRegex); err != nil {
			return err
		}
		if err := field(m, "trim_offsets", what, &trim); err != nil { // offsets only
			return err
		}
		p.byteLevel, p.blPrefix, p.blRegex = true, prefix, useRegex
	default:
		return fmt.Errorf("%s: unsupported pre-tokenizer type", what)
	}
	return nil
}

// postProc is the parsed post-processor: the special tokens around a single
// sequence when special tokens are added.
type postProc struct {
	prefix, suffix []int32
	template       bool // a TemplateProcessing was present
}

func parsePostProcessor(raw json.RawMessage, what string, p *postProc) error {
	if isNull(raw) {
		return nil
	}
	typ, err := typeOf(raw, what)
	if err != nil {
		return err
	}
	what = what + " " + typ
	switch typ {
	case "ByteLevel":
		// Only trims offsets; ids are unchanged.
		if err := byteLevelOptions(raw, what); err != nil {
			return err
		}
	case "Sequence":
		return sequence(raw, what, "processors", func(r json.RawMessage, what string) error {
			return parsePostProcessor(r, what, p)
		})
	case "TemplateProcessing":
		if p.template {
			return fmt.Errorf("%s: more than one TemplateProcessing", what)
		}
		p.template = true
		m, err := object(raw, what, "single", "pair", "special_tokens")
		if err != nil {
			return err
		}
		type piece struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		}
		var single, pair []piece
		var specials map[string]struct {
			ID  string  `json:"id"`
			IDs []int32 `json:"ids"`
		}
		if err := field(m, "single", what, &single); err != nil {
			return err
		}
		if err := field(m, "pair", what, &pair); err != nil {
			return err
		}
		if err := field(m, "special_tokens", what, &specials); err != nil {
			return err
		}
		seen := false
		for i, pc := range single {
			switch {
			case pc.Sequence != nil && pc.SpecialToken == nil:
				if pc.Sequence.ID != "A" || seen {
					return fmt.Errorf("%s: single template item %d: only one Sequence A is supported", what, i)
				}
				seen = true
			case pc.SpecialToken != nil && pc.Sequence == nil:
				st, ok := specials[pc.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("%s: single template uses %q, missing from special_tokens", what, pc.SpecialToken.ID)
				}
				if seen {
					p.suffix = append(p.suffix, st.IDs...)
				} else {
					p.prefix = append(p.prefix, st.IDs...)
				}
			default:
				return fmt.Errorf("%s: single template item %d: want SpecialToken or Sequence", what, i)
			}
		}
		if !seen {
			return fmt.Errorf("%s: single template has no Sequence A", what)
		}
	default:
		return fmt.Errorf("%s: unsupported post-processor type", what)
	}
	return nil
}

// decStep is one decoder step.
type decStep struct {
	kind        string // "ByteLevel", "Replace", "ByteFallback", "Fuse", "Strip"
	from, to    string
	strip       rune
	start, stop int
}

func parseDecoder(raw json.RawMessage, what string, out *[]decStep) error {
	if isNull(raw) {
		return nil
	}
	typ, err := typeOf(raw, what)
	if err != nil {
		return err
	}
	what = what + " " + typ
	switch typ {
	case "ByteLevel":
		if err := byteLevelOptions(raw, what); err != nil {
			return err
		}
		*out = append(*out, decStep{kind: typ})
	case "Sequence":
		return sequence(raw, what, "decoders", func(r json.RawMessage, what string) error {
			return parseDecoder(r, what, out)
		})
	case "Replace":
		st, err := parseReplaceDecoder(raw, what, typ)
		if err != nil {
			return err
		}
		*out = append(*out, st)
	case "ByteFallback", "Fuse":
		if _, err := object(raw, what); err != nil {
			return err
		}
		*out = append(*out, decStep{kind: typ})
	case "Strip":
		st, err := parseStripDecoder(raw, what, typ)
		if err != nil {
			return err
		}
		*out = append(*out, st)
	default:
		return fmt.Errorf("%s: unsupported decoder type", what)
	}
	return nil
}

// parseReplaceDecoder parses a Replace decoder step.
func parseReplaceDecoder(raw json.RawMessage, what, typ string) (decStep, error) {
	m, err := object(raw, what, "pattern", "content")
	if err != nil {
		return decStep{}, err
	}
	from, err := stringPattern(m["pattern"], what)
	if err != nil {
		return decStep{}, err
	}
	if from == "" {
		return decStep{}, fmt.Errorf("%s: empty pattern", what)
	}
	var to string
	if err := field(m, "content", what, &to); err != nil {
		return decStep{}, err
	}
	return decStep{kind: typ, from: from, to: to}, nil
}

// parseStripDecoder parses a Strip decoder step.
func parseStripDecoder(raw json.RawMessage, what, typ string) (decStep, error) {
	m, err := object(raw, what, "content", "start", "stop")
	if err != nil {
		return decStep{}, err
	}
	var content string
	var start, stop int
	if err := field(m, "content", what, &content); err != nil {
		return decStep{}, err
	}
	if err := field(m, "start", what, &start); err != nil {
		return decStep{}, err
	}
	if err := field(m, "stop", what, &stop); err != nil {
		return decStep{}, err
	}
	r := []rune(content)
	if len(r) != 1 || start < 0 || stop < 0 {
		return decStep{}, fmt.Errorf("%s: want one content character and start, stop >= 0", what)
	}
	return decStep{kind: typ, strip: r[0], start: start, stop: stop}, nil
}

// parseModel parses a BPE model.
func parseModel(raw json.RawMessage, what string, byteLevel bool) (*bpe, error) {
	if isNull(raw) {
		return nil, fmt.Errorf("%s: missing", what)
	}
	fields, err := objectFields(raw, what)
	if err != nil {
		return nil, err
	}
	var typ string
	if err := json.Unmarshal(fields["type"], &typ); err != nil || typ != "BPE" {
		return nil, fmt.Errorf("%s: unsupported model type %s (only BPE)", what, fields["type"])
	}
	what += " BPE"
	b, unk, err := bpeOptions(fields, what)
	if err != nil {
		return nil, err
	}
	if isNull(fields["vocab"]) {
		return nil, fmt.Errorf("%s: missing vocab", what)
	}
	if b.vocab, err = parseVocab(fields["vocab"], what+" vocab"); err != nil {
		return nil, err
	}
	if len(b.vocab) == 0 {
		return nil, fmt.Errorf("%s: empty vocab", what)
	}
	for tok, id := range b.vocab {
		// Ids index dense tables; real files number their vocab 0..n-1.
		if id < 0 || int(id) >= 2*len(b.vocab)+1024 {
			return nil, fmt.Errorf("%s: vocab entry %q has id %d, outside 0..%d", what, tok, id, 2*len(b.vocab)+1023)
		}
	}
	b.unk = -1
	if unk != nil {
		id, ok := b.vocab[*unk]
		if !ok {
			return nil, fmt.Errorf("%s: unk_token %q is not in the vocab", what, *unk)
		}
		b.unk = id
	}
	for i := range b.byteTokens {
		b.byteTokens[i] = -1
		if id, ok := b.vocab[fmt.Sprintf("<0x%02X>", i)]; ok {
			b.byteTokens[i] = id
		}
	}
	if err := b.setMerges(fields["merges"], what); err != nil {
		return nil, err
	}
	b.setTables(byteLevel)
	if !byteLevel && b.unk < 0 {
		if !b.byteFallback {
			return nil, fmt.Errorf("%s: a non-byte-level model needs unk_token or byte_fallback", what)
		}
		for i, id := range b.byteTokens {
			if id < 0 {
				return nil, fmt.Errorf("%s: byte_fallback without unk_token needs all <0xNN> tokens; <0x%02X> is missing", what, i)
			}
		}
	}
	return b, nil
}

// bpeOptions checks the BPE model's fields and returns the model with
// its options set, and its unk_token.
func bpeOptions(fields map[string][]byte, what string) (b *bpe, unk *string, err error) {
	m := map[string]json.RawMessage{}
	allowed := []string{"type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
		"fuse_unk", "byte_fallback", "ignore_merges", "vocab", "merges"}
	for k, v := range fields {
		if !slices.Contains(allowed, k) {
			return nil, nil, fmt.Errorf("%s: unsupported field %q", what, k)
		}
		if k != "vocab" && k != "merges" {
			m[k] = v
		}
	}
	var dropout *float64
	var prefix, suffix *string
	b = &bpe{}
	if err := field(m, "dropout", what, &dropout); err != nil {
		return nil, nil, err
	}
	if dropout != nil && *dropout != 0 {
		return nil, nil, fmt.Errorf("%s: dropout %v is not supported", what, *dropout)
	}
	if err := field(m, "continuing_subword_prefix", what, &prefix); err != nil {
		return nil, nil, err
	}
	if err := field(m, "end_of_word_suffix", what, &suffix); err != nil {
		return nil, nil, err
	}
	if (prefix != nil && *prefix != "") || (suffix != nil && *suffix != "") {
		return nil, nil, fmt.Errorf("%s: continuing_subword_prefix/end_of_word_suffix are not supported", what)
	}
	for k, v := range map[string]*bool{"fuse_unk": &b.fuseUnk, "byte_fallback": &b.byteFallback, "ignore_merges": &b.ignoreMerges} {
		if err := field(m, k, what, v); err != nil {
			return nil, nil, err
		}
	}
	if err := field(m, "unk_token", what, &unk); err != nil {
		return nil, nil, err
	}
	return b, unk, nil
}

// setMerges sets the merge ranks from raw (the merges list, possibly
// null); every token of a merge must be in the vocabulary.
func (b *bpe) setMerges(raw json.RawMessage, what string) error {
	var merges [][2]string
	if !isNull(raw) {
		var err error
		if merges, err = parseMerges(raw, what+" merges"); err != nil {
			return err
		}
	}
	b.merges = make(map[uint64]uint64, len(merges))
	for rank, mg := range merges {
		a, c := mg[0], mg[1]
		ia, ok1 := b.vocab[a]
		ic, ok2 := b.vocab[c]
		inew, ok3 := b.vocab[a+c]
		if !ok1 || !ok2 || !ok3 {
			return fmt.Errorf("%s: merge %d (%q, %q): token not in the vocab", what, rank, a, c)
		}
		// A repeated pair takes its last rank, as in HF's HashMap.
		b.merges[pairKey(ia, ic)] = uint64(rank)<<32 | uint64(uint32(inew))
	}
	return nil
}

// setTables sets the byte-to-id tables of a byte-level model, or whether
// a metaspace model splits on spaces.
func (b *bpe) setTables(byteLevel bool) {
	if byteLevel {
		b.byteLevel = true
		for i := 0; i < 256; i++ {
			id, ok := b.vocab[byteString[i]]
			if !ok {
				id = -1 // as in HF: the byte becomes unk_token, or is dropped without one
			}
			b.byteIDs[i] = id
		}
		if b.ignoreMerges {
			b.rawVocab = make(map[string]int32, len(b.vocab))
			for tok, id := range b.vocab {
				raw, ok := byteLevelDecode(nil, tok)
				if ok {
					b.rawVocab[string(raw)] = id
				}
			}
		}
	} else {
		_, b.spaceSplit = b.vocab[spaceMark]
		for tok := range b.vocab {
			if strings.Contains(strings.TrimLeft(tok, spaceMark), spaceMark) {
				b.spaceSplit = false
				break
			}
		}
	}
}

// sortedAdded returns the added tokens ordered by id.
func sortedAdded(list []addedToken) []addedToken {
	out := append([]addedToken(nil), list...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
