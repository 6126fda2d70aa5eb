package gguf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/longrecipe/longrecipe/tokenizer"
)

// llama.cpp's token types (tokenizer.ggml.token_type).
const (
	tokenUnknown     = 2
	tokenControl     = 3
	tokenUserDefined = 4
)

// splitPatterns are the tokenizer.ggml.pre values whose pre-tokenizer
// regex package tokenizer implements; transformers uses the same regexes.
var splitPatterns = map[string]string{
	"llama3": tokenizer.PatternLlama3, "llama-v3": tokenizer.PatternLlama3,
	"llama-bpe": tokenizer.PatternLlama3, "falcon3": tokenizer.PatternLlama3,
	"falcon-h1": tokenizer.PatternLlama3, "pixtral": tokenizer.PatternLlama3,
	"midm-2.0": tokenizer.PatternLlama3, "lfm2": tokenizer.PatternLlama3,
	"jina-v5-nano": tokenizer.PatternLlama3, "dbrx": tokenizer.PatternLlama3,
	"smaug-bpe": tokenizer.PatternLlama3,
	"qwen2":     tokenizer.PatternQwen2, "deepseek-r1-qwen": tokenizer.PatternQwen2,
	"kormo": tokenizer.PatternQwen2, "f2llmv2": tokenizer.PatternQwen2,
	"megrez": tokenizer.PatternQwen2,
}

// unsupportedPre are pre-tokenizers with regexes package tokenizer lacks.
var unsupportedPre = map[string]bool{
	"tekken": true, "qwen35": true, "gpt-4o": true, "llama4": true,
	"kanana2": true, "talkie": true, "minimax-m2": true,
}

// vocabulary is tokenizer.ggml.* as read from the metadata.
type vocabulary struct {
	model, pre string
	tokens     []string
	types      []int64
	scores     []float64
	merges     []string
	bos, eos   int // -1 when absent
	unk        int
	addBOS     bool
	addEOS     bool
	addPrefix  bool
	template   string
}

func readVocabulary(h *Header, name string) (*vocabulary, error) {
	m := &meta{h: h, name: name}
	v := &vocabulary{model: m.str("tokenizer.ggml.model"), pre: m.str("tokenizer.ggml.pre"), template: m.str("tokenizer.chat_template")}
	tv, ok := h.Get("tokenizer.ggml.tokens")
	if !ok {
		return nil, fmt.Errorf("gguf %s: no tokenizer (metadata \"tokenizer.ggml.tokens\" is missing)", name)
	}
	if v.tokens, ok = tv.Strings(); !ok {
		return nil, fmt.Errorf("gguf %s: metadata \"tokenizer.ggml.tokens\": want an array of strings, got %s", name, tv)
	}
	if err := v.readArrays(h, name); err != nil {
		return nil, err
	}
	v.bos, v.eos, v.unk = v.id(m, "bos"), v.id(m, "eos"), v.id(m, "unknown")
	v.addBOS = v.flag(m, "add_bos_token", v.model == "llama")
	v.addEOS = v.flag(m, "add_eos_token", false)
	v.addPrefix = v.flag(m, "add_space_prefix", v.model == "llama")
	return v, m.err
}

func (v *vocabulary) readArrays(h *Header, name string) error {
	n := len(v.tokens)
	if tv, ok := h.Get("tokenizer.ggml.token_type"); ok {
		if v.types, ok = tv.Ints(); !ok || len(v.types) != n {
			return fmt.Errorf("gguf %s: metadata \"tokenizer.ggml.token_type\": want %d integers, got %s", name, n, tv)
		}
	}
	if tv, ok := h.Get("tokenizer.ggml.scores"); ok {
		if v.scores, ok = tv.Floats(); !ok || len(v.scores) != n {
			return fmt.Errorf("gguf %s: metadata \"tokenizer.ggml.scores\": want %d floats, got %s", name, n, tv)
		}
	}
	if tv, ok := h.Get("tokenizer.ggml.merges"); ok {
		if v.merges, ok = tv.Strings(); !ok {
			return fmt.Errorf("gguf %s: metadata \"tokenizer.ggml.merges\": want strings, got %s", name, tv)
		}
	}
	return nil
}

