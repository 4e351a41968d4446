package fhir

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Formats of primitive values follow the regular expressions in the R4
// StructureDefinitions (TypeDef.Regex). The common string-like types and
// the date and time types are checked by hand for speed; their behaviour is
// compared with the spec's expressions in tests (FuzzDateTime).

const maxStringBytes = 1 << 20 // R4: strings SHALL NOT exceed 1 MB

var regexps sync.Map // type name -> *regexp.Regexp

func specRegexp(typ string) *regexp.Regexp {
	if r, ok := regexps.Load(typ); ok {
		return r.(*regexp.Regexp)
	}
	t := Type(typ)
	if t == nil || t.Regex == "" {
		return nil
	}
	r := regexp.MustCompile(`^(?:` + t.Regex + `)$`)
	regexps.Store(typ, r)
	return r
}

// checkNumber checks a JSON number literal against an integer type's range
// and form. Any JSON number is a valid decimal.
func checkNumber(typ, lit string) string {
	if typ == "decimal" {
		return ""
	}
	if strings.ContainsAny(lit, ".eE") {
		return fmt.Sprintf("the value %s is not a valid %s (no fraction or exponent allowed)", lit, typ)
	}
	n, ok := new(big.Int).SetString(lit, 10)
	if !ok {
		return fmt.Sprintf("the value %s is not a valid %s", lit, typ)
	}
	if !n.IsInt64() || n.Int64() > 2147483647 || n.Int64() < -2147483648 {
		return fmt.Sprintf("the value %s is outside the range of a 32-bit %s", lit, typ)
	}
	switch {
	case typ == "unsignedInt" && n.Sign() < 0:
		return fmt.Sprintf("the value %s is not a valid unsignedInt (must be 0 or more)", lit)
	case typ == "positiveInt" && n.Sign() <= 0:
		return fmt.Sprintf("the value %s is not a valid positiveInt (must be 1 or more)", lit)
	}
	return ""
}

// CheckFormat checks a primitive value's text against the rules of its
// type. It returns "" when the value is valid.
func CheckFormat(typ, s string) string { return checkFormat(typ, s) }

func checkFormat(typ, s string) string {
	if len(s) > maxStringBytes {
		return fmt.Sprintf("the value is %d bytes long, more than the limit of 1 MB", len(s))
	}
	switch typ {
	case "string", "markdown":
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return fmt.Sprintf("the value contains the illegal control character U+%04X", c)
			}
		}
		if strings.TrimSpace(s) == "" && typ == "string" {
			return "the value is only whitespace"
		}
		if looksLikeHTML(s) {
			return "the string contains text that looks like embedded HTML or script, which is not allowed"
		}
		return ""
	case "code":
		// The spec's expression uses Java's \s: ASCII whitespace only.
		if s != strings.Trim(s, " \t\r\n\f\v") || strings.Contains(s, "  ") || strings.ContainsAny(s, "\t\r\n\f\v") {
			return fmt.Sprintf("the code %q has leading, trailing or repeated whitespace", s)
		}
		return ""
	case "id":
		if !ValidID(s) {
			return fmt.Sprintf("the id %q is not valid (1 to 64 of A-Z a-z 0-9 - .)", s)
		}
		return ""
	case "uri", "url", "canonical":
		// \S in the spec's expression: ASCII whitespace is not allowed.
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case ' ', '\t', '\n', '\r', '\f', '\v':
				return fmt.Sprintf("the %s %q contains whitespace", typ, abbreviate(s))
			}
		}
		return ""
	case "base64Binary":
		if !validBase64(s) {
			return fmt.Sprintf("the value %q is not valid base64", abbreviate(s))
		}
		return ""
	case "time":
		if !matchDateTime(typ, s) {
			return fmt.Sprintf("the value %q is not a valid %s", abbreviate(s), typ)
		}
		return ""
	case "date", "dateTime", "instant":
		if !matchDateTime(typ, s) {
			return fmt.Sprintf("the value %q is not a valid %s", s, typ)
		}
		if len(s) >= 10 {
			if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
				return fmt.Sprintf("the value %q is not a valid %s (no such day)", s, typ)
			}
		}
		return ""
	}
	if r := specRegexp(typ); r != nil && !r.MatchString(s) {
		return fmt.Sprintf("the value %q is not a valid %s", abbreviate(s), typ)
	}
	return ""
}

