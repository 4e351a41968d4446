package fhirpath

import (
	"math"
	"math/big"
	"strings"
	"sync"

	"github.com/fhirseal/fhirseal/fhir"
)

// inputNumber returns the single numeric (or Quantity) input of a math
// function.
func inputNumber(in Collection, fn string) (Value, error) {
	v, err := singleton(in, fn)
	if err != nil || v == nil {
		return nil, err
	}
	sv, _ := system(v)
	switch sv.(type) {
	case Integer, Decimal, Quantity:
		return sv, nil
	}
	return nil, evalErrorf("%s needs a number, not %s", fn, v.TypeName())
}

func fnAbs(e *env, in Collection, args []node) (Collection, error) {
	v, err := inputNumber(in, "abs()")
	if err != nil || v == nil {
		return nil, err
	}
	switch x := v.(type) {
	case Integer:
		if x < 0 {
			x = -x
		}
		return Collection{x}, nil
	case Decimal:
		if x.Sign() < 0 {
			x = x.Neg()
		}
		return Collection{x}, nil
	case Quantity:
		if x.Value.Sign() < 0 {
			x.Value = x.Value.Neg()
		}
		return Collection{x}, nil
	}
	return nil, nil
}

func intResult(b *big.Int) (Collection, error) {
	i, ok := bigToInteger(b)
	if !ok {
		return nil, nil
	}
	return Collection{i}, nil
}

func decimalInput(in Collection, fn string) (Decimal, bool, error) {
	v, err := inputNumber(in, fn)
	if err != nil || v == nil {
		return Decimal{}, false, err
	}
	d, ok := toDecimal(v)
	if !ok {
		return Decimal{}, false, evalErrorf("%s needs a number, not %s", fn, v.TypeName())
	}
	return d, true, nil
}

func fnCeiling(e *env, in Collection, args []node) (Collection, error) {
	d, ok, err := decimalInput(in, "ceiling()")
	if err != nil || !ok {
		return nil, err
	}
	return intResult(d.ceiling())
}

func fnFloor(e *env, in Collection, args []node) (Collection, error) {
	d, ok, err := decimalInput(in, "floor()")
	if err != nil || !ok {
		return nil, err
	}
	return intResult(d.floor())
}

func fnTruncate(e *env, in Collection, args []node) (Collection, error) {
	d, ok, err := decimalInput(in, "truncate()")
	if err != nil || !ok {
		return nil, err
	}
	return intResult(d.truncate())
}

func fnRound(e *env, in Collection, args []node) (Collection, error) {
	d, ok, err := decimalInput(in, "round()")
	if err != nil || !ok {
		return nil, err
	}
	p := 0
	if len(args) == 1 {
		n, ok, err := intArg(e, args[0], "round()")
		if err != nil {
			return nil, err
		}
		if ok {
			if n < 0 || n > maxScale {
				return nil, evalErrorf("round(): precision %d out of range", n)
			}
			p = n
		}
	}
	return Collection{d.round(int32(p))}, nil
}

func floatResult(f float64) (Collection, error) {
	d, ok := decimalFromFloat(f)
	if !ok {
		return nil, nil
	}
	return Collection{d}, nil
}

func floatFn(name string) fnImpl {
	return func(e *env, in Collection, args []node) (Collection, error) {
		d, ok, err := decimalInput(in, name+"()")
		if err != nil || !ok {
			return nil, err
		}
		f := d.Float64()
		switch name {
		case "exp":
			return floatResult(math.Exp(f))
		case "ln":
			if f <= 0 {
				return nil, nil
			}
			return floatResult(math.Log(f))
		case "sqrt":
			if f < 0 {
				return nil, nil
			}
			return floatResult(math.Sqrt(f))
		}
		return nil, nil
	}
}

