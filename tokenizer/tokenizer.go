package tokenizer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/longrecipe/longrecipe/internal/paths"
	"golang.org/x/text/unicode/norm"
)

// Tokenizer is a loaded tokenizer.json. It is safe for concurrent use.
type Tokenizer struct {
	name   string
	hash   string
	model  *bpe
	norm   []normStep
	pre    preTok
	post   postProc
	dec    []decStep
	hasDec bool

	added      []addedToken          // by id
	addedByID  map[int32]*addedToken // id -> added token
	addedByTok map[string]*addedToken
	rawAdded   *addedMatcher // normalized == false, matched on raw text
	normAdded  *addedMatcher // normalized == true, matched after normalizing

	idToToken []string // model vocab by id ("" for holes)
	vocabSize int

	bos, eos int32

	pool chan *scratch
}

// Load reads and parses a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	data, err := paths.ReadRegular(path) // a FIFO is refused, not waited on
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return Parse(data, path)
}

// Parse parses tokenizer.json data; name (usually the file path) is used in
// error messages.
func Parse(data []byte, name string) (*Tokenizer, error) {
	t, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", name, err)
	}
	t.name = name
	sum := sha256.Sum256(data)
	t.hash = hex.EncodeToString(sum[:])
	return t, nil
}

func parse(data []byte) (*Tokenizer, error) {
	top, err := objectFields(data, "tokenizer.json")
	if err != nil {
		return nil, err
	}
	known := []string{"version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"}
	for k := range top {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("unsupported top-level field %q", k)
		}
	}
	var f struct {
		Truncation, Padding, Normalizer, PreTokenizer, PostProcessor, Decoder, Model json.RawMessage
		AddedTokens                                                                  []addedToken
	}
	f.Truncation, f.Padding, f.Normalizer = top["truncation"], top["padding"], top["normalizer"]
	f.PreTokenizer, f.PostProcessor, f.Decoder, f.Model = top["pre_tokenizer"], top["post_processor"], top["decoder"], top["model"]
	if raw := top["added_tokens"]; !isNull(raw) {
		if err := json.Unmarshal(raw, &f.AddedTokens); err != nil {
			return nil, fmt.Errorf("added_tokens: %v", err)
		}
	}
	if !isNull(f.Truncation) {
		return nil, fmt.Errorf("truncation: unsupported (must be null)")
	}
	if !isNull(f.Padding) {
		return nil, fmt.Errorf("padding: unsupported (must be null)")
	}
	t := &Tokenizer{bos: -1, eos: -1}
	if err := parseNormalizer(f.Normalizer, "normalizer", &t.norm); err != nil {
		return nil, err
	}
	if err := parsePreTokenizer(f.PreTokenizer, "pre_tokenizer", &t.pre); err != nil {
		return nil, err
	}
	if err := parsePostProcessor(f.PostProcessor, "post_processor", &t.post); err != nil {
		return nil, err
	}
	if err := parseDecoder(f.Decoder, "decoder", &t.dec); err != nil {
		return nil, err
	}
	t.hasDec = !isNull(f.Decoder)
	m, err := parseModel(f.Model, "model", t.pre.byteLevel)
	if err != nil {
		return nil, err
	}
	t.model = m

	maxID, err := t.setVocab(m)
	if err != nil {
		return nil, err
	}
	if maxID, err = t.setAdded(f.AddedTokens, maxID); err != nil {
		return nil, err
	}
	t.vocabSize = int(maxID) + 1
	for _, id := range append(append([]int32(nil), t.post.prefix...), t.post.suffix...) {
		if _, ok := t.Token(id); !ok {
			return nil, fmt.Errorf("post_processor: special token id %d is not in the vocabulary", id)
		}
	}
	t.bos, t.eos = t.findBOSEOS()
	t.pool = make(chan *scratch, 2*runtime.GOMAXPROCS(0)+2)
	return t, nil
}