// id reads tokenizer.ggml.<what>_token_id, checking it against the vocabulary.
func (v *vocabulary) id(m *meta, what string) int {
	key := "tokenizer.ggml." + what + "_token_id"
	if _, ok := m.h.Get(key); !ok {
		return -1
	}
	id := m.int(key, 0)
	if id >= int64(len(v.tokens)) {
		m.fail(key, "token id %d is outside the vocabulary of %d", id, len(v.tokens))
		return -1
	}
	return int(id)
}

func (v *vocabulary) flag(m *meta, what string, def bool) bool {
	key := "tokenizer.ggml." + what
	val, ok := m.h.Get(key)
	if !ok {
		return def
	}
	b, isBool := val.Bool()
	if !isBool {
		m.fail(key, "want a bool, got %s", val.Type)
	}
	return b
}

func (v *vocabulary) token(id int) string {
	if id < 0 {
		return ""
	}
	return v.tokens[id]
}

// BuildTokenizer returns tokenizer.json and tokenizer_config.json for a
// GGUF model's tokenizer.ggml.* metadata, laid out as transformers builds
// them from a GGUF file (byte-level BPE for "gpt2"; for "llama", Llama 2's
// SentencePiece-style BPE with byte fallback).
func BuildTokenizer(h *Header, name string) (tokJSON, configJSON []byte, err error) {
	v, err := readVocabulary(h, name)
	if err != nil {
		return nil, nil, err
	}
	var tok map[string]any
	switch v.model {
	case "gpt2":
		tok, err = v.byteLevel(name)
	case "llama":
		tok = v.sentencePiece()
	default:
		err = fmt.Errorf("gguf %s: unsupported tokenizer model %q in metadata \"tokenizer.ggml.model\" (want gpt2 or llama)", name, v.model)
	}
	if err != nil {
		return nil, nil, err
	}
	tok["version"], tok["truncation"], tok["padding"] = "1.0", nil, nil
	tok["added_tokens"] = v.addedTokens()
	tok["post_processor"] = v.postProcessor()
	if tokJSON, err = marshal(tok); err != nil {
		return nil, nil, fmt.Errorf("gguf %s: encode tokenizer.json: %w", name, err)
	}
	if configJSON, err = marshal(v.tokenizerConfig()); err != nil {
		return nil, nil, fmt.Errorf("gguf %s: encode tokenizer_config.json: %w", name, err)
	}
	return tokJSON, configJSON, nil
}

// marshal encodes without HTML escaping (tokens such as "<s>" stay legible).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	err := enc.Encode(v)
	return b.Bytes(), err
}

func (v *vocabulary) byteLevel(name string) (map[string]any, error) {
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	var pre any = byteLevel
	if pat, ok := splitPatterns[v.pre]; ok {
		pre = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]string{"Regex": pat}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}}
	} else if unsupportedPre[v.pre] {
		return nil, fmt.Errorf("gguf %s: pre-tokenizer %q (metadata \"tokenizer.ggml.pre\") is not supported by package tokenizer", name, v.pre)
	}
	vocab := make(orderedVocab, len(v.tokens))
	for i, t := range v.tokens {
		vocab[i] = byteLevelSpelling(t)
	}
	merges, err := splitMerges(v.merges, name)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"normalizer":    nil,
		"pre_tokenizer": pre,
		"decoder":       map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": bpeModel(vocab, merges, map[string]any{
			"unk_token": nil, "fuse_unk": false, "byte_fallback": false}),
	}, nil
}

