package gguf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// hfTokenizer is the part of a tokenizer.json the export reads.
type hfTokenizer struct {
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Model        struct {
		Type         string          `json:"type"`
		Vocab        map[string]int  `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
		ByteFallback bool            `json:"byte_fallback"`
		UnkToken     *string         `json:"unk_token"`
	} `json:"model"`
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	PostProcessor json.RawMessage `json:"post_processor"`
}

// preNames names the pre-tokenizer regexes llama.cpp knows, by the
// tokenizer.ggml.pre value the importer maps back to the same regex.
var preNames = map[string]string{tokenizer.PatternGPT2: "gpt-2"}

func init() {
	for _, name := range []string{"llama-bpe", "qwen2"} {
		preNames[splitPatterns[name]] = name
	}
}

// exportTokenizer returns tokenizer.ggml.* for the folder's tokenizer.json
// and tokenizer_config.json: a byte-level BPE as llama.cpp's "gpt2" model,
// a byte-fallback BPE over "▁"-joined pieces (Llama 2, Mistral) as its
// SentencePiece "llama" model. The vocabulary is padded to the
// embedding's vocab_size with unused "[PADi]" tokens, as llama.cpp's
// converter does.
func exportTokenizer(dir string, cfg *hf.Config) ([]KV, error) {
	path := filepath.Join(dir, "tokenizer.json")
	data, err := paths.ReadRegular(path)
	if err != nil {
		return nil, fmt.Errorf("export: tokenizer: %w", err)
	}
	var t hfTokenizer
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("export: %s: %w", path, err)
	}
	if t.Model.Type != "BPE" {
		return nil, fmt.Errorf("export: %s: model.type %q: only BPE tokenizers can be written to GGUF", path, t.Model.Type)
	}
	tc, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	v, err := buildVocab(&t, cfg.VocabSize, path)
	if err != nil {
		return nil, err
	}
	merges, err := parseMerges(t.Model.Merges, path)
	if err != nil {
		return nil, err
	}
	kvs := []KV{}
	if t.Model.ByteFallback {
		kvs = append(kvs, KV{"tokenizer.ggml.model", StringValue("llama")}, KV{"tokenizer.ggml.pre", StringValue("default")})
	} else {
		pre, err := preName(t.PreTokenizer, path)
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, KV{"tokenizer.ggml.model", StringValue("gpt2")}, KV{"tokenizer.ggml.pre", StringValue(pre)})
	}
	kvs = append(kvs, KV{"tokenizer.ggml.tokens", StringsValue(v.tokens)})
	if t.Model.ByteFallback {
		kvs = append(kvs, KV{"tokenizer.ggml.scores", Float32sValue(mergeScores(v.tokens, merges))},
			KV{"tokenizer.ggml.add_space_prefix", BoolValue(strings.Contains(string(t.Normalizer), `"Prepend"`))})
	}
	kvs = append(kvs, KV{"tokenizer.ggml.token_type", Int32sValue(v.types)}, KV{"tokenizer.ggml.merges", StringsValue(merges)})
	return append(kvs, specialKVs(&t, tc, cfg, v)...), nil
}

type exportVocab struct {
	tokens []string
	types  []int64
	ids    map[string]int
}

var byteTokenRE = regexp.MustCompile(`^<0x[0-9A-Fa-f]{2}>$`)

func buildVocab(t *hfTokenizer, n int, path string) (*exportVocab, error) {
	v := &exportVocab{tokens: make([]string, n), types: make([]int64, n), ids: map[string]int{}}
	set := func(id int, tok string, typ int64) error {
		if id < 0 || id >= n {
			return fmt.Errorf("export: %s: token %q has id %d outside config.json's vocab_size %d", path, tok, id, n)
		}
		v.tokens[id], v.types[id] = tok, typ
		v.ids[tok] = id
		return nil
	}
	for tok, id := range t.Model.Vocab {
		typ := int64(1)
		if t.Model.ByteFallback && byteTokenRE.MatchString(tok) {
			typ = 6
		}
		if t.Model.UnkToken != nil && tok == *t.Model.UnkToken {
			typ = tokenUnknown
		}
		if err := set(id, tok, typ); err != nil {
			return nil, err
		}
	}
	for _, a := range t.AddedTokens {
		typ := int64(tokenUserDefined)
		if a.Special {
			typ = tokenControl
		}
		if t.Model.UnkToken != nil && a.Content == *t.Model.UnkToken {
			typ = tokenUnknown
		}
		if err := set(a.ID, a.Content, typ); err != nil {
			return nil, err
		}
	}
	for i := range v.tokens {
		if v.types[i] == 0 {
			v.tokens[i], v.types[i] = fmt.Sprintf("[PAD%d]", i), 5 // unused
		}
	}
	return v, nil
}

// parseMerges reads model.merges in either layout ("a b" or ["a", "b"]).
func parseMerges(raw json.RawMessage, path string) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return []string{}, nil
	}
	var strs []string
	if json.Unmarshal(raw, &strs) == nil {
		return strs, nil
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("export: %s: model.merges: want strings or pairs of strings", path)
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if strings.Contains(p[0], " ") || strings.Contains(p[1], " ") {
			return nil, fmt.Errorf("export: %s: model.merges[%d] %q contains a space, which GGUF's \"a b\" merges cannot hold", path, i, p)
		}
		out[i] = p[0] + " " + p[1]
	}
	return out, nil
}

// mergeScores gives each token made by a merge the score −rank of its
// first merge (0 for the others), so that SentencePiece's highest-score-
// first merging, as llama.cpp runs it, and merges rebuilt from scores, as
// the importer and transformers do, follow the BPE merge order.
func mergeScores(tokens, merges []string) []float64 {
	rank := make(map[string]int, len(merges))
	for r, m := range merges {
		tok := strings.Replace(m, " ", "", 1)
		if _, ok := rank[tok]; !ok {
			rank[tok] = r
		}
	}
	out := make([]float64, len(tokens))
	for i, t := range tokens {
		if r, ok := rank[t]; ok {
			out[i] = -float64(r)
		}
	}
	return out
}

// preName returns llama.cpp's name of a byte-level pre-tokenizer: the
// ByteLevel pre-tokenizer's own GPT-2 regex, or a Split regex llama.cpp
// knows followed by a ByteLevel that does not split again.
func preName(raw json.RawMessage, path string) (string, error) {
	type pre struct {
		Type     string `json:"type"`
		UseRegex *bool  `json:"use_regex"`
		Pattern  struct {
			Regex string `json:"Regex"`
		} `json:"pattern"`
		Pretokenizers []pre `json:"pretokenizers"`
	}
	var p pre
	if err := json.Unmarshal(raw, &p); err == nil {
		if p.Type == "ByteLevel" && (p.UseRegex == nil || *p.UseRegex) {
			return "gpt-2", nil
		}
		if s := p.Pretokenizers; p.Type == "Sequence" && len(s) == 2 && s[0].Type == "Split" && s[1].Type == "ByteLevel" && s[1].UseRegex != nil && !*s[1].UseRegex {
			if name, ok := preNames[s[0].Pattern.Regex]; ok {
				return name, nil
			}
		}
	}
	return "", fmt.Errorf("export: %s: pre_tokenizer %.120s is not one llama.cpp implements (GPT-2, Llama 3 or Qwen2 byte-level splitting)", path, string(raw))
}

// tokenizerConfig is the part of tokenizer_config.json the export reads.
type tokenizerConfig struct {
	AddBOS       *bool           `json:"add_bos_token"`
	AddEOS       *bool           `json:"add_eos_token"`
	ChatTemplate json.RawMessage `json:"chat_template"`
	PadToken     json.RawMessage `json:"pad_token"`
	BOSToken     json.RawMessage `json:"bos_token"`
	EOSToken     json.RawMessage `json:"eos_token"`
	template     string
}

func readTokenizerConfig(dir string) (*tokenizerConfig, error) {
	tc := &tokenizerConfig{}
	path := filepath.Join(dir, "tokenizer_config.json")
	data, err := paths.ReadRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return tc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := json.Unmarshal(data, tc); err != nil {
		return nil, fmt.Errorf("export: %s: %w", path, err)
	}
	if len(tc.ChatTemplate) > 0 && json.Unmarshal(tc.ChatTemplate, &tc.template) != nil && string(tc.ChatTemplate) != "null" {
		return nil, fmt.Errorf("export: %s: chat_template: only a single template string can be written to GGUF", path)
	}
	if tpl, err := paths.ReadRegular(filepath.Join(dir, "chat_template.jinja")); err == nil && tc.template == "" {
		tc.template = string(tpl)
	}
	return tc, nil
}

// tokenContent reads a token given as a string or as {"content": ...}.
func tokenContent(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Content string `json:"content"`
	}
	json.Unmarshal(raw, &o)
	return o.Content
}

// specialKVs writes the special token ids, whether BOS/EOS are added
// (tokenizer_config.json's flags, else the post-processor's template) and
// the chat template.
func specialKVs(t *hfTokenizer, tc *tokenizerConfig, cfg *hf.Config, v *exportVocab) []KV {
	var kvs []KV
	id := func(key string, i int) {
		if i >= 0 && i < len(v.tokens) {
			kvs = append(kvs, KV{"tokenizer.ggml." + key + "_token_id", Uint32Value(uint32(i))})
		}
	}
	bos, eos := specialID(cfg, "bos_token_id", cfg.BOSTokenID, tc.BOSToken, v), specialID(cfg, "eos_token_id", cfg.EOSTokenID, tc.EOSToken, v)
	post := string(t.PostProcessor)
	if bos < 0 {
		bos = firstSpecial(t.PostProcessor, v)
	}
	id("bos", bos)
	id("eos", eos)
	if t.Model.UnkToken != nil {
		if i, ok := v.ids[*t.Model.UnkToken]; ok {
			id("unknown", i)
		}
	}
	if i, ok := v.ids[tokenContent(tc.PadToken)]; ok && len(tc.PadToken) > 0 {
		id("padding", i)
	}
	addBOS := bos >= 0 && strings.Contains(post, fmt.Sprintf("%q", v.tokens[bos]))
	if tc.AddBOS != nil {
		addBOS = *tc.AddBOS
	}
	addEOS := tc.AddEOS != nil && *tc.AddEOS
	kvs = append(kvs, KV{"tokenizer.ggml.add_bos_token", BoolValue(addBOS)}, KV{"tokenizer.ggml.add_eos_token", BoolValue(addEOS)})
	if tc.template != "" {
		kvs = append(kvs, KV{"tokenizer.chat_template", StringValue(tc.template)})
	}
	return kvs
}

// specialID returns a special token's id: config.json's when it states
// one (not a model-type default), else tokenizer_config.json's token, else
// -1.
func specialID(cfg *hf.Config, key string, fromConfig int, token json.RawMessage, v *exportVocab) int {
	if _, explicit := cfg.Raw[key]; explicit || cfg.Raw == nil {
		return fromConfig
	}
	if i, ok := v.ids[tokenContent(token)]; ok && len(token) > 0 {
		return i
	}
	return -1
}

// firstSpecial returns the id of the special token a TemplateProcessing
// post-processor puts before a single sequence (the BOS it adds), or -1.
func firstSpecial(raw json.RawMessage, v *exportVocab) int {
	var p struct {
		Single []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
		} `json:"single"`
	}
	if json.Unmarshal(raw, &p) != nil || len(p.Single) == 0 || p.Single[0].SpecialToken == nil {
		return -1
	}
	if i, ok := v.ids[p.Single[0].SpecialToken.ID]; ok {
		return i
	}
	return -1
}
