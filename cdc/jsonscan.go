package cdc

import (
	"bytes"
	"encoding/binary"
	"iter"
	"math/bits"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner walks JSON text in place. It reports spans of the input instead of building values,
// so the decoder can turn them into strings without copying each one. It trusts the structure
// of what it skips (Kafka Connect writes valid JSON) but checks every token it reads.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the end of the input.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) consume(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool { return s.peek() == 0 && s.i == len(s.b) }

// span is a string token: the bytes between its quotes, and whether they hold escapes.
type span struct {
	start, end int
	esc        bool
}

// member moves to the next member of an object whose '{' was consumed and returns its key.
// ok is false once the closing '}' has been consumed.
func (s *scanner) member(first bool) (key span, ok bool, err error) {
	c := s.peek()
	if c == '}' && first {
		s.i++
		return span{}, false, nil
	}
	if !first {
		if c == '}' {
			s.i++
			return span{}, false, nil
		}
		if c != ',' {
			return span{}, false, errSyntax
		}
		s.i++
		c = s.peek()
	}
	if c != '"' {
		return span{}, false, errSyntax
	}
	if key, err = s.str(); err != nil {
		return span{}, false, err
	}
	if !s.consume(':') {
		return span{}, false, errSyntax
	}
	return key, true, nil
}

// members reads the members of an object whose '{' was consumed: it yields each key with the
// cursor at its value, which the loop body must read or skip. A syntax error is yielded once and
// ends the loop; so does the closing '}'.
func (s *scanner) members() iter.Seq2[span, error] {
	return func(yield func(span, error) bool) {
		for first := true; ; first = false {
			key, ok, err := s.member(first)
			if err != nil {
				yield(span{}, err)
				return
			}
			if !ok || !yield(key, nil) {
				return
			}
		}
	}
}

// str reads the string token at the cursor. It looks for the closing quote eight bytes at a
// time, stopping at a quote or a backslash.
func (s *scanner) str() (span, error) {
	b := s.b
	start := s.i + 1
	esc := false
	for i := start; i < len(b); {
		if i+8 <= len(b) {
			if m := specialBytes(binary.LittleEndian.Uint64(b[i:])); m == 0 {
				i += 8
				continue
			} else {
				i += bits.TrailingZeros64(m) / 8
			}
		}
		switch b[i] {
		case '"':
			s.i = i + 1
			return span{start, i, esc}, nil
		case '\\':
			esc = true
			i += 2
		default:
			i++
		}
	}
	return span{}, errSyntax
}

// specialBytes marks (high bit set) the bytes of x that are '"' or '\\'. Bits above the first
// marked byte may be wrong; the lowest one never is.
func specialBytes(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	e := x ^ (lo * '\\')
	return ((q-lo)&^q | (e-lo)&^e) & hi
}

// number reads the number token at the cursor and reports whether it is an integer literal.
func (s *scanner) number() (start, end int, integer bool, err error) {
	start = s.i
	end, integer, ok := numberEnd(s.b, s.i)
	if !ok {
		return 0, 0, false, errSyntax
	}
	s.i = end
	return start, end, integer, nil
}

// literal consumes true, false or null.
func (s *scanner) literal(word string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

// null consumes a null literal if one is next.
func (s *scanner) null() bool { return s.peek() == 'n' && s.literal("null") }

// skip moves past the value at the cursor.
func (s *scanner) skip() error {
	switch c := s.peek(); c {
	case '"':
		_, err := s.str()
		return err
	case '{', '[':
		return s.skipNested()
	case 't':
		return s.need(s.literal("true"))
	case 'f':
		return s.need(s.literal("false"))
	case 'n':
		return s.need(s.literal("null"))
	default:
		_, _, _, err := s.number()
		return err
	}
}

func (s *scanner) need(ok bool) error {
	if !ok {
		return errSyntax
	}
	return nil
}

// skipNested moves past an object or array by counting brackets outside strings.
func (s *scanner) skipNested() error {
	depth := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			if _, err := s.str(); err != nil {
				return err
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.i++
				return nil
			}
		}
		s.i++
	}
	return errSyntax
}

