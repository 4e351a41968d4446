package fhir

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// xhtmlClean reports whether checkXHTML would find nothing wrong with the
// narrative s, without the allocations of encoding/xml. It reads the plain
// XML that narratives are made of (elements with names of ASCII letters,
// digits, '_', '-' and '.', quoted attributes, the five predefined entities
// and character references, comments) exactly as encoding/xml's strict
// decoder does, and returns false, meaning "not known to be clean", for
// anything else: prefixed element names, CDATA sections, processing
// instructions, directives, and every problem checkXHTML reports. Callers
// then run the full check, which gives the reasons.
func xhtmlClean(s string) bool {
	var stack [16]string
	open := stack[:0]
	text := false
	i := 0
	for i < len(s) {
		if s[i] != '<' {
			j, nonSpace, ok := xmlText(s, i)
			if !ok {
				return false
			}
			text = text || nonSpace
			i = j
			continue
		}
		if i+1 >= len(s) {
			return false
		}
		switch s[i+1] {
		case '/':
			name, j, ok := xmlName(s, i+2)
			if !ok {
				return false
			}
			j = xmlSpace(s, j)
			if j >= len(s) || s[j] != '>' || len(open) == 0 || open[len(open)-1] != name {
				return false
			}
			open = open[:len(open)-1]
			i = j + 1
		case '!':
			// A comment ends at the first "--", which must be followed by
			// '>'; its content is not checked.
			if !strings.HasPrefix(s[i:], "<!--") {
				return false
			}
			k := strings.Index(s[i+4:], "--")
			if k < 0 {
				return false
			}
			j := i + 4 + k + 2
			if j >= len(s) || s[j] != '>' {
				return false
			}
			i = j + 1
		default:
			name, j, empty, ok := xmlStartTag(s, i+1, len(open) == 0)
			if !ok {
				return false
			}
			if !empty {
				open = append(open, name)
			}
			i = j
		}
	}
	return len(open) == 0 && (text || strings.Contains(s, "<img"))
}

// xmlStartTag reads the rest of a start tag from s[i:] (after '<') and
// reports whether it is known to be clean: an allowed element with allowed
// attributes, no script URL or external image, and for a root element a div
// in the XHTML namespace. It returns the element's name, the position after
// the tag and whether the tag closes itself.
func xmlStartTag(s string, i int, root bool) (name string, end int, empty, ok bool) {
	name, j, ok := xmlName(s, i)
	if !ok || !xhtmlElements[name] {
		return "", 0, false, false
	}
	ns, haveNS := "", false
	for {
		j = xmlSpace(s, j)
		if j >= len(s) {
			return "", 0, false, false
		}
		if s[j] == '>' {
			j++
			break
		}
		if s[j] == '/' {
			if j+1 >= len(s) || s[j+1] != '>' {
				return "", 0, false, false
			}
			j += 2
			empty = true
			break
		}
		attr, k, ok := xmlAttrName(s, j)
		if !ok {
			return "", 0, false, false
		}
		k = xmlSpace(s, k)
		if k >= len(s) || s[k] != '=' {
			return "", 0, false, false
		}
		k = xmlSpace(s, k+1)
		if k >= len(s) || s[k] != '"' && s[k] != '\'' {
			return "", 0, false, false
		}
		q := strings.IndexByte(s[k+1:], s[k])
		if q < 0 {
			return "", 0, false, false
		}
		val := s[k+1 : k+1+q]
		if !xmlAttrValue(val) {
			return "", 0, false, false
		}
		j = k + 1 + q + 1

		// The name checked is the local part, as encoding/xml splits it
		// at a single colon with text on both sides.
		local := attr
		if c := strings.IndexByte(attr, ':'); c > 0 && c < len(attr)-1 {
			local = attr[c+1:]
		}
		lower := strings.ToLower(local)
		if strings.HasPrefix(lower, "on") || !xhtmlAttrs[lower] {
			return "", 0, false, false
		}
		if lower == "href" || lower == "src" {
			v := strings.ToLower(strings.TrimSpace(xmlDecode(val)))
			if strings.HasPrefix(v, "javascript:") || lower == "src" && isExternalURL(v) {
				return "", 0, false, false
			}
		}
		if root && !haveNS && attr == "xmlns" {
			ns, haveNS = xmlDecode(val), true
		}
	}
	if root && (name != "div" || ns != "http://www.w3.org/1999/xhtml") {
		return "", 0, false, false
	}
	return name, j, empty, true
}

