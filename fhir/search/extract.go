// Package search turns resources into search index entries and query
// strings into typed criteria, for every R4 SearchParameter
// (https://hl7.org/fhir/R4/search.html).
//
// Index values are extracted by evaluating each parameter's FHIRPath
// expression (fhir/fhirpath) and converting the results by FHIR type:
// Coding, CodeableConcept, Identifier, ContactPoint and code-like primitives
// become tokens; strings, HumanName and Address parts become normalised
// strings; Reference becomes the local "Type/id" or the absolute URL; date,
// dateTime, instant, Period and Timing become [low, high) ranges at the
// value's precision; quantities keep their system, code and value range.
//
// The package never touches storage: backends index Entries and compile
// Criteria into their own queries.
package search

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/fhirpath"
)

// Kind is a search parameter type.
type Kind uint8

const (
	Token Kind = iota + 1
	String
	Reference
	Date
	Number
	Quantity
	URI
)

// KindOf maps a SearchParameter.type to a Kind (0 for composite and
// special, which have no index of their own).
func KindOf(t string) Kind {
	switch t {
	case "token":
		return Token
	case "string":
		return String
	case "reference":
		return Reference
	case "date":
		return Date
	case "number":
		return Number
	case "quantity":
		return Quantity
	case "uri":
		return URI
	}
	return 0
}

// Entry is one index value of a resource for one parameter.
type Entry struct {
	Param string
	Kind  Kind
	// Token: System and Code (Code also holds an Identifier's value).
	// Quantity: System and Code are the unit's.
	System, Code string
	// String: the normalised text; Reference: "Type/id" or an absolute
	// URL; URI: the URI; Token: the display text, for :text.
	Value string
	// Date: [Low, High) in Unix milliseconds. Number and Quantity: the
	// implicit range of the value at its precision, [LowNum, HighNum].
	Low, High       int64
	LowNum, HighNum float64
}

// compiled caches each parameter's compiled expression.
var compiled sync.Map // expression -> *fhirpath.Expr (nil when it does not compile)

func expr(s string) *fhirpath.Expr {
	if v, ok := compiled.Load(s); ok {
		e, _ := v.(*fhirpath.Expr)
		return e
	}
	e, err := fhirpath.Compile(s)
	if err != nil {
		compiled.Store(s, (*fhirpath.Expr)(nil))
		return nil
	}
	compiled.Store(s, e)
	return e
}

var evalOptions = fhirpath.Options{
	LenientAs: true, // R4 search expressions use "as" to filter (see fhirpath.Options)
	Resolve:   fhirpath.ReferenceTypeResolver,
}

// Extract returns the index entries of res for every search parameter
// that applies to its type (composite and special parameters excepted).
// Expressions that fail on this resource are skipped: an index must never
// stop a valid write.
func Extract(res *fhir.Node) []Entry {
	var out []Entry
	for _, p := range fhir.SearchParamsFor(res.Type) {
		k := KindOf(p.Type)
		if k == 0 || p.Expression == "" {
			continue
		}
		out = appendParam(out, res, p.Name, k, p.Expression)
	}
	return out
}

// ExtractParam returns the entries of one parameter.
func ExtractParam(res *fhir.Node, p *fhir.SearchParam) []Entry {
	k := KindOf(p.Type)
	if k == 0 || p.Expression == "" {
		return nil
	}
	return appendParam(nil, res, p.Name, k, p.Expression)
}

func appendParam(out []Entry, res *fhir.Node, name string, k Kind, expression string) []Entry {
	e := expr(expression)
	if e == nil {
		return out
	}
	opts := evalOptions
	vals, err := e.Evaluate(res, &opts)
	if err != nil {
		return out
	}
	for _, v := range vals {
		out = appendValue(out, name, k, v)
	}
	return out
}

