package fhirpath

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// inputString returns the single string input of a string function.
func inputString(in Collection, fn string) (string, bool, error) {
	v, err := singleton(in, fn)
	if err != nil || v == nil {
		return "", false, err
	}
	s, ok := stringOf(v)
	if !ok {
		return "", false, evalErrorf("%s needs a string, not %s", fn, v.TypeName())
	}
	return s, true, nil
}

func stringArg(e *env, n node, fn string) (string, bool, error) {
	v, err := e.argSingle(n, fn)
	if err != nil || v == nil {
		return "", false, err
	}
	s, ok := stringOf(v)
	if !ok {
		return "", false, evalErrorf("%s needs a string argument, not %s", fn, v.TypeName())
	}
	return s, true, nil
}

func runeIndex(s string, byteIdx int) int { return utf8.RuneCountInString(s[:byteIdx]) }

func fnIndexOf(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "indexOf()")
	if err != nil || !ok {
		return nil, err
	}
	sub, ok, err := stringArg(e, args[0], "indexOf()")
	if err != nil || !ok {
		return nil, err
	}
	i := strings.Index(s, sub)
	if i < 0 {
		return Collection{Integer(-1)}, nil
	}
	return Collection{Integer(runeIndex(s, i))}, nil
}

func fnLastIndexOf(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "lastIndexOf()")
	if err != nil || !ok {
		return nil, err
	}
	sub, ok, err := stringArg(e, args[0], "lastIndexOf()")
	if err != nil || !ok {
		return nil, err
	}
	i := strings.LastIndex(s, sub)
	if i < 0 {
		return Collection{Integer(-1)}, nil
	}
	return Collection{Integer(runeIndex(s, i))}, nil
}

func fnSubstring(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "substring()")
	if err != nil || !ok {
		return nil, err
	}
	start, ok, err := intArg(e, args[0], "substring()")
	if err != nil || !ok {
		return nil, err
	}
	r := []rune(s)
	if start < 0 || start >= len(r) {
		return nil, nil
	}
	end := len(r)
	if len(args) == 2 {
		n, ok, err := intArg(e, args[1], "substring()")
		if err != nil {
			return nil, err
		}
		if ok {
			if n < 0 {
				n = 0
			}
			end = min(start+n, len(r))
		}
	}
	return Collection{String(string(r[start:end]))}, nil
}

func strPred(f func(s, x string) bool) fnImpl {
	return func(e *env, in Collection, args []node) (Collection, error) {
		s, ok, err := inputString(in, "a string function")
		if err != nil || !ok {
			return nil, err
		}
		x, ok, err := stringArg(e, args[0], "a string function")
		if err != nil || !ok {
			return nil, err
		}
		return boolColl(f(s, x)), nil
	}
}

func strMap(f func(string) string) fnImpl {
	return func(e *env, in Collection, args []node) (Collection, error) {
		s, ok, err := inputString(in, "a string function")
		if err != nil || !ok {
			return nil, err
		}
		return Collection{String(f(s))}, nil
	}
}

func fnReplace(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "replace()")
	if err != nil || !ok {
		return nil, err
	}
	pat, ok, err := stringArg(e, args[0], "replace()")
	if err != nil || !ok {
		return nil, err
	}
	rep, ok, err := stringArg(e, args[1], "replace()")
	if err != nil || !ok {
		return nil, err
	}
	if len(s)+len(rep)*(len(s)+1) > maxString {
		return nil, limitError("replace() result too large")
	}
	return Collection{String(strings.ReplaceAll(s, pat, rep))}, nil
}

var (
	regexCache sync.Map // pattern -> *regexp.Regexp
	regexCount atomic.Int64
)

// maxCached bounds the entries of the regular expression and unit caches,
// which expressions from untrusted callers could otherwise grow.
const maxCached = 4096

// compileRegex compiles a FHIRPath regular expression (the Go RE2 syntax
// covers the PCRE subset used in practice; "." matches newlines, as in
// single-line mode).
func compileRegex(pat string) (*regexp.Regexp, error) {
	if re, ok := regexCache.Load(pat); ok {
		return re.(*regexp.Regexp), nil
	}
	if len(pat) > 4096 {
		return nil, limitError("regular expression too long")
	}
	re, err := regexp.Compile("(?s)" + pat)
	if err != nil {
		return nil, evalErrorf("invalid regular expression %q: %v", pat, err)
	}
	if regexCount.Add(1) <= maxCached {
		regexCache.Store(pat, re)
	}
	return re, nil
}

func fnMatches(full bool) fnImpl {
	return func(e *env, in Collection, args []node) (Collection, error) {
		s, ok, err := inputString(in, "matches()")
		if err != nil || !ok {
			return nil, err
		}
		pat, ok, err := stringArg(e, args[0], "matches()")
		if err != nil || !ok {
			return nil, err
		}
		if full {
			pat = "^(?:" + pat + ")$"
		}
		re, err := compileRegex(pat)
		if err != nil {
			return nil, err
		}
		return boolColl(re.MatchString(s)), nil
	}
}