func bpeModel(vocab orderedVocab, merges [][2]string, extra map[string]any) map[string]any {
	m := map[string]any{"type": "BPE", "dropout": nil, "continuing_subword_prefix": "",
		"end_of_word_suffix": "", "ignore_merges": false, "vocab": vocab, "merges": merges}
	for k, val := range extra {
		m[k] = val
	}
	return m
}

// byteLevelSpelling writes a token in the byte-level alphabet: tokens
// already in it are kept, others (llama.cpp sometimes stores special
// tokens as plain text) are spelled byte by byte, as transformers does.
func byteLevelSpelling(t string) string {
	alpha := true
	for _, r := range t {
		if _, ok := byteLevelRunes[r]; !ok {
			alpha = false
			break
		}
	}
	if alpha {
		return t
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		b.WriteRune(byteLevelAlphabet[t[i]])
	}
	return b.String()
}

// byteLevelAlphabet is GPT-2's bytes_to_unicode table.
var byteLevelAlphabet [256]rune
var byteLevelRunes = map[rune]bool{}

func init() {
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff) {
			byteLevelAlphabet[b] = rune(b)
		} else {
			byteLevelAlphabet[b] = rune(256 + n)
			n++
		}
		byteLevelRunes[byteLevelAlphabet[b]] = true
	}
}

func splitMerges(merges []string, name string) ([][2]string, error) {
	out := make([][2]string, len(merges))
	for i, m := range merges {
		l, r, ok := strings.Cut(m, " ")
		if !ok || strings.Contains(r, " ") {
			return nil, fmt.Errorf("gguf %s: metadata \"tokenizer.ggml.merges\": merge %d %q is not two tokens separated by a space", name, i, m)
		}
		out[i] = [2]string{l, r}
	}
	return out, nil
}

func (v *vocabulary) sentencePiece() map[string]any {
	var norm []any
	if v.addPrefix {
		norm = append(norm, map[string]any{"type": "Prepend", "prepend": "▁"})
	}
	norm = append(norm, map[string]any{"type": "Replace", "pattern": map[string]string{"String": " "}, "content": "▁"})
	dec := []any{
		map[string]any{"type": "Replace", "pattern": map[string]string{"String": "▁"}, "content": " "},
		map[string]any{"type": "ByteFallback"},
		map[string]any{"type": "Fuse"},
	}
	if v.addPrefix {
		dec = append(dec, map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0})
	}
	merges, _ := splitMerges(v.merges, "")
	if len(v.merges) == 0 || merges == nil {
		merges = mergesFromScores(v.tokens, v.scores)
	}
	var unk any
	if v.unk >= 0 {
		unk = v.tokens[v.unk]
	}
	return map[string]any{
		"normalizer":    map[string]any{"type": "Sequence", "normalizers": norm},
		"pre_tokenizer": nil,
		"decoder":       map[string]any{"type": "Sequence", "decoders": dec},
		"model": bpeModel(orderedVocab(v.tokens), merges, map[string]any{
			"unk_token": unk, "fuse_unk": true, "byte_fallback": true}),
	}
}

// mergesFromScores rebuilds BPE merges from a SentencePiece vocabulary and
// its scores as transformers' generate_merges does: every split of a token
// into two tokens of the vocabulary, ordered by the token's score (best
// first), then by the lengths of the two parts (longer first), ties in
// vocabulary order.
func mergesFromScores(tokens []string, scores []float64) [][2]string {
	ids := make(map[string]int, len(tokens))
	for i, t := range tokens {
		ids[t] = i // the last occurrence, as a Python dict comprehension
	}
	type merge struct {
		l, r       string
		score      float64
		lenL, lenR int
		idL, idR   int
	}
	var all []merge
	seen := map[string]bool{}
	for i, t := range tokens {
		if seen[t] {
			continue
		}
		seen[t] = true
		score := 0.0
		if scores != nil {
			score = scores[ids[t]]
		}
		var local []merge
		for j := range t {
			if j == 0 {
				continue
			}
			l, r := t[:j], t[j:]
			il, okL := ids[l]
			ir, okR := ids[r]
			if okL && okR {
				local = append(local, merge{l, r, score, utf8.RuneCountInString(l), utf8.RuneCountInString(r), il, ir})
			}
		}
		_ = i
		sort.SliceStable(local, func(a, b int) bool {
			if local[a].idL != local[b].idL {
				return local[a].idL < local[b].idL
			}
			return local[a].idR < local[b].idR
		})
		all = append(all, local...)
	}
	sort.SliceStable(all, func(a, b int) bool {
		x, y := all[a], all[b]
		if x.score != y.score {
			return x.score > y.score
		}
		if x.lenL != y.lenL {
			return x.lenL > y.lenL
		}
		return x.lenR > y.lenR
	})
	out := make([][2]string, len(all))
	for i, m := range all {
		out[i] = [2]string{m.l, m.r}
	}
	return out
}