func fnLog(e *env, in Collection, args []node) (Collection, error) {
	d, ok, err := decimalInput(in, "log()")
	if err != nil || !ok {
		return nil, err
	}
	b, err := e.argSingle(args[0], "log()")
	if err != nil || b == nil {
		return nil, err
	}
	base, ok := toDecimal(b)
	if !ok {
		return nil, evalErrorf("log() needs a numeric base")
	}
	x, y := d.Float64(), base.Float64()
	if x <= 0 || y <= 0 || y == 1 {
		return nil, nil
	}
	return floatResult(math.Log(x) / math.Log(y))
}

func fnPower(e *env, in Collection, args []node) (Collection, error) {
	v, err := inputNumber(in, "power()")
	if err != nil || v == nil {
		return nil, err
	}
	p, err := e.argSingle(args[0], "power()")
	if err != nil || p == nil {
		return nil, err
	}
	if x, ok := v.(Integer); ok {
		if y, ok := p.(Integer); ok && y >= 0 {
			r := new(big.Int).Exp(big.NewInt(int64(x)), big.NewInt(int64(min(y, 64))), nil)
			if y > 64 && x != 0 && x != 1 && x != -1 {
				return nil, nil
			}
			return intResult(r)
		}
	}
	base, ok1 := toDecimal(v)
	exp, ok2 := toDecimal(p)
	if !ok1 || !ok2 {
		return nil, evalErrorf("power() needs numbers")
	}
	r := math.Pow(base.Float64(), exp.Float64())
	return floatResult(r)
}

// fnPrecision returns the number of digits of precision of a decimal, a
// date, a dateTime or a time.
func fnPrecision(e *env, in Collection, args []node) (Collection, error) {
	v, err := singleton(in, "precision()")
	if err != nil || v == nil {
		return nil, err
	}
	sv, _ := system(v)
	switch x := sv.(type) {
	case Decimal:
		return Collection{Integer(x.scale)}, nil
	case Integer:
		return Collection{Integer(0)}, nil
	case Date:
		return Collection{Integer(dateDigits[x.prec])}, nil
	case DateTime:
		return Collection{Integer(dateDigits[x.prec])}, nil
	case Time:
		return Collection{Integer(timeDigits[x.prec])}, nil
	}
	return nil, evalErrorf("precision() is not defined for %s", v.TypeName())
}

var dateDigits = map[Precision]int{PrecYear: 4, PrecMonth: 6, PrecDay: 8, PrecHour: 10, PrecMinute: 12, PrecSecond: 14, PrecMillisecond: 17}
var timeDigits = map[Precision]int{PrecHour: 2, PrecMinute: 4, PrecSecond: 6, PrecMillisecond: 9}

func precFromDigits(m map[Precision]int, n int) (Precision, bool) {
	for p, d := range m {
		if d == n {
			return p, true
		}
	}
	return 0, false
}

// fnBoundary implements lowBoundary() and highBoundary(): the least and
// greatest values the input may stand for, at the given precision.
func fnBoundary(high bool) fnImpl {
	return func(e *env, in Collection, args []node) (Collection, error) {
		v, err := singleton(in, "a boundary function")
		if err != nil || v == nil {
			return nil, err
		}
		sv, _ := system(v)
		p, hasP := -1, false
		if len(args) == 1 {
			n, ok, err := intArg(e, args[0], "a boundary function")
			if err != nil {
				return nil, err
			}
			p, hasP = n, ok
		}
		switch x := sv.(type) {
		case Integer:
			return decimalBoundary(DecimalFromInt(int64(x)), p, hasP, high)
		case Decimal:
			return decimalBoundary(x, p, hasP, high)
		case Quantity:
			r, err := decimalBoundary(x.Value, p, hasP, high)
			if err != nil || len(r) == 0 {
				return nil, err
			}
			return Collection{Quantity{Value: r[0].(Decimal), Unit: x.Unit}}, nil
		case Date:
			if !hasP {
				p = 8
			}
			prec, ok := precFromDigits(dateDigits, p)
			if !ok || prec > PrecDay {
				return nil, nil
			}
			return Collection{Date{temporalBoundary(x.temporal, prec, high, false)}}, nil
		case DateTime:
			if !hasP {
				p = 17
			}
			prec, ok := precFromDigits(dateDigits, p)
			if !ok {
				return nil, nil
			}
			return Collection{DateTime{temporalBoundary(x.temporal, prec, high, true)}}, nil
		case Time:
			if !hasP {
				p = 9
			}
			prec, ok := precFromDigits(timeDigits, p)
			if !ok {
				return nil, nil
			}
			t := temporalBoundary(x.temporal, prec, high, false)
			t.year, t.month, t.day = 0, 0, 0
			return Collection{Time{t}}, nil
		}
		return nil, evalErrorf("boundaries are not defined for %s", v.TypeName())
	}
}

