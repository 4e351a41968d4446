package search

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// Criterion is one parsed query parameter: all of its values are ORed, and
// the criteria of a query are ANDed.
type Criterion struct {
	Type     string // the resource type the criterion was parsed for
	Param    string // parameter code, e.g. "code"; "_id" for the logical id; "_has"; "_compartment"
	Kind     Kind   // 0 for _id and _compartment
	Modifier string // "", "not", "text", "exact", "contains", "missing", "below", "above", or a type for references
	Values   []Value

	// Chain, for a chained parameter (subject:Patient.name=x), holds the
	// criterion on the referenced resources, one per possible target type;
	// it has no Values of its own. For reverse chaining
	// (_has:Observation:patient:code=x) it holds the one criterion on the
	// referring type, and HasParam names the referring type's reference
	// parameter.
	Chain    []*Criterion
	HasParam string
}

// Compartment returns the criterion "in the compartment of code/id" (R4
// compartmentdefinition.html): resources that refer to code/id through one
// of the parameters the compartment definition lists for their type, and
// for code's own type the resource code/id itself. Backends compile it like
// any criterion, so it can also carry an access decision (a patient
// compartment) into a query.
func Compartment(code, id string) *Criterion {
	return &Criterion{Param: "_compartment", Values: []Value{{Type: code, Text: id}}}
}

// CompartmentParams returns the parameters of typ that place a resource in
// a compartment of the given code (nil when typ is not in it).
func CompartmentParams(code, typ string) []string {
	for _, c := range fhir.Compartments() {
		if c.Code != code {
			continue
		}
		for _, r := range c.Resources {
			if r.Type == typ {
				return r.Params
			}
		}
	}
	return nil
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

	// Parts are a composite value's components (code$value), ANDed.
	Parts []*Criterion
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
//
// Chained names (subject:Patient.name, general-practitioner.organization.name)
// and reverse chains (_has:Observation:patient:code, nested) parse into a
// Criterion whose Chain holds the criteria on the other resources.
func Parse(typ, name, raw string) (*Criterion, error) {
	return parse(typ, name, raw, 0)
}

// maxChain bounds chain and _has depth: each level is a subquery.
const maxChain = 4

func parse(typ, name, raw string, depth int) (*Criterion, error) {
	if strings.HasPrefix(name, "_has:") {
		return parseHas(typ, name, raw, depth)
	}
	if head, rest, ok := strings.Cut(name, "."); ok {
		return parseChain(typ, head, rest, raw, depth)
	}
	c, err := parseOne(typ, name, raw)
	if err != nil {
		return nil, err
	}
	c.Type = typ
	return c, nil
}

// parseChain parses head.rest: head is a reference parameter of typ (with
// an optional :Type modifier), rest is parsed on each target type that has
// it (R4 search.html#chaining).
func parseChain(typ, head, rest, raw string, depth int) (*Criterion, error) {
	if depth >= maxChain {
		return nil, fmt.Errorf("%w: chains deeper than %d levels", ErrUnsupported, maxChain)
	}
	base, mod, _ := strings.Cut(head, ":")
	p := Param(typ, base)
	if p == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownParam, base)
	}
	if KindOf(p.Type) != Reference {
		return nil, fmt.Errorf("%w: %s is not a reference parameter and cannot be chained", ErrUnknownParam, base)
	}
	var targets []string
	switch {
	case mod != "":
		if err := checkModifier(Reference, mod, p); err != nil {
			return nil, err
		}
		targets = []string{mod}
	case len(p.Targets) == 0 || slices.Contains(p.Targets, "Resource"):
		targets = fhir.ResourceTypes()
	default:
		targets = p.Targets
	}
	c := &Criterion{Type: typ, Param: base, Kind: Reference, Modifier: mod}
	for _, t := range targets {
		inner, err := parse(t, rest, raw, depth+1)
		if errors.Is(err, ErrUnknownParam) && len(targets) > 1 {
			continue // this target type does not have the chained parameter
		}
		if err != nil {
			return nil, err
		}
		c.Chain = append(c.Chain, inner)
	}
	if len(c.Chain) == 0 {
		return nil, fmt.Errorf("%w: no target of %s has %s", ErrUnknownParam, base, rest)
	}
	return c, nil
}