// xmlDecode returns the value of an attribute whose text xmlAttrValue
// accepts, as encoding/xml gives it: entities replaced, and "\r\n" and
// "\r" read as "\n".
func xmlDecode(v string) string {
	if !strings.ContainsAny(v, "&\r") {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); {
		switch v[i] {
		case '&':
			r, n, _ := xmlEntity(v[i:])
			b = utf8.AppendRune(b, r)
			i += n
		case '\r':
			b = append(b, '\n')
			i++
			if i < len(v) && v[i] == '\n' {
				i++
			}
		default:
			b = append(b, v[i])
			i++
		}
	}
	return string(b)
}

// isXMLNameByte is encoding/xml's set of ASCII bytes that may be part of a
// name.
func isXMLNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// xmlName reads an element name at s[i:] that has no colon and only ASCII
// characters, returning it and the position after it.
func xmlName(s string, i int) (string, int, bool) {
	name, j, ok := xmlAttrName(s, i)
	if !ok || strings.IndexByte(name, ':') >= 0 {
		return "", 0, false
	}
	return name, j, true
}

// xmlAttrName reads an ASCII name at s[i:] that starts with a letter or
// '_' and has at most one colon, returning it and the position after it.
func xmlAttrName(s string, i int) (string, int, bool) {
	if i >= len(s) {
		return "", 0, false
	}
	if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_') {
		return "", 0, false
	}
	j := i + 1
	for j < len(s) && isXMLNameByte(s[j]) {
		j++
	}
	if j < len(s) && s[j] >= utf8.RuneSelf {
		return "", 0, false // encoding/xml reads it as part of the name
	}
	name := s[i:j]
	if strings.Count(name, ":") > 1 {
		return "", 0, false
	}
	return name, j, true
}

// xmlSpace skips the white space encoding/xml skips inside tags.
func xmlSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\r', '\n', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

// xmlText reads character data at s[i:] up to the next '<' and reports
// whether it is valid (allowed characters and entities, no "]]>") and
// whether it has any character that is not white space.
func xmlText(s string, i int) (end int, nonSpace, ok bool) {
	for i < len(s) {
		c := s[i]
		switch {
		case c == '<':
			return i, nonSpace, true
		case c == '&':
			r, n, ok := xmlEntity(s[i:])
			if !ok {
				return 0, false, false
			}
			nonSpace = nonSpace || !unicode.IsSpace(r)
			i += n
			continue
		case c == ']':
			if strings.HasPrefix(s[i:], "]]>") {
				return 0, false, false
			}
			nonSpace = true
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
				return 0, false, false
			}
			nonSpace = nonSpace || !unicode.IsSpace(r)
			i += size
			continue
		case c < 0x20:
			if c != '\t' && c != '\n' && c != '\r' {
				return 0, false, false
			}
		case c == ' ':
		default:
			nonSpace = true
		}
		i++
	}
	return i, nonSpace, true
}

// xmlAttrValue reports whether the text of a quoted attribute value is
// valid: no '<', allowed characters and entities.
func xmlAttrValue(v string) bool {
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == '<':
			return false
		case c == '&':
			_, n, ok := xmlEntity(v[i:])
			if !ok {
				return false
			}
			i += n
			continue
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(v[i:])
			if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
				return false
			}
			i += size
			continue
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r':
			return false
		}
		i++
	}
	return true
}

// xmlEntity reads the entity or character reference at the start of s
// (which starts with '&') as encoding/xml's strict decoder does, returning
// the character it stands for and its length.
func xmlEntity(s string) (rune, int, bool) {
	for _, e := range [...]struct {
		name string
		r    rune
	}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&apos;", '\''}, {"&quot;", '"'}} {
		if strings.HasPrefix(s, e.name) {
			return e.r, len(e.name), true
		}
	}
	if len(s) < 3 || s[1] != '#' {
		return 0, 0, false
	}
	i, base := 2, rune(10)
	if s[i] == 'x' {
		i, base = 3, 16
	}
	var n rune
	start := i
	for ; i < len(s); i++ {
		c := s[i]
		var d rune
		switch {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = rune(c-'A') + 10
		default:
			d = -1
		}
		if d < 0 {
			break
		}
		if i-start >= 7 {
			return 0, 0, false // longer than any character code needs
		}
		n = n*base + d
	}
	if i == start || i >= len(s) || s[i] != ';' || n > unicode.MaxRune {
		return 0, 0, false
	}
	if 0xD800 <= n && n <= 0xDFFF {
		n = utf8.RuneError // what string(rune(n)) gives
	}
	if !isXMLChar(n) {
		return 0, 0, false
	}
	return n, i + 1, true
}

// isXMLChar reports whether r is in XML's character range
// (https://www.w3.org/TR/xml/#charsets).
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
