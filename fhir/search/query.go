package search

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// Criterion is one parsed query parameter: all of its values are ORed, and
// the criteria of a query are ANDed.
type Criterion struct {
	Param    string // parameter code, e.g. "code"; "_id" for the logical id
	Kind     Kind   // 0 for _id
	Modifier string // "", "not", "text", "exact", "contains", "missing", "below", "above", or a type for references
	Values   []Value
}

// Value is one alternative of a criterion.
type Value struct {
	Prefix string // eq, ne, gt, lt, ge, le, sa, eb, ap (date, number, quantity)

	// Token: System|Code. AnySystem: "code" without a bar; NoSystem:
	// "|code".
	System, Code string
	AnySystem    bool
	NoSystem     bool

	// String (normalised unless :exact), URI, Reference ("Type/id", or an
	// id alone when Type is empty), _id.
	Text string
	Type string // reference target type, from Type/id or the :Type modifier

	// Date: the search value's [Low, High) range in Unix milliseconds.
	Low, High int64
	// Number and Quantity: the search value and its implicit range.
	Num, LowNum, HighNum float64

	// Missing is the :missing value.
	Missing bool
}

// ErrUnknownParam reports a parameter that does not exist for the type.
var ErrUnknownParam = errors.New("unknown search parameter")

// ErrUnsupported reports a parameter, modifier or form that fhirseal does
// not evaluate (yet): callers list it rather than ignore it silently.
var ErrUnsupported = errors.New("unsupported search parameter form")

// Param finds the definition of a parameter for a resource type.
func Param(typ, name string) *fhir.SearchParam {
	for _, p := range fhir.SearchParamsFor(typ) {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Parse turns one query parameter (name with optional ":modifier", and its
// comma-separated value) into a Criterion for resources of type typ.
func Parse(typ, name, raw string) (*Criterion, error) {
	base, mod, _ := strings.Cut(name, ":")
	if strings.Contains(base, ".") {
		return nil, fmt.Errorf("%w: chained parameters (%s)", ErrUnsupported, name)
	}
	if base == "_id" {
		if mod != "" && mod != "not" && mod != "missing" {
			return nil, fmt.Errorf("%w: _id:%s", ErrUnsupported, mod)
		}
		c := &Criterion{Param: "_id", Modifier: mod}
		for _, v := range splitValues(raw) {
			c.Values = append(c.Values, Value{Text: v})
		}
		return c, nil
	}
	p := Param(typ, base)
	if p == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownParam, base)
	}
	k := KindOf(p.Type)
	if k == 0 {
		return nil, fmt.Errorf("%w: %s parameters (%s)", ErrUnsupported, p.Type, base)
	}
	c := &Criterion{Param: base, Kind: k, Modifier: mod}
	if err := checkModifier(k, mod, p); err != nil {
		return nil, err
	}
	for _, s := range splitValues(raw) {
		v, err := parseValue(k, mod, s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		c.Values = append(c.Values, v)
	}
	if len(c.Values) == 0 {
		return nil, fmt.Errorf("%s: no value", name)
	}
	return c, nil
}

func checkModifier(k Kind, mod string, p *fhir.SearchParam) error {
	if mod == "" || mod == "missing" {
		return nil
	}
	ok := false
	switch k {
	case Token:
		ok = mod == "not" || mod == "text"
	case String:
		ok = mod == "exact" || mod == "contains"
	case URI:
		ok = mod == "below" || mod == "above"
	case Reference:
		ok = fhir.IsResourceType(mod)
		if ok && len(p.Targets) > 0 {
			ok = false
			for _, t := range p.Targets {
				if t == mod || t == "Resource" {
					ok = true
				}
			}
		}
	}
	if !ok {
		return fmt.Errorf("%w: modifier :%s on %s", ErrUnsupported, mod, p.Name)
	}
	return nil
}

// splitValues splits on commas not escaped with a backslash and unescapes
// \, \| and \$.
func splitValues(raw string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			cur.WriteByte('\\')
			cur.WriteByte(raw[i+1])
			i++
			continue
		}
		if c == ',' {
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(out, cur.String())
}

// splitBar splits at the first unescaped "|", then unescapes both parts.
func splitBar(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '|' {
			return unescape(s[:i]), unescape(s[i+1:]), true
		}
	}
	return unescape(s), "", false
}

func unescape(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var prefixes = []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}

func cutPrefix(s string) (string, string) {
	if len(s) > 2 {
		for _, p := range prefixes {
			if strings.HasPrefix(s, p) && (s[2] == '-' || s[2] == '+' || s[2] == '.' || (s[2] >= '0' && s[2] <= '9')) {
				return p, s[2:]
			}
		}
	}
	return "eq", s
}

func parseValue(k Kind, mod, s string) (Value, error) {
	if mod == "missing" {
		switch s {
		case "true":
			return Value{Missing: true}, nil
		case "false":
			return Value{Missing: false}, nil
		}
		return Value{}, errors.New(":missing takes true or false")
	}
	switch k {
	case Token:
		if mod == "text" {
			return Value{Text: Normalize(unescape(s))}, nil
		}
		sys, code, bar := splitBar(s)
		switch {
		case !bar:
			return Value{Code: sys, AnySystem: true}, nil
		case sys == "":
			return Value{Code: code, NoSystem: true}, nil
		}
		return Value{System: sys, Code: code}, nil
	case String:
		if mod == "exact" {
			return Value{Text: unescape(s)}, nil
		}
		return Value{Text: Normalize(unescape(s))}, nil
	case URI:
		return Value{Text: unescape(s)}, nil
	case Reference:
		s = unescape(s)
		if r, ok := fhir.ParseRef(s); ok {
			return Value{Type: r.Type, Text: r.ID}, nil
		}
		if strings.Contains(s, "/") || strings.Contains(s, ":") {
			return Value{Text: s}, nil // absolute URL or canonical
		}
		return Value{Type: mod, Text: s}, nil
	case Date:
		prefix, rest := cutPrefix(s)
		lo, hi, ok := DateRange(rest)
		if !ok {
			return Value{}, fmt.Errorf("%q is not a FHIR date", rest)
		}
		return Value{Prefix: prefix, Low: lo, High: hi}, nil
	case Number:
		prefix, rest := cutPrefix(s)
		lo, hi, ok := NumberRange(rest)
		if !ok {
			return Value{}, fmt.Errorf("%q is not a number", rest)
		}
		return Value{Prefix: prefix, Num: (lo + hi) / 2, LowNum: lo, HighNum: hi}, nil
	case Quantity:
		prefix, rest := cutPrefix(s)
		num, unit, _ := strings.Cut(rest, "|")
		lo, hi, ok := NumberRange(num)
		if !ok {
			return Value{}, fmt.Errorf("%q is not a number", num)
		}
		v := Value{Prefix: prefix, Num: (lo + hi) / 2, LowNum: lo, HighNum: hi, AnySystem: true}
		if unit != "" {
			sys, code, bar := splitBar(unit)
			if bar {
				v.System, v.Code, v.AnySystem = sys, code, sys == ""
			} else {
				v.Code = sys
			}
		}
		return v, nil
	}
	return Value{}, ErrUnsupported
}

// Inf is the open end of a date range.
var (
	MinDate = int64(math.MinInt64)
	MaxDate = int64(math.MaxInt64)
)
