package tokenizer

import "unicode/utf8"

// byteToRune is GPT-2's bytes_to_unicode table: every byte maps to a
// printable rune, the printable Latin-1 bytes to themselves and the others
// to U+0100 and up, in byte order.
var byteToRune [256]rune

// runeToByte inverts byteToRune; runes outside the table are absent.
var runeToByte = map[rune]byte{}

// byteString[b] is string(byteToRune[b]), precomputed.
var byteString [256]string

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if printable {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
		byteString[b] = string(byteToRune[b])
	}
}

// byteLevelDecode maps a byte-level token back to its raw bytes, appending
// to dst. ok is false when a rune of tok is not in the table; then nothing is
// appended (HF keeps such a token's own UTF-8 bytes).
func byteLevelDecode(dst []byte, tok string) ([]byte, bool) {
	n := len(dst)
	for _, r := range tok {
		b, ok := runeToByte[r]
		if !ok {
			return dst[:n], false
		}
		dst = append(dst, b)
	}
	return dst, true
}

// byteLevelEncode maps raw bytes to their byte-level string.
func byteLevelEncode(raw string) string {
	buf := make([]byte, 0, 2*len(raw))
	for i := 0; i < len(raw); i++ {
		buf = utf8.AppendRune(buf, byteToRune[raw[i]])
	}
	return string(buf)
}

// lossyUTF8 converts b to a valid UTF-8 string the way Rust's
// String::from_utf8_lossy does: each maximal invalid subpart (a prefix of a
// well-formed sequence that stops early, or a lone bad byte) becomes one
// U+FFFD. Go's strings.ToValidUTF8 differs (it merges runs of bad bytes).
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			out = append(out, b[i:i+size]...)
			i += size
			continue
		}
		// Invalid: find the length of the maximal subpart starting at i.
		n := invalidSubpartLen(b[i:])
		out = append(out, "\uFFFD"...)
		i += n
	}
	return string(out)
}

// invalidSubpartLen returns how many bytes of b (which starts with an
// invalid sequence) form one maximal subpart, per Unicode §3.9 (U+FFFD
// substitution of maximal subparts), which Rust follows.
func invalidSubpartLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k > 0 {
			lo, hi = 0x80, 0xBF
		}
		if x < lo || x > hi {
			break
		}
		n++
	}
	return n
}