const maxBoundaryPrecision = 28

func decimalBoundary(d Decimal, p int, hasP, high bool) (Collection, error) {
	if !hasP {
		p = 8
	}
	if p < 0 || p > maxBoundaryPrecision {
		return nil, nil
	}
	// The value stands for [d - 0.5 ulp, d + 0.5 ulp).
	half := Decimal{unscaled: big.NewInt(5), scale: d.scale + 1}
	var b Decimal
	if high {
		b = d.Add(half)
	} else {
		b = d.Sub(half)
	}
	if int32(p) >= b.scale {
		return Collection{Decimal{unscaled: b.at(int32(p)), scale: int32(p)}}, nil
	}
	// Cut to p digits, towards -inf for the low and +inf for the high one.
	div := pow10(int(b.scale) - p)
	q, m := new(big.Int).DivMod(b.u(), div, new(big.Int))
	if high && m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return Collection{Decimal{unscaled: q, scale: int32(p)}}, nil
}

// temporalBoundary fills the fields finer than t's precision (up to
// prec) with their least or greatest values. A dateTime without a time
// zone ranges over all zones: +14:00 is its earliest and -12:00 its
// latest.
func temporalBoundary(t temporal, prec Precision, high, isDateTime bool) temporal {
	if isDateTime && t.prec == PrecHour {
		// An hour alone is not a valid FHIR time: it means hh:00.
		t.prec = PrecMinute
	}
	out := t
	for f := t.prec + 1; f <= prec; f++ {
		switch f {
		case PrecMonth:
			out.month = 1
			if high {
				out.month = 12
			}
		case PrecDay:
			out.day = 1
			if high {
				out.day = daysIn(out.year, out.month)
			}
		case PrecHour:
			if high {
				out.hour = 23
			}
		case PrecMinute:
			if high {
				out.minute = 59
			}
		case PrecSecond:
			if high {
				out.second = 59
			}
		case PrecMillisecond:
			out.fracDigits = 3
			if high {
				out.nano = 999_000_000
			}
		}
	}
	if prec < t.prec {
		out = fromInstant(t.instant(0), prec, t.hasTZ, t.fracDigits)
		if !t.hasTZ {
			out.tz = 0
		}
	}
	out.prec = prec
	if isDateTime && prec >= PrecHour && !t.hasTZ {
		out.hasTZ = true
		out.tz = 14 * 60
		if high {
			out.tz = -12 * 60
		}
	}
	if prec < PrecHour {
		out.hasTZ, out.tz = false, 0
		out.hour, out.minute, out.second, out.nano = 0, 0, 0, 0
	}
	return out
}

func fnComparable(e *env, in Collection, args []node) (Collection, error) {
	v, err := singleton(in, "comparable()")
	if err != nil || v == nil {
		return nil, err
	}
	o, err := e.argSingle(args[0], "comparable()")
	if err != nil || o == nil {
		return nil, err
	}
	sv, _ := system(v)
	a, ok1 := sv.(Quantity)
	b, ok2 := o.(Quantity)
	if !ok1 || !ok2 {
		return nil, evalErrorf("comparable() needs quantities")
	}
	return boolColl(unitsComparable(a.Unit, b.Unit)), nil
}

