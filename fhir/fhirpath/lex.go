package fhirpath

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind classifies a lexical token.
type tokKind uint8

const (
	tEOF      tokKind = iota
	tIdent            // identifier or keyword; delimited identifiers have quoted set
	tString           // 'text' (val holds the unescaped text)
	tNumber           // 12 or 1.5
	tLong             // 12L
	tDate             // @2014-01 / @2014-01-01T10:00 / @T10:00 (val holds the text after @)
	tExtConst         // %name, %`name`, %'name' (val holds the name)
	tOp               // punctuation and symbolic operators
)

// token is one lexical token. pos is the byte offset in the expression.
type token struct {
	kind   tokKind
	val    string
	pos    int
	quoted bool // a `delimited` identifier: never a keyword
}

// SyntaxError is a compile error with the byte offset where it was found.
type SyntaxError struct {
	Pos int    // byte offset in the expression
	Msg string // what was wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("fhirpath: syntax error at offset %d: %s", e.Pos, e.Msg)
}

func errAt(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// lex splits an expression into tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		// Skip white space and comments.
		for i < len(src) {
			c := src[i]
			if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' {
				i++
				continue
			}
			if c == '/' && i+1 < len(src) && src[i+1] == '/' {
				for i < len(src) && src[i] != '\n' {
					i++
				}
				continue
			}
			if c == '/' && i+1 < len(src) && src[i+1] == '*' {
				end := strings.Index(src[i+2:], "*/")
				if end < 0 {
					return nil, errAt(i, "unterminated comment")
				}
				i += 2 + end + 2
				continue
			}
			break
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, pos: i})
			return toks, nil
		}
		start := i
		c := src[i]
		switch {
		case isIdentStart(c):
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			toks = append(toks, token{kind: tIdent, val: src[start:i], pos: start})
		case c >= '0' && c <= '9':
			for i < len(src) && isDigit(src[i]) {
				i++
			}
			if i+1 < len(src) && src[i] == '.' && isDigit(src[i+1]) {
				i++
				for i < len(src) && isDigit(src[i]) {
					i++
				}
			}
			if i < len(src) && src[i] == 'L' && (i+1 >= len(src) || !isIdentPart(src[i+1])) {
				toks = append(toks, token{kind: tLong, val: src[start:i], pos: start})
				i++
				continue
			}
			toks = append(toks, token{kind: tNumber, val: src[start:i], pos: start})
		case c == '\'' || c == '`':
			s, n, err := unquote(src[i:], c)
			if err != nil {
				return nil, errAt(i, "%s", err.Error())
			}
			i += n
			if c == '`' {
				toks = append(toks, token{kind: tIdent, val: s, pos: start, quoted: true})
			} else {
				toks = append(toks, token{kind: tString, val: s, pos: start})
			}
		case c == '@':
			i++
			j := scanDateTime(src, i)
			if j == i {
				return nil, errAt(start, "invalid date/time literal")
			}
			toks = append(toks, token{kind: tDate, val: src[i:j], pos: start})
			i = j
		case c == '%':
			i++
			if i < len(src) && (src[i] == '`' || src[i] == '\'') {
				s, n, err := unquote(src[i:], src[i])
				if err != nil {
					return nil, errAt(i, "%s", err.Error())
				}
				i += n
				toks = append(toks, token{kind: tExtConst, val: s, pos: start})
				continue
			}
			j := i
			for j < len(src) && (isIdentPart(src[j]) || src[j] == '-') {
				j++
			}
			if j == i {
				return nil, errAt(start, "expected a name after %%")
			}
			toks = append(toks, token{kind: tExtConst, val: src[i:j], pos: start})
			i = j
		case c == '$':
			i++
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			toks = append(toks, token{kind: tIdent, val: src[start:i], pos: start})
		default:
			op := ""
			if i+1 < len(src) {
				switch two := src[i : i+2]; two {
				case "<=", ">=", "!=", "!~":
					op = two
				}
			}
			if op == "" {
				switch c {
				case '.', '[', ']', '(', ')', '{', '}', ',', '+', '-', '*', '/', '&', '|', '<', '>', '=', '~':
					op = string(c)
				default:
					r, _ := utf8.DecodeRuneInString(src[i:])
					return nil, errAt(i, "unexpected character %q", r)
				}
			}
			i += len(op)
			toks = append(toks, token{kind: tOp, val: op, pos: start})
		}
	}
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// unquote reads a quoted string starting at s[0] (the quote q) and returns
// its unescaped text and the number of bytes consumed.
func unquote(s string, q byte) (string, int, error) {
	var sb strings.Builder
	i := 1
	for i < len(s) {
		c := s[i]
		switch {
		case c == q:
			return sb.String(), i + 1, nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unterminated string")
			}
			e := s[i+1]
			i += 2
			switch e {
			case '\'', '"', '`', '\\', '/':
				sb.WriteByte(e)
			case 'f':
				sb.WriteByte('\f')
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			case 'u':
				if i+4 > len(s) {
					return "", 0, fmt.Errorf("invalid \\u escape")
				}
				v, err := strconv.ParseUint(s[i:i+4], 16, 32)
				if err != nil {
					return "", 0, fmt.Errorf("invalid \\u escape")
				}
				i += 4
				r := rune(v)
				// Surrogate pairs written as two escapes.
				if r >= 0xD800 && r < 0xDC00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if lo, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil && lo >= 0xDC00 && lo < 0xE000 {
						r = (r-0xD800)<<10 + (rune(lo) - 0xDC00) + 0x10000
						i += 6
					}
				}
				sb.WriteRune(r)
			default:
				return "", 0, fmt.Errorf("invalid escape \\%c", e)
			}
		default:
			sb.WriteByte(c)
			i++
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}

// scanDateTime returns the end of a date, dateTime or time literal that
// starts at src[i] (just after '@').
func scanDateTime(src string, i int) int {
	digits := func(j, n int) int {
		for k := 0; k < n; k++ {
			if j+k >= len(src) || !isDigit(src[j+k]) {
				return -1
			}
		}
		return j + n
	}
	timePart := func(j int) int {
		// HH(:mm(:ss(.fff)?)?)?
		k := digits(j, 2)
		if k < 0 {
			return j
		}
		j = k
		if j < len(src) && src[j] == ':' {
			if k := digits(j+1, 2); k > 0 {
				j = k
				if j < len(src) && src[j] == ':' {
					if k := digits(j+1, 2); k > 0 {
						j = k
						if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) {
							j++
							for j < len(src) && isDigit(src[j]) {
								j++
							}
						}
					}
				}
			}
		}
		return j
	}
	tz := func(j int) int {
		if j < len(src) && src[j] == 'Z' {
			return j + 1
		}
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			if k := digits(j+1, 2); k > 0 && k < len(src) && src[k] == ':' {
				if k2 := digits(k+1, 2); k2 > 0 {
					return k2
				}
			}
		}
		return j
	}
	if i < len(src) && src[i] == 'T' {
		j := timePart(i + 1)
		if j == i+1 {
			return i
		}
		return tz(j)
	}
	j := digits(i, 4)
	if j < 0 {
		return i
	}
	if j+2 < len(src) && src[j] == '-' && isDigit(src[j+1]) {
		if k := digits(j+1, 2); k > 0 {
			j = k
			if j+2 < len(src) && src[j] == '-' && isDigit(src[j+1]) {
				if k := digits(j+1, 2); k > 0 {
					j = k
				}
			}
		}
	}
	if j < len(src) && src[j] == 'T' {
		k := timePart(j + 1)
		j = tz(k)
	}
	return j
}