// numberEnd returns the end of the JSON number starting at i.
func numberEnd[T string | []byte](b T, i int) (end int, integer, ok bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, false, false
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, false, false
		}
		i, integer = j, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, false, false
		}
		i, integer = j, false
	}
	return i, integer, true
}

func digits[T string | []byte](b T, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// appendUnescaped appends the decoded content of a JSON string (without quotes) to dst.
func appendUnescaped(dst, src []byte) ([]byte, error) {
	for len(src) > 0 {
		j := bytes.IndexByte(src, '\\')
		if j < 0 {
			return append(dst, src...), nil
		}
		dst = append(dst, src[:j]...)
		src = src[j:]
		if len(src) < 2 {
			return dst, errSyntax
		}
		switch c := src[1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n, ok := unicodeEscape(src)
			if !ok {
				return dst, errSyntax
			}
			dst = utf8.AppendRune(dst, r)
			src = src[n:]
			continue
		default:
			return dst, errSyntax
		}
		src = src[2:]
	}
	return dst, nil
}

// unicodeEscape decodes \uXXXX, joining a surrogate pair, and returns the bytes it used.
func unicodeEscape(src []byte) (rune, int, bool) {
	r, ok := hex4(src[2:])
	if !ok {
		return 0, 0, false
	}
	if utf16.IsSurrogate(r) {
		if len(src) >= 12 && src[6] == '\\' && src[7] == 'u' {
			if r2, ok := hex4(src[8:]); ok {
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					return d, 12, true
				}
			}
		}
		return utf8.RuneError, 6, true
	}
	return r, 6, true
}

func hex4[T string | []byte](b T) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for i := range 4 {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// validJSON reports whether b is exactly one JSON value, checked strictly (RFC 8259).
func validJSON(b string) bool {
	v := validator{b: b}
	v.ws()
	if !v.value(0) {
		return false
	}
	v.ws()
	return v.i == len(b)
}

type validator struct {
	b string
	i int
}

const maxJSONDepth = 1000

func (v *validator) ws() {
	for v.i < len(v.b) && (v.b[v.i] == ' ' || v.b[v.i] == '\t' || v.b[v.i] == '\n' || v.b[v.i] == '\r') {
		v.i++
	}
}

func (v *validator) value(depth int) bool {
	if v.i >= len(v.b) || depth > maxJSONDepth {
		return false
	}
	switch c := v.b[v.i]; c {
	case '{':
		return v.container('}', depth, true)
	case '[':
		return v.container(']', depth, false)
	case '"':
		return v.str()
	case 't', 'f', 'n':
		for _, w := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(v.b[v.i:], w) {
				v.i += len(w)
				return true
			}
		}
		return false
	default:
		end, _, ok := numberEnd(v.b, v.i)
		v.i = end
		return ok
	}
}

func (v *validator) container(closer byte, depth int, object bool) bool {
	v.i++
	v.ws()
	if v.i < len(v.b) && v.b[v.i] == closer {
		v.i++
		return true
	}
	for {
		if object {
			if v.i >= len(v.b) || v.b[v.i] != '"' || !v.str() {
				return false
			}
			v.ws()
			if v.i >= len(v.b) || v.b[v.i] != ':' {
				return false
			}
			v.i++
			v.ws()
		}
		if !v.value(depth + 1) {
			return false
		}
		v.ws()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
			v.ws()
		case closer:
			v.i++
			return true
		default:
			return false
		}
	}
}

func (v *validator) str() bool {
	v.i++
	for v.i < len(v.b) {
		c := v.b[v.i]
		switch {
		case c == '"':
			v.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if v.i+1 >= len(v.b) {
				return false
			}
			switch v.b[v.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				v.i += 2
			case 'u':
				if _, ok := hex4(v.b[v.i+2:]); !ok {
					return false
				}
				v.i += 6
			default:
				return false
			}
		default:
			v.i++
		}
	}
	return false
}