func fnReplaceMatches(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "replaceMatches()")
	if err != nil || !ok {
		return nil, err
	}
	pat, ok, err := stringArg(e, args[0], "replaceMatches()")
	if err != nil || !ok {
		return nil, err
	}
	rep, ok, err := stringArg(e, args[1], "replaceMatches()")
	if err != nil || !ok {
		return nil, err
	}
	if pat == "" {
		return Collection{String(s)}, nil
	}
	re, err := compileRegex(pat)
	if err != nil {
		return nil, err
	}
	// $1 style group references are the same in Go; ${name} too.
	r := re.ReplaceAllString(s, rep)
	if len(r) > maxString {
		return nil, limitError("a string of more than %d bytes", maxString)
	}
	return Collection{String(r)}, nil
}

func fnLength(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "length()")
	if err != nil || !ok {
		return nil, err
	}
	return Collection{Integer(utf8.RuneCountInString(s))}, nil
}

func fnToChars(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "toChars()")
	if err != nil || !ok {
		return nil, err
	}
	out := make(Collection, 0, len(s))
	for _, r := range s {
		out = append(out, String(string(r)))
	}
	return out, nil
}

func fnSplit(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "split()")
	if err != nil || !ok {
		return nil, err
	}
	sep, ok, err := stringArg(e, args[0], "split()")
	if err != nil || !ok {
		return nil, err
	}
	parts := strings.Split(s, sep)
	out := make(Collection, len(parts))
	for i, p := range parts {
		out[i] = String(p)
	}
	return out, nil
}

func fnJoin(e *env, in Collection, args []node) (Collection, error) {
	sep := ""
	if len(args) == 1 {
		s, ok, err := stringArg(e, args[0], "join()")
		if err != nil {
			return nil, err
		}
		if ok {
			sep = s
		}
	}
	parts := make([]string, 0, len(in))
	for _, v := range in {
		s, ok := stringOf(v)
		if !ok {
			return nil, evalErrorf("join() needs strings, not %s", v.TypeName())
		}
		parts = append(parts, s)
	}
	if n := len(sep) * len(parts); n > maxString {
		return nil, limitError("a string of more than %d bytes", maxString)
	}
	r := strings.Join(parts, sep)
	if len(r) > maxString {
		return nil, limitError("a string of more than %d bytes", maxString)
	}
	return Collection{String(r)}, nil
}

func fnEncode(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "encode()")
	if err != nil || !ok {
		return nil, err
	}
	f, ok, err := stringArg(e, args[0], "encode()")
	if err != nil || !ok {
		return nil, err
	}
	switch f {
	case "base64":
		return Collection{String(base64.StdEncoding.EncodeToString([]byte(s)))}, nil
	case "urlbase64":
		return Collection{String(base64.URLEncoding.EncodeToString([]byte(s)))}, nil
	case "hex":
		return Collection{String(hex.EncodeToString([]byte(s)))}, nil
	}
	return nil, evalErrorf("encode(): unknown format %s", f)
}

func fnDecode(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "decode()")
	if err != nil || !ok {
		return nil, err
	}
	f, ok, err := stringArg(e, args[0], "decode()")
	if err != nil || !ok {
		return nil, err
	}
	var b []byte
	switch f {
	case "base64":
		b, err = base64.StdEncoding.DecodeString(s)
	case "urlbase64":
		b, err = base64.URLEncoding.DecodeString(s)
	case "hex":
		b, err = hex.DecodeString(s)
	default:
		return nil, evalErrorf("decode(): unknown format %s", f)
	}
	if err != nil {
		return nil, nil
	}
	return Collection{String(b)}, nil
}

func fnEscape(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "escape()")
	if err != nil || !ok {
		return nil, err
	}
	f, ok, err := stringArg(e, args[0], "escape()")
	if err != nil || !ok {
		return nil, err
	}
	switch f {
	case "html":
		return Collection{String(htmlEscaper.Replace(s))}, nil
	case "json":
		b, _ := json.Marshal(s)
		r := string(b[1 : len(b)-1])
		r = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(r)
		return Collection{String(r)}, nil
	}
	return nil, evalErrorf("escape(): unknown format %s", f)
}

func fnUnescape(e *env, in Collection, args []node) (Collection, error) {
	s, ok, err := inputString(in, "unescape()")
	if err != nil || !ok {
		return nil, err
	}
	f, ok, err := stringArg(e, args[0], "unescape()")
	if err != nil || !ok {
		return nil, err
	}
	switch f {
	case "html":
		return Collection{String(html.UnescapeString(s))}, nil
	case "json":
		r, ok := unescapeJSON(s)
		if !ok {
			return nil, nil
		}
		return Collection{String(r)}, nil
	}
	return nil, evalErrorf("unescape(): unknown format %s", f)
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

// unescapeJSON replaces the escape sequences of a JSON string body.
func unescapeJSON(s string) (string, bool) {
	if !strings.Contains(s, `\`) {
		return s, true
	}
	r, _, err := unquote(`'`+strings.ReplaceAll(s, `'`, `\'`)+`'`, '\'')
	return r, err == nil
}