func appendValue(out []Entry, name string, k Kind, v fhirpath.Value) []Entry {
	el, ok := v.(fhirpath.Element)
	if !ok {
		// A System value (from a function such as iif or as()).
		if s, ok := v.(fhirpath.String); ok {
			switch k {
			case Token:
				return append(out, Entry{Param: name, Kind: Token, Code: string(s)})
			case String:
				return append(out, Entry{Param: name, Kind: String, Value: Normalize(string(s))})
			case URI, Reference:
				return append(out, Entry{Param: name, Kind: k, Value: string(s)})
			}
		}
		return out
	}
	n := el.Node
	switch k {
	case Token:
		return appendToken(out, name, n)
	case String:
		return appendString(out, name, n)
	case Reference:
		return appendReference(out, name, n)
	case URI:
		if n.Kind == fhir.StringValue {
			return append(out, Entry{Param: name, Kind: URI, Value: n.Value})
		}
	case Date:
		return appendDate(out, name, n)
	case Number:
		if n.Kind == fhir.NumberValue {
			lo, hi, ok := NumberRange(n.Value)
			if ok {
				return append(out, Entry{Param: name, Kind: Number, LowNum: lo, HighNum: hi})
			}
		}
	case Quantity:
		return appendQuantity(out, name, n)
	}
	return out
}

func appendToken(out []Entry, name string, n *fhir.Node) []Entry {
	switch n.Type {
	case "Coding":
		return append(out, Entry{Param: name, Kind: Token, System: n.String("system"), Code: n.String("code"), Value: Normalize(n.String("display"))})
	case "CodeableConcept":
		text := Normalize(n.String("text"))
		for _, c := range n.Get("coding") {
			out = append(out, Entry{Param: name, Kind: Token, System: c.String("system"), Code: c.String("code"), Value: text})
		}
		if len(n.Get("coding")) == 0 && text != "" {
			out = append(out, Entry{Param: name, Kind: Token, Value: text})
		}
		return out
	case "Identifier":
		text := ""
		if t := n.First("type"); t != nil {
			text = Normalize(t.String("text"))
		}
		return append(out, Entry{Param: name, Kind: Token, System: n.String("system"), Code: n.String("value"), Value: text})
	case "ContactPoint":
		return append(out, Entry{Param: name, Kind: Token, System: n.String("system"), Code: n.String("value")})
	case "boolean", "code", "string", "id", "uri", "url", "canonical", "oid", "uuid":
		if n.Kind != fhir.NoValue {
			return append(out, Entry{Param: name, Kind: Token, Code: n.Value})
		}
	}
	return out
}

func appendString(out []Entry, name string, n *fhir.Node) []Entry {
	switch n.Type {
	case "HumanName":
		for _, part := range []string{"text", "family", "given", "prefix", "suffix"} {
			for _, c := range n.Get(part) {
				if c.Kind != fhir.NoValue {
					out = append(out, Entry{Param: name, Kind: String, Value: Normalize(c.Value)})
				}
			}
		}
		return out
	case "Address":
		for _, part := range []string{"text", "line", "city", "district", "state", "postalCode", "country"} {
			for _, c := range n.Get(part) {
				if c.Kind != fhir.NoValue {
					out = append(out, Entry{Param: name, Kind: String, Value: Normalize(c.Value)})
				}
			}
		}
		return out
	}
	if n.Kind == fhir.StringValue {
		return append(out, Entry{Param: name, Kind: String, Value: Normalize(n.Value)})
	}
	return out
}

func appendReference(out []Entry, name string, n *fhir.Node) []Entry {
	switch n.Type {
	case "Reference":
		ref := n.String("reference")
		if ref == "" || strings.HasPrefix(ref, "#") {
			return out
		}
		if r, ok := fhir.ParseRef(ref); ok {
			r.Version = ""
			return append(out, Entry{Param: name, Kind: Reference, Value: r.String()})
		}
		return append(out, Entry{Param: name, Kind: Reference, Value: ref})
	case "canonical", "uri", "url":
		if n.Kind == fhir.StringValue {
			return append(out, Entry{Param: name, Kind: Reference, Value: n.Value})
		}
	}
	if n.IsResource() && n.ID() != "" {
		return append(out, Entry{Param: name, Kind: Reference, Value: n.Type + "/" + n.ID()})
	}
	return out
}

