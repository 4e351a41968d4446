package auth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Context is the launch context a SMART scope is bound to: the part before
// the slash in "patient/Observation.rs".
type Context uint8

// Scope contexts. ContextNone marks scopes that carry no data access, such as
// "openid" or "launch/patient".
const (
	ContextNone Context = iota
	ContextPatient
	ContextUser
	ContextSystem
)

func (c Context) String() string {
	switch c {
	case ContextPatient:
		return "patient"
	case ContextUser:
		return "user"
	case ContextSystem:
		return "system"
	}
	return "none"
}

// Perm is a set of SMART v2 permission letters (c, r, u, d, s).
type Perm uint8

// The SMART v2 permissions, in their required order.
const (
	PermCreate Perm = 1 << iota
	PermRead
	PermUpdate
	PermDelete
	PermSearch

	// PermAll is "cruds": what v1 "*" means.
	PermAll = PermCreate | PermRead | PermUpdate | PermDelete | PermSearch
)

// permLetters lists the v2 letters in the only order SMART allows.
var permLetters = [...]struct {
	letter byte
	perm   Perm
}{{'c', PermCreate}, {'r', PermRead}, {'u', PermUpdate}, {'d', PermDelete}, {'s', PermSearch}}

// String returns the v2 letters of p in canonical order, e.g. "rs".
func (p Perm) String() string {
	var b strings.Builder
	for _, l := range permLetters {
		if p&l.perm != 0 {
			b.WriteByte(l.letter)
		}
	}
	return b.String()
}

// Has reports whether p includes every permission in q.
func (p Perm) Has(q Perm) bool { return q != 0 && p&q == q }

// Scope is one parsed SMART scope.
//
// Resource scopes (Context != ContextNone) grant Perm on resources of Type
// ("*" for every type) in their context, restricted by Constraints when the
// scope is granular. Scopes of ContextNone (openid, fhirUser, launch,
// launch/patient, offline_access, ...) are valid but grant no data access.
type Scope struct {
	Raw         string
	Context     Context
	Type        string // resource type or "*"
	Perm        Perm
	V1          bool         // written in SMART v1 syntax (.read, .write, .*)
	Constraints []Constraint // granular restrictions, all of which must hold
}

// Constraint restricts a granular scope to resources whose search parameter
// Param matches at least one of Values (FHIR search semantics: a comma in the
// query means OR, repeated parameters mean AND).
type Constraint struct {
	Param  string
	Values []string
}

// ErrScope is wrapped by every scope parsing error.
var ErrScope = errors.New("invalid scope")

// ScopeError reports a scope that grants nothing because it is not
// understood. Scope is the offending text, Reason why it was refused.
type ScopeError struct {
	Scope  string
	Reason string
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("invalid scope %q: %s", e.Scope, e.Reason)
}

func (e *ScopeError) Unwrap() error { return ErrScope }

// maxScopeLen bounds one scope string; longer ones are refused.
const maxScopeLen = 1024

// nonResourceScopes are the SMART App Launch scopes that carry no data
// access. Anything under "launch/" is a launch context request.
var nonResourceScopes = map[string]bool{
	"openid":         true,
	"profile":        true,
	"fhirUser":       true,
	"launch":         true,
	"offline_access": true,
	"online_access":  true,
}

// allowedSpecialParams are the search parameters starting with "_" that a
// granular scope may use; the others (_has, _filter, _text, _content, _list,
// _query, ...) have semantics that could widen or obscure the restriction.
var allowedSpecialParams = map[string]bool{
	"_id": true, "_tag": true, "_security": true, "_profile": true,
}

