package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// Decode returns the text of ids as HF's decode does: each id's token
// (unknown ids are dropped; with skipSpecial, special added tokens too) is
// passed through the decoder chain; without a decoder tokens are joined
// with spaces.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		tok, ok := t.Token(id)
		if !ok {
			continue
		}
		if skipSpecial {
			if a, ok := t.addedByTok[tok]; ok && a.Special {
				continue
			}
		}
		toks = append(toks, tok)
	}
	if !t.hasDec {
		return strings.Join(toks, " ")
	}
	for _, st := range t.dec {
		toks = st.apply(toks)
	}
	return strings.Join(toks, "")
}

// apply runs one decoder step over the token strings (HF decode_chain).
func (st decStep) apply(toks []string) []string {
	switch st.kind {
	case "ByteLevel":
		var buf []byte
		for _, tok := range toks {
			var ok bool
			if buf, ok = byteLevelDecode(buf, tok); !ok {
				buf = append(buf, tok...)
			}
		}
		return []string{lossyUTF8(buf)}
	case "Replace":
		for i, tok := range toks {
			toks[i] = strings.ReplaceAll(tok, st.from, st.to)
		}
		return toks
	case "ByteFallback":
		out := make([]string, 0, len(toks))
		var pending []byte
		flush := func() {
			if len(pending) == 0 {
				return
			}
			if utf8.Valid(pending) {
				out = append(out, string(pending))
			} else {
				for range pending {
					out = append(out, "\uFFFD")
				}
			}
			pending = pending[:0]
		}
		for _, tok := range toks {
			if b, ok := byteFallbackByte(tok); ok {
				pending = append(pending, b)
				continue
			}
			flush()
			out = append(out, tok)
		}
		flush()
		return out
	case "Fuse":
		return []string{strings.Join(toks, "")}
	case "Strip":
		for i, tok := range toks {
			r := []rune(tok)
			lo := 0
			for k := 0; k < st.start && k < len(r) && r[k] == st.strip; k++ {
				lo = k + 1
			}
			hi := len(r)
			for k := 0; k < st.stop; k++ {
				j := len(r) - k - 1
				if j < lo || r[j] != st.strip {
					break
				}
				hi = j
			}
			toks[i] = string(r[lo:hi])
		}
		return toks
	}
	return toks
}

// byteFallbackByte parses a "<0xNN>" token as HF's ByteFallback decoder
// does (u8::from_str_radix on the two characters, which also accepts a
// leading '+').
func byteFallbackByte(tok string) (byte, bool) {
	if len(tok) != 6 || !strings.HasPrefix(tok, "<0x") || tok[5] != '>' {
		return 0, false
	}
	h := tok[3:5]
	if h[0] == '+' {
		h = h[1:]
	}
	var v int
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= '0' && c <= '9':
			v = v*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v*16 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v*16 + int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return byte(v), true
}

// TokenText returns what token id decodes to on its own, as raw bytes (a
// byte-level token may hold part of a UTF-8 character): byte-level tokens
// map back to their bytes, "<0xNN>" byte-fallback tokens to the byte, and
// the decoder's Replace steps apply (SentencePiece "▁" becomes " "). Strip
// and Fuse are not applied. Added tokens give their content; unknown ids nil.
func (t *Tokenizer) TokenText(id int32) []byte {
	tok, ok := t.Token(id)
	if !ok {
		return nil
	}
	if _, added := t.addedByID[id]; added {
		return []byte(tok)
	}
	for _, st := range t.dec {
		switch st.kind {
		case "ByteLevel":
			if b, ok := byteLevelDecode(nil, tok); ok {
				return b
			}
			return []byte(tok)
		case "ByteFallback":
			if b, ok := byteFallbackByte(tok); ok {
				return []byte{b}
			}
		case "Replace":
			tok = strings.ReplaceAll(tok, st.from, st.to)
		}
	}
	return []byte(tok)
}