func appendDate(out []Entry, name string, n *fhir.Node) []Entry {
	switch n.Type {
	case "date", "dateTime", "instant":
		if lo, hi, ok := DateRange(n.Value); ok {
			return append(out, Entry{Param: name, Kind: Date, Low: lo, High: hi})
		}
	case "Period":
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if s := n.String("start"); s != "" {
			if l, _, ok := DateRange(s); ok {
				lo = l
			}
		}
		if e := n.String("end"); e != "" {
			if _, h, ok := DateRange(e); ok {
				hi = h
			}
		}
		if lo != math.MinInt64 || hi != math.MaxInt64 {
			return append(out, Entry{Param: name, Kind: Date, Low: lo, High: hi})
		}
	case "Timing":
		for _, ev := range n.Get("event") {
			if lo, hi, ok := DateRange(ev.Value); ok {
				out = append(out, Entry{Param: name, Kind: Date, Low: lo, High: hi})
			}
		}
		if rep := n.First("repeat"); rep != nil {
			if b := rep.First("boundsPeriod"); b != nil {
				out = appendDate(out, name, b)
			}
		}
	}
	return out
}

func appendQuantity(out []Entry, name string, n *fhir.Node) []Entry {
	switch n.Type {
	case "Quantity", "Age", "Duration", "Distance", "Count", "Money", "SimpleQuantity", "MoneyQuantity":
		v := n.First("value")
		if v == nil || v.Kind != fhir.NumberValue {
			return out
		}
		lo, hi, ok := NumberRange(v.Value)
		if !ok {
			return out
		}
		code := n.String("code")
		if n.Type == "Money" {
			code = n.String("currency")
		}
		e := Entry{Param: name, Kind: Quantity, System: n.String("system"), Code: code, Value: n.String("unit"), LowNum: lo, HighNum: hi}
		return append(out, e)
	case "Range":
		// A range indexes as its bounds' span.
		low, high := n.First("low"), n.First("high")
		e := Entry{Param: name, Kind: Quantity, LowNum: math.Inf(-1), HighNum: math.Inf(1)}
		if low != nil {
			if v := low.First("value"); v != nil {
				if l, _, ok := NumberRange(v.Value); ok {
					e.LowNum = l
				}
			}
			e.System, e.Code = low.String("system"), low.String("code")
		}
		if high != nil {
			if v := high.First("value"); v != nil {
				if _, h, ok := NumberRange(v.Value); ok {
					e.HighNum = h
				}
			}
			if e.Code == "" {
				e.System, e.Code = high.String("system"), high.String("code")
			}
		}
		return append(out, e)
	}
	return out
}

// Normalize folds a string for the default string search: accents
// removed, case folded, whitespace collapsed (R4 search.html#string: "case-
// and accent-insensitive").
func Normalize(s string) string {
	if s == "" {
		return ""
	}
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(t, s)
	if err != nil {
		folded = s
	}
	return strings.Join(strings.Fields(strings.ToLower(folded)), " ")
}

// DateRange returns the [low, high) range in Unix milliseconds that a FHIR
// date, dateTime or instant covers at its precision (a year covers the
// whole year). Values without a time zone are read as UTC.
func DateRange(s string) (lo, hi int64, ok bool) {
	var t time.Time
	var next func(time.Time) time.Time
	var err error
	switch {
	case len(s) == 4:
		t, err = time.Parse("2006", s)
		next = func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }
	case len(s) == 7:
		t, err = time.Parse("2006-01", s)
		next = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	case len(s) == 10:
		t, err = time.Parse("2006-01-02", s)
		next = func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	default:
		t, err = time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t, err = time.Parse("2006-01-02T15:04:05", s)
		}
		// Precision is that of the seconds field, or of the fraction.
		prec := time.Second
		if i := strings.IndexByte(s, '.'); i >= 0 {
			digits := 0
			for j := i + 1; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
				digits++
			}
			prec = time.Second
			for d := 0; d < digits && prec > time.Millisecond; d++ {
				prec /= 10
			}
		}
		next = func(t time.Time) time.Time { return t.Add(prec) }
	}
	if err != nil {
		return 0, 0, false
	}
	return t.UnixMilli(), next(t).UnixMilli(), true
}

// NumberRange returns the implicit range of a decimal literal at its
// precision (R4 search.html#number: 100 means [99.5, 100.5)).
func NumberRange(lit string) (lo, hi float64, ok bool) {
	v, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return 0, 0, false
	}
	mant, exp := lit, 0
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		mant = lit[:i]
		exp, _ = strconv.Atoi(lit[i+1:])
	}
	decimals := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		decimals = len(mant) - i - 1
	}
	half := 0.5 * math.Pow(10, float64(exp-decimals))
	return v - half, v + half, true
}