// setVocab sets the id-to-token table of m's vocabulary and returns the
// largest id; two tokens with one id are an error.
func (t *Tokenizer) setVocab(m *bpe) (int32, error) {
	maxID := int32(-1)
	for _, id := range m.vocab {
		maxID = max(maxID, id)
	}
	t.idToToken = make([]string, maxID+1)
	seen := make([]bool, maxID+1)
	for tok, id := range m.vocab {
		if seen[id] {
			return 0, fmt.Errorf("model: vocab id %d is given to %q and %q", id, tok, t.idToToken[id])
		}
		seen[id] = true
		t.idToToken[id] = tok
	}
	return maxID, nil
}

// setAdded indexes the added tokens (checked against the vocabulary) and
// their matchers, and returns the largest id, maxID or an added token's.
func (t *Tokenizer) setAdded(tokens []addedToken, maxID int32) (int32, error) {
	t.added = sortedAdded(tokens)
	t.addedByID = map[int32]*addedToken{}
	t.addedByTok = map[string]*addedToken{}
	var rawPats, normPats []addedPattern
	for i := range t.added {
		a := &t.added[i]
		if limit := int32(len(t.idToToken) + len(t.added) + 1<<20); a.ID < 0 || a.ID > limit || a.Content == "" {
			return 0, fmt.Errorf("added_tokens: entry %q id %d: want non-empty content and 0 <= id <= %d", a.Content, a.ID, limit)
		}
		if int(a.ID) < len(t.idToToken) && t.idToToken[a.ID] != "" && t.idToToken[a.ID] != a.Content {
			return 0, fmt.Errorf("added_tokens: id %d is %q but the vocab has %q", a.ID, a.Content, t.idToToken[a.ID])
		}
		if _, dup := t.addedByTok[a.Content]; dup {
			return 0, fmt.Errorf("added_tokens: %q appears twice", a.Content)
		}
		t.addedByID[a.ID] = a
		t.addedByTok[a.Content] = a
		maxID = max(maxID, a.ID)
		if a.Normalized {
			normPats = append(normPats, addedPattern{text: t.normalize(a.Content), tok: a})
		} else {
			rawPats = append(rawPats, addedPattern{text: a.Content, tok: a})
		}
	}
	t.rawAdded = newAddedMatcher(rawPats)
	t.normAdded = newAddedMatcher(normPats)
	return maxID, nil
}

// findBOSEOS implements the rule documented on BOS and EOS.
func (t *Tokenizer) findBOSEOS() (bos, eos int32) {
	bos, eos = -1, -1
	if len(t.post.prefix) > 0 {
		bos = t.post.prefix[0]
	} else {
		bos = t.firstSpecial("<|begin_of_text|>", "<s>", "<|bos|>")
	}
	eos = t.firstSpecial("<|end_of_text|>", "</s>", "<|endoftext|>", "<|eos|>")
	return bos, eos
}

func (t *Tokenizer) firstSpecial(names ...string) int32 {
	for _, n := range names {
		if a, ok := t.addedByTok[n]; ok && a.Special {
			return a.ID
		}
	}
	return -1
}

// normalize applies the normalizer to one piece of text.
func (t *Tokenizer) normalize(s string) string {
	for _, st := range t.norm {
		switch st.kind {
		case "NFC":
			s = nfc(s)
		case "Prepend":
			if s != "" {
				s = st.to + s
			}
		case "Replace":
			s = strings.ReplaceAll(s, st.from, st.to)
		}
	}
	return s
}

// nfc returns the NFC form of s, quickly when s is ASCII or already NFC.
func nfc(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) || norm.NFC.QuickSpanString(s[i:]) == len(s)-i {
		return s
	}
	return norm.NFC.String(s)
}

func (t *Tokenizer) getScratch() *scratch {
	select {
	case sc := <-t.pool:
		return sc
	default:
		return &scratch{cache: make(map[string][]int32)}
	}
}

func (t *Tokenizer) putScratch(sc *scratch) {
	select {
	case t.pool <- sc:
	default:
	}
}

// Encode returns the ids of text. With addSpecial the post-processor's
// special tokens (e.g. Llama 3's and Mistral's BOS) are added, as HF's
// encode(text, add_special_tokens=True) does.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int32 {
	sc := t.getScratch()
	ids := t.encode(make([]int32, 0, len(text)/3+4), text, addSpecial, sc)
	t.putScratch(sc)
	return ids
}