// parseHas parses _has:Type:param:rest: resources of typ that resources of
// Type refer to through param, where those match rest (R4
// search.html#has).
func parseHas(typ, name, raw string, depth int) (*Criterion, error) {
	if depth >= maxChain {
		return nil, fmt.Errorf("%w: _has nested deeper than %d levels", ErrUnsupported, maxChain)
	}
	if typ == "" || typ == "Resource" {
		return nil, fmt.Errorf("%w: _has needs a resource type to search", ErrUnsupported)
	}
	parts := strings.SplitN(name, ":", 4)
	if len(parts) != 4 || parts[3] == "" {
		return nil, fmt.Errorf("%w: _has takes _has:Type:parameter:parameter (%s)", ErrUnknownParam, name)
	}
	src, ref, rest := parts[1], parts[2], parts[3]
	if !fhir.IsResourceType(src) {
		return nil, fmt.Errorf("%w: %s is not a resource type", ErrUnknownParam, src)
	}
	p := Param(src, ref)
	if p == nil || KindOf(p.Type) != Reference {
		return nil, fmt.Errorf("%w: %s is not a reference parameter of %s", ErrUnknownParam, ref, src)
	}
	if len(p.Targets) > 0 && !slices.Contains(p.Targets, typ) && !slices.Contains(p.Targets, "Resource") {
		return nil, fmt.Errorf("%w: %s.%s never refers to %s", ErrUnknownParam, src, ref, typ)
	}
	inner, err := parse(src, rest, raw, depth+1)
	if err != nil {
		return nil, err
	}
	return &Criterion{Type: typ, Param: "_has", Kind: Reference, HasParam: ref, Chain: []*Criterion{inner}}, nil
}

func parseOne(typ, name, raw string) (*Criterion, error) {
	base, mod, _ := strings.Cut(name, ":")
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
	if p.Type == "composite" {
		return parseComposite(typ, p, mod, raw)
	}
	k := KindOf(p.Type)
	if k == 0 {
		return nil, fmt.Errorf("%w: %s parameters (%s)", ErrUnsupported, p.Type, base)
	}
	if p.Expression == "" {
		// Nothing is indexed for it (_text, _content, _query and a few
		// extension-based ones): matching nothing would be a wrong answer.
		return nil, fmt.Errorf("%w: %s is not indexed", ErrUnsupported, base)
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

// parseComposite parses a composite parameter's value a$b (R4
// search.html#composite). Only composites whose components all lie on the
// resource itself (Observation code-value-quantity and its siblings) are
// evaluated: their components then match together exactly when each
// matches, so a value becomes the AND of its component criteria. For
// composites over repeating elements (component-code-value-quantity) the
// index does not yet keep components of one element together, so they are
// reported as unsupported rather than answered loosely.
func parseComposite(typ string, p *fhir.SearchParam, mod, raw string) (*Criterion, error) {
	if p.Expression != typ || mod != "" {
		return nil, fmt.Errorf("%w: composite %s", ErrUnsupported, p.Name)
	}
	var comps []*fhir.SearchParam
	for _, sc := range p.Components {
		cp := fhir.SearchParamByURL(sc.Definition)
		if cp == nil || Param(typ, cp.Name) != cp {
			return nil, fmt.Errorf("%w: composite %s", ErrUnsupported, p.Name)
		}
		comps = append(comps, cp)
	}
	c := &Criterion{Type: typ, Param: p.Name}
	for _, v := range splitValues(raw) {
		parts := splitDollar(v)
		if len(parts) != len(comps) {
			return nil, fmt.Errorf("%s: %q needs %d components separated by $", p.Name, v, len(comps))
		}
		var val Value
		for i, cp := range comps {
			// splitValues kept escapes, so the component has no bare comma.
			pc, err := parseOne(typ, cp.Name, parts[i])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name, err)
			}
			pc.Type = typ
			val.Parts = append(val.Parts, pc)
		}
		c.Values = append(c.Values, val)
	}
	return c, nil
}

// splitDollar splits a composite value at unescaped "$".
func splitDollar(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '$':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
