package tokenizer

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A minimal JSON scanner for the bulk of tokenizer.json (the vocab object
// and the merges array, hundreds of thousands of entries), several times
// faster than encoding/json with reflection. Small components still go
// through encoding/json.

type jscan struct {
	b    []byte
	i    int
	what string
}

func (s *jscan) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: invalid JSON at byte %d: %s", s.what, s.i, fmt.Sprintf(format, args...))
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// expect skips whitespace and consumes byte c.
func (s *jscan) expect(c byte) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != c {
		return s.errorf("want %q", c)
	}
	s.i++
	return nil
}

// peek skips whitespace and returns the next byte (0 at the end).
func (s *jscan) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// str parses a JSON string.
func (s *jscan) str() (string, error) {
	if err := s.expect('"'); err != nil {
		return "", err
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			v := string(s.b[start:s.i])
			s.i++
			return v, nil
		}
		if c == '\\' {
			return s.strSlow(start)
		}
		if c < 0x20 {
			return "", s.errorf("control character in string")
		}
		s.i++
	}
	return "", s.errorf("unterminated string")
}

// strSlow continues a string with escapes; start is just after the quote.
func (s *jscan) strSlow(start int) (string, error) {
	out := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return string(out), nil
		case c < 0x20:
			return "", s.errorf("control character in string")
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return "", s.errorf("unterminated escape")
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return "", s.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					lo, ok := s.hex4()
					if ok {
						r2 = utf16.DecodeRune(r, lo)
					}
					if r2 == utf8.RuneError {
						s.i = save // not a pair: the next escape stands alone
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", s.errorf("bad escape \\%c", e)
		}
	}
	return "", s.errorf("unterminated string")
}

func (s *jscan) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.i += 4
	return rune(v), true
}

// int32 parses a JSON integer that fits in int32.
func (s *jscan) int32() (int32, error) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	v, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 32)
	if err != nil {
		return 0, s.errorf("want an int32")
	}
	return int32(v), nil
}

// skip skips one JSON value (checking its structure) and returns its raw
// bytes.
func (s *jscan) skip(depth int) ([]byte, error) {
	if depth > 512 {
		return nil, s.errorf("nesting too deep")
	}
	c := s.peek()
	start := s.i
	switch {
	case c == '"':
		if _, err := s.str(); err != nil {
			return nil, err
		}
	case c == '{' || c == '[':
		s.i++
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		if s.peek() == end {
			s.i++
			break
		}
		for {
			if c == '{' {
				if _, err := s.str(); err != nil {
					return nil, err
				}
				if err := s.expect(':'); err != nil {
					return nil, err
				}
			}
			if _, err := s.skip(depth + 1); err != nil {
				return nil, err
			}
			if s.peek() == ',' {
				s.i++
				continue
			}
			if err := s.expect(end); err != nil {
				return nil, err
			}
			break
		}
	case c == '-' || (c >= '0' && c <= '9'):
		for s.i < len(s.b) && (s.b[s.i] == '-' || s.b[s.i] == '+' || s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E' || (s.b[s.i] >= '0' && s.b[s.i] <= '9')) {
			s.i++
		}
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				return s.b[start:s.i], nil
			}
		}
		return nil, s.errorf("unexpected input")
	}
	return s.b[start:s.i], nil
}

// objectFields splits a JSON object into its fields' raw values (slices of
// data, later duplicates winning, as in encoding/json).
func objectFields(data []byte, what string) (map[string][]byte, error) {
	s := &jscan{b: data, what: what}
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	m := map[string][]byte{}
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			k, err := s.str()
			if err != nil {
				return nil, err
			}
			if err := s.expect(':'); err != nil {
				return nil, err
			}
			v, err := s.skip(0)
			if err != nil {
				return nil, err
			}
			m[k] = v
			if s.peek() == ',' {
				s.i++
				continue
			}
			if err := s.expect('}'); err != nil {
				return nil, err
			}
			break
		}
	}
	if s.peek() != 0 {
		return nil, s.errorf("data after the object")
	}
	return m, nil
}

// parseVocab parses {"token": id, ...}.
func parseVocab(raw []byte, what string) (map[string]int32, error) {
	s := &jscan{b: raw, what: what}
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	m := make(map[string]int32, len(raw)/12)
	if s.peek() == '}' {
		s.i++
		return m, nil
	}
	for {
		k, err := s.str()
		if err != nil {
			return nil, err
		}
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		id, err := s.int32()
		if err != nil {
			return nil, err
		}
		m[k] = id
		if s.peek() == ',' {
			s.i++
			continue
		}
		if err := s.expect('}'); err != nil {
			return nil, err
		}
		return m, nil
	}
}

// parseMerges parses ["a b", ...] or [["a", "b"], ...] (one form per
// file, as HF requires).
func parseMerges(raw []byte, what string) ([][2]string, error) {
	s := &jscan{b: raw, what: what}
	if err := s.expect('['); err != nil {
		return nil, err
	}
	var out [][2]string
	if s.peek() == ']' {
		s.i++
		return out, nil
	}
	stringForm := s.peek() == '"'
	for n := 0; ; n++ {
		if (s.peek() == '"') != stringForm {
			return nil, fmt.Errorf("%s: merge %d: merges mix the \"a b\" and [\"a\", \"b\"] forms", what, n)
		}
		var a, b string
		if stringForm {
			v, err := s.str()
			if err != nil {
				return nil, err
			}
			sp := -1
			for k := 0; k < len(v); k++ {
				if v[k] == ' ' {
					if sp >= 0 {
						sp = -2
						break
					}
					sp = k
				}
			}
			if sp < 0 {
				return nil, fmt.Errorf("%s: merge %d %q: want two tokens separated by one space", what, n, v)
			}
			a, b = v[:sp], v[sp+1:]
		} else {
			if err := s.expect('['); err != nil {
				return nil, fmt.Errorf("%s: merge %d: want \"a b\" or [\"a\", \"b\"]", what, n)
			}
			var err error
			if a, err = s.str(); err != nil {
				return nil, err
			}
			if err := s.expect(','); err != nil {
				return nil, err
			}
			if b, err = s.str(); err != nil {
				return nil, err
			}
			if err := s.expect(']'); err != nil {
				return nil, fmt.Errorf("%s: merge %d: want exactly two tokens", what, n)
			}
		}
		out = append(out, [2]string{a, b})
		if s.peek() == ',' {
			s.i++
			continue
		}
		if err := s.expect(']'); err != nil {
			return nil, err
		}
		return out, nil
	}
}
