package bpetrain

// GPT-2's byte-level alphabet (bytes_to_unicode): every byte maps to one
// printable character, so that a byte-level token is a plain string in
// tokenizer.json. Printable Latin-1 bytes map to themselves; the other 68
// bytes (controls, space, DEL, NBSP, soft hyphen) map to U+0100.. in byte
// order (space becomes 'Ġ', newline 'Ċ').
//
// The first 256 token ids follow GPT-2's order of this alphabet: id 0 is
// '!' (byte 33), ..., the printable bytes first, then the remapped ones.
var (
	byteRune [256]rune  // byte -> its character
	idByte   [256]byte  // token id (0..255) -> byte
	byteID   [256]int32 // byte -> token id
)

func init() {
	var order []int
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	for b := 0; b < 256; b++ {
		if printable(b) {
			order = append(order, b)
			byteRune[b] = rune(b)
		}
	}
	n := 0
	for b := 0; b < 256; b++ {
		if !printable(b) {
			order = append(order, b)
			byteRune[b] = rune(256 + n)
			n++
		}
	}
	for id, b := range order {
		idByte[id] = byte(b)
		byteID[b] = int32(id)
	}
}

// ByteLevel returns s with each byte replaced by its GPT-2 byte-level
// character, the form tokens take in tokenizer.json.
func ByteLevel(s []byte) string {
	r := make([]rune, len(s))
	for i, b := range s {
		r[i] = byteRune[b]
	}
	return string(r)
}