// validBase64 reports whether s is standard, padded base64 once white
// space is ignored (what base64.StdEncoding.DecodeString accepts after
// removing it), without decoding or copying.
func validBase64(s string) bool {
	n, pad := 0, 0
	for i := 0; i < len(s); i++ {
		// Runs of data characters (nearly all of a value) first.
		if pad == 0 {
			j := i
			for j < len(s) && base64Class[s[j]] == base64Data {
				j++
			}
			n += j - i
			if i = j; i == len(s) {
				break
			}
		}
		switch base64Class[s[i]] {
		case base64Space:
			continue
		case base64Other:
			// Unicode white space is ignored too; anything else is invalid.
			r, size := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsSpace(r) {
				return false
			}
			i += size - 1
			continue
		case base64Pad:
			pad++
			if pad > 2 {
				return false
			}
		default:
			return false // not base64, or data after padding
		}
		n++
	}
	if n%4 != 0 {
		return false
	}
	// The last quantum's unused bits are not checked, as
	// base64.StdEncoding (non-strict) does not check them either.
	return pad == 0 || n >= 4
}

// Classes of bytes in base64 text.
const (
	base64Invalid = iota
	base64Data    // A-Z a-z 0-9 + /
	base64Pad     // =
	base64Space   // ASCII white space
	base64Other   // the start of a non-ASCII character
)

var base64Class = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/':
			t[c] = base64Data
		case c == '=':
			t[c] = base64Pad
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			t[c] = base64Space
		case c >= 0x80:
			t[c] = base64Other
		}
	}
	return t
}()

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// looksLikeHTML flags strings that carry active HTML content. Ordinary text
// such as "a < b" is left alone.
func looksLikeHTML(s string) bool {
	if !strings.Contains(s, "<") {
		return false
	}
	l := strings.ToLower(s)
	for _, bad := range []string{"<script", "<iframe", "<frame", "<object", "<embed", "<form", "<applet", "<svg", "<meta", "<base", "<link"} {
		if strings.Contains(l, bad) {
			return true
		}
	}
	return false
}

// htmlTagStart returns the position of the first '<' that starts what
// looks like an HTML tag, comment or declaration ("<b", "</", "<!"), or
// -1. FHIR markdown is rendered to HTML by clients, which may or may not
// escape HTML in it (https://hl7.org/fhir/R4/datatypes.html#markdown);
// R4's own definitions carry some, so it is worth a warning only.
func htmlTagStart(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '<' {
			continue
		}
		c := s[i+1]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '!' || c == '?' {
			return i
		}
	}
	return -1
}

// Narrative XHTML is limited to basic formatting (txt-1, txt-2;
// https://hl7.org/fhir/R4/narrative.html#xhtml).
var (
	xhtmlElements = setOf("a", "abbr", "acronym", "b", "big", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
		"dd", "dfn", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p",
		"pre", "q", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
		"tr", "tt", "ul", "var")
	xhtmlAttrs = setOf("abbr", "accesskey", "align", "alt", "axis", "bgcolor", "border", "cellhalign", "cellpadding",
		"cellspacing", "cellvalign", "char", "charoff", "charset", "class", "colspan", "compact", "coords", "dir",
		"frame", "headers", "height", "href", "hreflang", "hspace", "id", "lang", "longdesc", "name", "nowrap", "rel",
		"rev", "rowspan", "rules", "scope", "shape", "span", "src", "start", "style", "summary", "tabindex", "title",
		"type", "valign", "value", "vspace", "width", "xmlns", "space")
)

func setOf(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, x := range s {
		m[x] = true
	}
	return m
}

// checkXHTML checks a narrative div: well-formed XML, an xhtml div at the
// root, only allowed elements and attributes, no scripts or event handlers,
// no external images, and some text content.
func checkXHTML(s string) []string {
	if !utf8.ValidString(s) {
		return []string{"the narrative is not valid UTF-8"}
	}
	if xhtmlClean(s) {
		return nil
	}
	return xhtmlProblems(s)
}