// fnResolve follows references: Reference elements (their reference) and
// strings/uris.
func fnResolve(e *env, in Collection, args []node) (Collection, error) {
	var out Collection
	for _, v := range in {
		ref := ""
		if el, ok := v.(Element); ok && el.Node.Type == "Reference" {
			ref = el.Node.String("reference")
		} else if s, ok := stringOf(v); ok {
			ref = s
		}
		if ref == "" {
			continue
		}
		if r := e.resolve(ref); r != nil {
			out = append(out, Element{r})
		}
	}
	return out, nil
}

func (e *env) resolve(ref string) *fhir.Node {
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		for _, res := range [2]Collection{e.resource, e.root} {
			if len(res) == 0 {
				continue
			}
			el := res[0].(Element)
			for _, c := range el.Node.Get("contained") {
				if c.ID() == id {
					return c
				}
			}
		}
	}
	if e.opts.Resolve != nil {
		return e.opts.Resolve(ref)
	}
	if len(e.root) == 0 {
		return nil
	}
	root := e.root[0].(Element).Node
	if root.Type != "Bundle" {
		return nil
	}
	for _, entry := range root.Get("entry") {
		full := entry.String("fullUrl")
		res := entry.First("resource")
		if res == nil {
			continue
		}
		if full == ref {
			return res
		}
		if r, ok := fhir.ParseRef(ref); ok && res.Type == r.Type && res.ID() == r.ID {
			return res
		}
	}
	return nil
}

// ReferenceTypeResolver is a resolver for Options.Resolve that does not
// load anything: it turns a literal reference ("Patient/123", or an
// absolute URL ending in Type/id) into an empty node of the referenced
// type carrying the id. That is enough for the "resolve() is Patient"
// tests of search parameters; paths into the target give empty.
func ReferenceTypeResolver(ref string) *fhir.Node {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return nil
	}
	r, ok := fhir.ParseRef(parts[len(parts)-2] + "/" + parts[len(parts)-1])
	if !ok {
		return nil
	}
	n := &fhir.Node{Type: r.Type, Elem: fhir.Type(r.Type).RootElement()}
	n.Set("id", r.ID)
	return n
}

var bindingsByValueSet = sync.OnceValue(func() map[string]*fhir.Binding {
	m := map[string]*fhir.Binding{}
	visited := map[*fhir.Element]bool{}
	var walk func(e *fhir.Element, depth int)
	walk = func(e *fhir.Element, depth int) {
		if depth > 64 || visited[e] {
			return
		}
		visited[e] = true
		if b := e.BindingOf(); b != nil {
			vs, _, _ := strings.Cut(b.ValueSet, "|")
			m[vs] = b
		}
		for i := range e.Kids {
			walk(e.Kid(i), depth+1)
		}
	}
	for _, t := range fhir.Types() {
		walk(t.RootElement(), 0)
	}
	return m
})

// fnMemberOf tests codes against a value set, through Options.MemberOf or
// the required bindings of the R4 tables.
func fnMemberOf(e *env, in Collection, args []node) (Collection, error) {
	v, err := singleton(in, "memberOf()")
	if err != nil || v == nil {
		return nil, err
	}
	vs, ok, err := stringArg(e, args[0], "memberOf()")
	if err != nil || !ok {
		return nil, err
	}
	if e.opts.MemberOf != nil {
		ok, err := e.opts.MemberOf(v, vs)
		if err != nil {
			return nil, nil
		}
		return boolColl(ok), nil
	}
	vs, _, _ = strings.Cut(vs, "|")
	b := bindingsByValueSet()[vs]
	if b == nil {
		return nil, nil
	}
	if s, ok := stringOf(v); ok {
		return boolColl(b.Contains("", s)), nil
	}
	el, ok := v.(Element)
	if !ok {
		return nil, nil
	}
	switch el.Node.Type {
	case "Coding":
		return boolColl(b.Contains(el.Node.String("system"), el.Node.String("code"))), nil
	case "CodeableConcept":
		for _, c := range el.Node.Get("coding") {
			if b.Contains(c.String("system"), c.String("code")) {
				return trueColl, nil
			}
		}
		return falseColl, nil
	}
	return nil, nil
}