// addedTokens lists the control tokens (and a SentencePiece vocabulary's
// unknown token) as special added tokens and the user-defined ones as
// plain added tokens, as transformers does.
func (v *vocabulary) addedTokens() []map[string]any {
	out := []map[string]any{}
	for i, t := range v.types {
		special := t == tokenControl || t == tokenUnknown && v.model == "llama"
		if !special && t != tokenUserDefined {
			continue
		}
		content := v.tokens[i]
		if v.model == "gpt2" && special && byteLevelSpelling(content) != content {
			continue // a mislabelled control token, skipped as transformers does
		}
		out = append(out, map[string]any{"id": i, "content": content, "single_word": false,
			"lstrip": false, "rstrip": false, "normalized": false, "special": special})
	}
	return out
}

func (v *vocabulary) postProcessor() map[string]any {
	seq := func(id string, typeID int) map[string]any {
		return map[string]any{"Sequence": map[string]any{"id": id, "type_id": typeID}}
	}
	spec := func(id int, typeID int) map[string]any {
		return map[string]any{"SpecialToken": map[string]any{"id": v.tokens[id], "type_id": typeID}}
	}
	specials := map[string]any{}
	build := func(part string, typeID int) []any {
		var out []any
		if v.addBOS && v.bos >= 0 {
			out = append(out, spec(v.bos, typeID))
			specials[v.tokens[v.bos]] = map[string]any{"id": v.tokens[v.bos], "ids": []int{v.bos}, "tokens": []string{v.tokens[v.bos]}}
		}
		out = append(out, seq(part, typeID))
		if v.addEOS && v.eos >= 0 {
			out = append(out, spec(v.eos, typeID))
			specials[v.tokens[v.eos]] = map[string]any{"id": v.tokens[v.eos], "ids": []int{v.eos}, "tokens": []string{v.tokens[v.eos]}}
		}
		return out
	}
	single := build("A", 0)
	pair := append(build("A", 0), build("B", 1)...)
	return map[string]any{"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials}
}

func (v *vocabulary) tokenizerConfig() map[string]any {
	c := map[string]any{
		"tokenizer_class": "PreTrainedTokenizerFast",
		"add_bos_token":   v.addBOS,
		"add_eos_token":   v.addEOS,
		"bos_token":       nilIfEmpty(v.token(v.bos)),
		"eos_token":       nilIfEmpty(v.token(v.eos)),
		"unk_token":       nilIfEmpty(v.token(v.unk)),
	}
	if v.template != "" {
		c["chat_template"] = v.template
	}
	return c
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// orderedVocab encodes as a JSON object of token → id in id order (a Go
// map would sort the keys; duplicates keep their first id).
type orderedVocab []string

// MarshalJSON writes {"token": id, ...} in id order.
func (o orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	seen := make(map[string]bool, len(o))
	first := true
	for i, t := range o {
		if seen[t] {
			continue
		}
		seen[t] = true
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		fmt.Fprintf(&b, ":%d", i)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