// ParseScope parses one SMART v1 or v2 scope, strictly. Unknown permission
// letters, v2 letters out of c-r-u-d-s order or repeated, an empty or
// malformed resource type, an unknown context, search modifiers, chained
// parameters or a query on a v1 or wildcard scope all make the scope invalid:
// it then grants nothing and the error says why.
//
// See https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html.
func ParseScope(s string) (Scope, error) {
	bad := func(reason string) (Scope, error) {
		return Scope{}, &ScopeError{Scope: s, Reason: reason}
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > maxScopeLen {
		return bad("too long")
	}
	if nonResourceScopes[s] {
		return Scope{Raw: s}, nil
	}
	if rest, ok := strings.CutPrefix(s, "launch/"); ok {
		if rest == "" || !isName(rest) {
			return bad("malformed launch context")
		}
		return Scope{Raw: s}, nil
	}
	ctxText, rest, ok := strings.Cut(s, "/")
	if !ok {
		return bad("not a known scope")
	}
	sc := Scope{Raw: s}
	switch ctxText {
	case "patient":
		sc.Context = ContextPatient
	case "user":
		sc.Context = ContextUser
	case "system":
		sc.Context = ContextSystem
	default:
		return bad("unknown context " + strconvQuote(ctxText))
	}
	typ, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return bad("missing permissions")
	}
	if typ == "" {
		return bad("empty resource type")
	}
	if typ != "*" && !isResourceType(typ) {
		return bad("malformed resource type")
	}
	sc.Type = typ
	permText, query, hasQuery := strings.Cut(rest, "?")
	switch permText {
	case "read":
		sc.Perm, sc.V1 = PermRead|PermSearch, true
	case "write":
		sc.Perm, sc.V1 = PermCreate|PermUpdate|PermDelete, true
	case "*":
		sc.Perm, sc.V1 = PermAll, true
	case "":
		return bad("empty permissions")
	default:
		p, err := parsePermLetters(permText)
		if err != "" {
			return bad(err)
		}
		sc.Perm = p
	}
	if hasQuery {
		if sc.V1 {
			return bad("granular query on a v1 scope")
		}
		if typ == "*" {
			return bad("granular query on a wildcard resource type")
		}
		cs, err := parseConstraints(query)
		if err != "" {
			return bad(err)
		}
		sc.Constraints = cs
	}
	return sc, nil
}

func parsePermLetters(t string) (Perm, string) {
	var p Perm
	next := 0 // index into permLetters of the next allowed letter
	for i := 0; i < len(t); i++ {
		found := false
		for j := next; j < len(permLetters); j++ {
			if permLetters[j].letter == t[i] {
				p |= permLetters[j].perm
				next = j + 1
				found = true
				break
			}
		}
		if !found {
			if strings.IndexByte("cruds", t[i]) >= 0 {
				return 0, "permission letters out of c-r-u-d-s order or repeated"
			}
			return 0, "unknown permission " + strconvQuote(t[i:i+1])
		}
	}
	return p, ""
}

func parseConstraints(q string) ([]Constraint, string) {
	if q == "" {
		return nil, "empty query"
	}
	var cs []Constraint
	for part := range strings.SplitSeq(q, "&") {
		name, value, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return nil, "malformed query parameter"
		}
		if !isParamName(name) {
			return nil, "unsupported search parameter " + strconvQuote(name)
		}
		if value == "" {
			return nil, "empty value for " + name
		}
		if strings.ContainsAny(value, `\`) {
			return nil, "escaped value for " + name
		}
		var vals []string
		for v := range strings.SplitSeq(value, ",") {
			dv, err := url.PathUnescape(v)
			if err != nil || dv == "" || strings.ContainsAny(dv, " \t\r\n") {
				return nil, "malformed value for " + name
			}
			vals = append(vals, dv)
		}
		cs = append(cs, Constraint{Param: name, Values: vals})
	}
	return cs, ""
}

// isParamName accepts plain search parameter names: no modifiers (":not"),
// no chains ("subject.name"), and only a few of the "_" parameters.
func isParamName(s string) bool {
	if s[0] == '_' {
		return allowedSpecialParams[s]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return s[0] != '-'
}

// isResourceType accepts FHIR resource type names syntactically: an upper
// case letter followed by letters, at most 64 characters. Whether the type
// exists in R4 is checked by the caller that knows the spec tables.
func isResourceType(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

// ParseScopes splits a space separated scope claim and parses each scope.
// Valid scopes (resource and non-resource) are returned in order; invalid
// ones are reported in bad and grant nothing. Duplicates are kept once.
func ParseScopes(claim string) (scopes []Scope, bad []*ScopeError) {
	seen := make(map[string]bool)
	for _, s := range strings.Fields(claim) {
		if seen[s] {
			continue
		}
		seen[s] = true
		sc, err := ParseScope(s)
		if err != nil {
			var se *ScopeError
			if errors.As(err, &se) {
				bad = append(bad, se)
			}
			continue
		}
		scopes = append(scopes, sc)
	}
	return scopes, bad
}

// String returns the canonical v2 spelling of a resource scope, e.g.
// "patient/Observation.rs?category=vital-signs", or Raw for others.
func (s Scope) String() string {
	if s.Context == ContextNone {
		return s.Raw
	}
	var b strings.Builder
	b.WriteString(s.Context.String())
	b.WriteByte('/')
	b.WriteString(s.Type)
	b.WriteByte('.')
	b.WriteString(s.Perm.String())
	for i, c := range s.Constraints {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(c.Param)
		b.WriteByte('=')
		for j, v := range c.Values {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(escapeScopeValue(v))
		}
	}
	return b.String()
}

// escapeScopeValue percent-encodes the bytes that would break a scope value
// apart: space, '%', '&', ',', '?' and controls. '|' and ':' stay readable.
func escapeScopeValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c == '%' || c == '&' || c == ',' || c == '?' || c == '\\' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