// xhtmlProblems is checkXHTML for valid UTF-8, with encoding/xml.
func xhtmlProblems(s string) []string {
	var probs []string
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	// Only XML's own entities are allowed; HTML's (&reg;, &nbsp;) are not
	// part of XHTML narrative (https://hl7.org/fhir/R4/narrative.html#xhtml).
	// RawToken skips namespace translation and end-tag matching, which
	// cost allocations per token; both are done here instead.
	var open []xml.Name
	text := false
	for {
		tok, err := d.RawToken()
		if err != nil {
			if err == io.EOF {
				if len(open) > 0 {
					return append(probs, "the narrative is not well-formed XHTML: unexpected end of the text")
				}
				break
			}
			return append(probs, "the narrative is not well-formed XHTML: "+err.Error())
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(open) == 0 && (t.Name.Local != "div" || namespaceOf(t) != "http://www.w3.org/1999/xhtml") {
				probs = append(probs, "the narrative must be a <div> in the XHTML namespace")
			}
			open = append(open, t.Name)
			if !xhtmlElements[t.Name.Local] {
				probs = append(probs, fmt.Sprintf("invalid element name in the XHTML (%q)", t.Name.Local))
			}
			for _, a := range t.Attr {
				name := strings.ToLower(a.Name.Local)
				if strings.HasPrefix(name, "on") || !xhtmlAttrs[name] {
					probs = append(probs, fmt.Sprintf("invalid attribute name in the XHTML (%q on %s)", a.Name.Local, t.Name.Local))
					continue
				}
				if name != "href" && name != "src" {
					continue
				}
				v := strings.ToLower(strings.TrimSpace(a.Value))
				if strings.HasPrefix(v, "javascript:") {
					probs = append(probs, fmt.Sprintf("script URLs are not allowed in the XHTML (%s)", name))
				}
				if name == "src" && isExternalURL(v) {
					probs = append(probs, fmt.Sprintf("external references are not allowed in the XHTML (%s on %s)", name, t.Name.Local))
				}
			}
		case xml.EndElement:
			if len(open) == 0 || open[len(open)-1] != t.Name {
				return append(probs, fmt.Sprintf("the narrative is not well-formed XHTML: unexpected end element </%s>", t.Name.Local))
			}
			open = open[:len(open)-1]
		case xml.CharData:
			if !text && len(bytes.TrimSpace(t)) > 0 {
				text = true
			}
		case xml.ProcInst, xml.Directive:
			probs = append(probs, "processing instructions and directives are not allowed in the XHTML")
		}
	}
	if !text && !strings.Contains(s, "<img") {
		probs = append(probs, "the narrative must have some non-whitespace content (txt-2)")
	}
	return probs
}

// namespaceOf returns the namespace an element's own attributes declare
// for its name (xmlns or xmlns:prefix), or "".
func namespaceOf(t xml.StartElement) string {
	for _, a := range t.Attr {
		if t.Name.Space == "" && a.Name.Space == "" && a.Name.Local == "xmlns" ||
			t.Name.Space != "" && a.Name.Space == "xmlns" && a.Name.Local == t.Name.Space {
			return a.Value
		}
	}
	return ""
}

// isExternalURL reports whether a narrative src points outside the
// resource: an absolute URL with a scheme other than data, or a
// protocol-relative one.
func isExternalURL(v string) bool {
	if strings.HasPrefix(v, "//") {
		return true
	}
	scheme, _, ok := strings.Cut(v, ":")
	if !ok || scheme == "data" || strings.ContainsAny(scheme, "/#?.") {
		return false
	}
	return true
}

// matchDateTime reports whether s matches the R4 regular expression of
// typ: date, dateTime, instant or time (TypeDef.Regex; FuzzDateTime
// compares the two).
func matchDateTime(typ, s string) bool {
	if typ == "time" {
		rest, ok := scanClock(s)
		return ok && rest == ""
	}
	// A year of four digits other than 0000, then optionally a month, a
	// day, and a time with a zone; an instant has them all.
	if len(s) < 4 || !isDigits(s[:4]) || s[:4] == "0000" {
		return false
	}
	rest := s[4:]
	for _, limit := range [...]int{12, 31} {
		if rest == "" {
			return typ != "instant"
		}
		n, ok := twoDigits(rest[1:])
		if rest[0] != '-' || !ok || n < 1 || n > limit {
			return false
		}
		rest = rest[3:]
	}
	if rest == "" {
		return typ != "instant"
	}
	if typ == "date" || rest[0] != 'T' {
		return false
	}
	rest, ok := scanClock(rest[1:])
	if !ok {
		return false
	}
	switch {
	case rest == "Z":
		return true
	case len(rest) != 6 || rest[0] != '+' && rest[0] != '-' || rest[3] != ':':
		return false
	case rest[1:] == "14:00":
		return true
	}
	h, ok1 := twoDigits(rest[1:])
	m, ok2 := twoDigits(rest[4:])
	return ok1 && ok2 && h <= 13 && m <= 59
}

// scanClock reads hh:mm:ss with an optional fraction from the start of s
// and returns the rest.
func scanClock(s string) (string, bool) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return "", false
	}
	h, ok1 := twoDigits(s)
	m, ok2 := twoDigits(s[3:])
	sec, ok3 := twoDigits(s[6:])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 60 {
		return "", false
	}
	rest := s[8:]
	if rest != "" && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return "", false
		}
		rest = rest[i:]
	}
	return rest, true
}

// twoDigits returns the number written by the first two bytes of s, if
// they are ASCII digits.
func twoDigits(s string) (int, bool) {
	if len(s) < 2 || !isDigits(s[:2]) {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