// EncodeBatch encodes texts on all cores; result i is Encode(texts[i]).
func (t *Tokenizer) EncodeBatch(texts []string, addSpecial bool) [][]int32 {
	out := make([][]int32, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	var nextIdx atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := t.getScratch()
			defer t.putScratch(sc)
			for {
				i := int(nextIdx.Add(1) - 1)
				if i >= len(texts) {
					return
				}
				out[i] = t.encode(make([]int32, 0, len(texts[i])/3+4), texts[i], addSpecial, sc)
			}
		}()
	}
	wg.Wait()
	return out
}

func (t *Tokenizer) encode(dst []int32, text string, addSpecial bool, sc *scratch) []int32 {
	if addSpecial {
		dst = append(dst, t.post.prefix...)
	}
	t.rawAdded.split(text, func(piece string, tok *addedToken) {
		if tok != nil {
			dst = append(dst, tok.ID)
			return
		}
		t.normAdded.split(t.normalize(piece), func(p string, tok *addedToken) {
			if tok != nil {
				dst = append(dst, tok.ID)
				return
			}
			dst = t.preTokenize(dst, p, 0, sc)
		})
	})
	if addSpecial {
		dst = append(dst, t.post.suffix...)
	}
	return dst
}

// preTokenize applies pre-tokenizer step level and the following ones to
// s, then the model to each resulting word.
func (t *Tokenizer) preTokenize(dst []int32, s string, level int, sc *scratch) []int32 {
	if level < len(t.pre.splits) {
		splitIsolated(s, t.pre.splits[level], func(p string) {
			dst = t.preTokenize(dst, p, level+1, sc)
		})
		return dst
	}
	if t.pre.byteLevel {
		if t.pre.blPrefix && !strings.HasPrefix(s, " ") {
			s = " " + s
		}
		if t.pre.blRegex {
			splitIsolated(s, matchGPT2, func(p string) {
				dst = t.model.word(dst, p, sc)
			})
			return dst
		}
	}
	return t.model.word(dst, s, sc)
}

// VocabSize returns one more than the largest token id of the model vocab
// and the added tokens (HF's vocab size with added tokens when ids are
// contiguous, as in all supported files).
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// Token returns the vocabulary string of id as stored in the file (added
// token content for added tokens).
func (t *Tokenizer) Token(id int32) (string, bool) {
	if a, ok := t.addedByID[id]; ok {
		return a.Content, true
	}
	if id >= 0 && int(id) < len(t.idToToken) && t.idToToken[id] != "" {
		return t.idToToken[id], true
	}
	return "", false
}

// ID returns the id of a vocabulary string (added tokens first).
func (t *Tokenizer) ID(token string) (int32, bool) {
	if a, ok := t.addedByTok[token]; ok {
		return a.ID, true
	}
	id, ok := t.model.vocab[token]
	return id, ok
}

// IsSpecial reports whether id is an added token marked special.
func (t *Tokenizer) IsSpecial(id int32) bool {
	a, ok := t.addedByID[id]
	return ok && a.Special
}

// BOS returns the beginning-of-sequence token. Rule: the first special token
// of the TemplateProcessing single template if there is one (Llama 3 from
// Meta, Mistral: "<s>"); otherwise the first added special token among
// "<|begin_of_text|>", "<s>", "<|bos|>" (tokenizer/bpetrain); Qwen2 files
// have none.
func (t *Tokenizer) BOS() (int32, bool) { return t.bos, t.bos >= 0 }

// EOS returns the end-of-sequence (end-of-document) token: the first of
// "<|end_of_text|>" (Llama 3), "</s>" (Mistral/Llama 2), "<|endoftext|>"
// (Qwen2, GPT-2 style), "<|eos|>" (tokenizer/bpetrain) that is an added
// special token.
func (t *Tokenizer) EOS() (int32, bool) { return t.eos, t.eos >= 0 }

// Hash returns the sha256 (hex) of the tokenizer.json bytes.
func (t *Tokenizer) Hash() string { return t.hash }

// Name returns the path or name the tokenizer was loaded from.
func (t *Tokenizer) Name() string { return t.name }
