package fhirpath

import (
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
)

// maxString bounds the strings that operators and functions build.
const maxString = 1 << 20

// binary is a binary operator.
type binary struct {
	op   string
	l, r node
	pos  int
}

func newBinary(op string, l, r node, pos int) (node, error) {
	return &binary{op: op, l: l, r: r, pos: pos}, nil
}

func (b *binary) eval(e *env, focus Collection) (Collection, error) {
	if err := e.step(1); err != nil {
		return nil, err
	}
	switch b.op {
	case "and", "or", "xor", "implies":
		return b.logic(e, focus)
	}
	l, err := b.l.eval(e, focus)
	if err != nil {
		return nil, err
	}
	r, err := b.r.eval(e, focus)
	if err != nil {
		return nil, err
	}
	switch b.op {
	case "|":
		return union(e, l, r)
	case "=", "!=":
		res, known := collEqual(l, r)
		if !known {
			return nil, nil
		}
		return boolColl(res == (b.op == "=")), nil
	case "~", "!~":
		res := collEquivalent(l, r)
		return boolColl(res == (b.op == "~")), nil
	case "<", ">", "<=", ">=":
		return compareOp(b.op, l, r)
	case "in":
		return membership(l, r, "in")
	case "contains":
		return membership(r, l, "contains")
	case "&":
		return concat(l, r)
	}
	return arith(e, b.op, l, r)
}

// logic implements the three-valued and, or, xor and implies, evaluating
// the right operand only when it matters.
func (b *binary) logic(e *env, focus Collection) (Collection, error) {
	l, err := b.l.eval(e, focus)
	if err != nil {
		return nil, err
	}
	lv, lok, err := toBool(l, "'"+b.op+"'")
	if err != nil {
		return nil, err
	}
	switch b.op {
	case "and":
		if lok && !lv {
			return falseColl, nil
		}
	case "or":
		if lok && lv {
			return trueColl, nil
		}
	case "implies":
		if lok && !lv {
			return trueColl, nil
		}
	}
	r, err := b.r.eval(e, focus)
	if err != nil {
		return nil, err
	}
	rv, rok, err := toBool(r, "'"+b.op+"'")
	if err != nil {
		return nil, err
	}
	switch b.op {
	case "and":
		if rok && !rv {
			return falseColl, nil
		}
		if lok && rok {
			return trueColl, nil
		}
	case "or":
		if rok && rv {
			return trueColl, nil
		}
		if lok && rok {
			return falseColl, nil
		}
	case "xor":
		if lok && rok {
			return boolColl(lv != rv), nil
		}
	case "implies":
		if rok && rv {
			return trueColl, nil
		}
		if lok && rok {
			return falseColl, nil
		}
	}
	return nil, nil
}

// union merges two collections, removing duplicates.
func union(e *env, l, r Collection) (Collection, error) {
	out := make(Collection, 0, len(l)+len(r))
	for _, c := range [2]Collection{l, r} {
		for _, v := range c {
			if !containsValue(out, v) {
				out = append(out, v)
			}
		}
		if err := e.step(len(c) * (len(out) + 1) / 8); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func containsValue(c Collection, v Value) bool {
	for _, w := range c {
		if eq, known := valueEqual(w, v); known && eq {
			return true
		}
	}
	return false
}

// collEqual implements = on collections. known is false for an empty
// result.
func collEqual(l, r Collection) (bool, bool) {
	if len(l) == 0 || len(r) == 0 {
		return false, false
	}
	if len(l) != len(r) {
		return false, true
	}
	for i := range l {
		eq, known := valueEqual(l[i], r[i])
		if !known {
			return false, false
		}
		if !eq {
			return false, true
		}
	}
	return true, true
}

// valueEqual implements = on single items.
func valueEqual(a, b Value) (bool, bool) {
	if ea, ok := a.(Element); ok {
		if eb, ok := b.(Element); ok {
			if ea.Node == eb.Node {
				return true, true
			}
			if isPrimitiveType(ea.Node.Type) && isPrimitiveType(eb.Node.Type) && ea.Node.Kind == eb.Node.Kind &&
				ea.Node.Kind == fhir.StringValue && isStringType(ea.Node.Type) && isStringType(eb.Node.Type) {
				return ea.Node.Value == eb.Node.Value, true
			}
		}
	}
	sa, oka := system(a)
	sb, okb := system(b)
	if !oka || !okb {
		ea, isA := a.(Element)
		eb, isB := b.(Element)
		if isA && isB && !oka && !okb {
			return nodesEqual(ea.Node, eb.Node, false), true
		}
		return false, true
	}
	switch x := sa.(type) {
	case String:
		y, ok := sb.(String)
		return ok && x == y, true
	case Boolean:
		y, ok := sb.(Boolean)
		return ok && x == y, true
	case Integer:
		switch y := sb.(type) {
		case Integer:
			return x == y, true
		case Decimal:
			return DecimalFromInt(int64(x)).Cmp(y) == 0, true
		case Quantity:
			return quantityEqual(Quantity{Value: DecimalFromInt(int64(x)), Unit: "1"}, y)
		}
	case Decimal:
		switch y := sb.(type) {
		case Integer:
			return x.Cmp(DecimalFromInt(int64(y))) == 0, true
		case Decimal:
			return x.Cmp(y) == 0, true
		case Quantity:
			return quantityEqual(Quantity{Value: x, Unit: "1"}, y)
		}
	case Quantity:
		switch y := sb.(type) {
		case Quantity:
			return quantityEqual(x, y)
		case Integer:
			return quantityEqual(x, Quantity{Value: DecimalFromInt(int64(y)), Unit: "1"})
		case Decimal:
			return quantityEqual(x, Quantity{Value: y, Unit: "1"})
		}
	case Date, DateTime:
		ta, _ := temporalOf(sa)
		tb, ok := temporalOf(sb)
		if !ok {
			return false, true
		}
		if _, isTime := sb.(Time); isTime {
			return false, true
		}
		c, known := compareTemporal(ta, tb, false, 0)
		return c == 0, known
	case Time:
		y, ok := sb.(Time)
		if !ok {
			return false, true
		}
		c, known := compareTemporal(x.temporal, y.temporal, true, 0)
		return c == 0, known
	}
	return false, true
}

func quantityEqual(a, b Quantity) (bool, bool) {
	c, ok := compareQuantities(a, b)
	if !ok {
		return false, false
	}
	return c == 0, true
}

func temporalOf(v Value) (temporal, bool) {
	switch x := v.(type) {
	case Date:
		return x.temporal, true
	case DateTime:
		return x.temporal, true
	case Time:
		return x.temporal, true
	}
	return temporal{}, false
}

// nodesEqual compares two complex elements member by member; equiv uses ~
// for the primitives.
func nodesEqual(a, b *fhir.Node, equiv bool) bool {
	if a.Kind != b.Kind || a.Value != b.Value && !(equiv && equivalentString(a.Value, b.Value)) {
		return false
	}
	count := func(n *fhir.Node) int {
		k := 0
		for _, f := range n.Fields {
			if len(f.Nodes) > 0 {
				k++
			}
		}
		return k
	}
	if count(a) != count(b) {
		return false
	}
	for _, f := range a.Fields {
		if len(f.Nodes) == 0 {
			continue
		}
		if equiv && f.Name == "id" {
			continue
		}
		g := b.Field(f.Name)
		if g == nil || len(g.Nodes) != len(f.Nodes) {
			return false
		}
		for i := range f.Nodes {
			if !nodesEqual(f.Nodes[i], g.Nodes[i], equiv) {
				return false
			}
		}
	}
	return true
}

// collEquivalent implements ~ on collections: same size, and every item of
// l has an equivalent in r (order does not matter).
func collEquivalent(l, r Collection) bool {
	if len(l) != len(r) {
		return false
	}
	used := make([]bool, len(r))
outer:
	for _, a := range l {
		for j, b := range r {
			if !used[j] && valueEquivalent(a, b) {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}

func equivalentString(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

func valueEquivalent(a, b Value) bool {
	sa, oka := system(a)
	sb, okb := system(b)
	if !oka || !okb {
		ea, isA := a.(Element)
		eb, isB := b.(Element)
		return isA && isB && !oka && !okb && nodesEqual(ea.Node, eb.Node, true)
	}
	switch x := sa.(type) {
	case String:
		y, ok := sb.(String)
		return ok && equivalentString(string(x), string(y))
	case Integer, Decimal:
		dx, _ := toDecimal(sa)
		dy, ok := toDecimal(sb)
		if !ok {
			return false
		}
		s := min(dx.scale, dy.scale)
		return dx.round(s).Cmp(dy.round(s)) == 0
	case Quantity:
		y, ok := sb.(Quantity)
		return ok && quantityEquivalent(x, y)
	case Date, DateTime, Time:
		ta, _ := temporalOf(sa)
		tb, ok := temporalOf(sb)
		if !ok {
			return false
		}
		_, isTime := sa.(Time)
		_, isTimeB := sb.(Time)
		if isTime != isTimeB {
			return false
		}
		c, known := compareTemporal(ta, tb, isTime, 0)
		return known && c == 0
	}
	eq, known := valueEqual(sa, sb)
	return known && eq
}

func toDecimal(v Value) (Decimal, bool) {
	switch x := v.(type) {
	case Integer:
		return DecimalFromInt(int64(x)), true
	case Decimal:
		return x, true
	}
	return Decimal{}, false
}

// compareOp implements <, >, <= and >=.
func compareOp(op string, l, r Collection) (Collection, error) {
	a, err := singleton(l, "'"+op+"'")
	if err != nil {
		return nil, err
	}
	b, err := singleton(r, "'"+op+"'")
	if err != nil {
		return nil, err
	}
	if a == nil || b == nil {
		return nil, nil
	}
	c, known, err := compareValues(a, b)
	if err != nil || !known {
		return nil, err
	}
	switch op {
	case "<":
		return boolColl(c < 0), nil
	case ">":
		return boolColl(c > 0), nil
	case "<=":
		return boolColl(c <= 0), nil
	}
	return boolColl(c >= 0), nil
}

// compareValues orders two single items; known is false when the order
// cannot be told (precision, units).
func compareValues(a, b Value) (int, bool, error) {
	sa, oka := system(a)
	sb, okb := system(b)
	if !oka || !okb {
		if a.TypeName() == b.TypeName() && (!oka && !okb) {
			return 0, false, nil
		}
		return 0, false, evalErrorf("cannot compare %s with %s", a.TypeName(), b.TypeName())
	}
	switch x := sa.(type) {
	case String:
		if y, ok := sb.(String); ok {
			return strings.Compare(string(x), string(y)), true, nil
		}
	case Integer, Decimal:
		dx, _ := toDecimal(sa)
		if dy, ok := toDecimal(sb); ok {
			return dx.Cmp(dy), true, nil
		}
		if y, ok := sb.(Quantity); ok {
			c, known := compareQuantities(Quantity{Value: dx, Unit: "1"}, y)
			return c, known, nil
		}
	case Quantity:
		switch y := sb.(type) {
		case Quantity:
			c, known := compareQuantities(x, y)
			return c, known, nil
		case Integer, Decimal:
			dy, _ := toDecimal(sb)
			c, known := compareQuantities(x, Quantity{Value: dy, Unit: "1"})
			return c, known, nil
		}
	case Date, DateTime:
		switch sb.(type) {
		case Date, DateTime:
			ta, _ := temporalOf(sa)
			tb, _ := temporalOf(sb)
			c, known := compareTemporal(ta, tb, false, 0)
			return c, known, nil
		}
	case Time:
		if y, ok := sb.(Time); ok {
			c, known := compareTemporal(x.temporal, y.temporal, true, 0)
			return c, known, nil
		}
	case Boolean:
		if y, ok := sb.(Boolean); ok {
			bx, by := 0, 0
			if x {
				bx = 1
			}
			if y {
				by = 1
			}
			return bx - by, true, nil
		}
	}
	return 0, false, evalErrorf("cannot compare %s with %s", a.TypeName(), b.TypeName())
}

// membership implements "x in c" (and "c contains x").
func membership(item, coll Collection, op string) (Collection, error) {
	v, err := singleton(item, "'"+op+"'")
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil
	}
	if len(coll) == 0 {
		return falseColl, nil
	}
	for _, w := range coll {
		if eq, known := valueEqual(v, w); known && eq {
			return trueColl, nil
		}
	}
	return falseColl, nil
}

// concat implements &: empty operands count as empty strings.
func concat(l, r Collection) (Collection, error) {
	s := ""
	for _, c := range [2]Collection{l, r} {
		v, err := singleton(c, "'&'")
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		str, ok := stringOf(v)
		if !ok {
			return nil, evalErrorf("'&' needs strings, not %s", v.TypeName())
		}
		s += str
	}
	if len(s) > maxString {
		return nil, limitError("a string of more than %d bytes", maxString)
	}
	return Collection{String(s)}, nil
}

// arith implements + - * / div mod.
func arith(e *env, op string, l, r Collection) (Collection, error) {
	a, err := singleton(l, "'"+op+"'")
	if err != nil {
		return nil, err
	}
	b, err := singleton(r, "'"+op+"'")
	if err != nil {
		return nil, err
	}
	if a == nil || b == nil {
		return nil, nil
	}
	sa, oka := system(a)
	sb, okb := system(b)
	if !oka || !okb {
		return nil, evalErrorf("cannot apply '%s' to %s and %s", op, a.TypeName(), b.TypeName())
	}
	v, err := arithValues(op, sa, sb)
	if err != nil || v == nil {
		return nil, err
	}
	if d, ok := v.(Decimal); ok && d.tooBig() {
		return nil, limitError("a decimal of more than %d digits", maxDigits)
	}
	if s, ok := v.(String); ok && len(s) > maxString {
		return nil, limitError("a string of more than %d bytes", maxString)
	}
	return Collection{v}, nil
}

func arithValues(op string, a, b Value) (Value, error) {
	bad := func() (Value, error) {
		return nil, evalErrorf("cannot apply '%s' to %s and %s", op, a.TypeName(), b.TypeName())
	}
	switch x := a.(type) {
	case String:
		y, ok := b.(String)
		if ok && op == "+" {
			return x + y, nil
		}
		return bad()
	case Integer:
		if y, ok := b.(Integer); ok && op != "/" {
			return intArith(op, x, y)
		}
		if _, ok := b.(Quantity); ok {
			return arithValues(op, Quantity{Value: DecimalFromInt(int64(x)), Unit: "1"}, b)
		}
		if dy, ok := toDecimal(b); ok {
			return decArith(op, DecimalFromInt(int64(x)), dy)
		}
	case Decimal:
		if _, ok := b.(Quantity); ok {
			return arithValues(op, Quantity{Value: x, Unit: "1"}, b)
		}
		if dy, ok := toDecimal(b); ok {
			return decArith(op, x, dy)
		}
	case Quantity:
		return quantityArith(op, x, b)
	case Date:
		if y, ok := b.(Quantity); ok && (op == "+" || op == "-") {
			t, err := addDuration(x.temporal, y, op == "-", false)
			if err != nil {
				return nil, err
			}
			return Date{t}, nil
		}
	case DateTime:
		if y, ok := b.(Quantity); ok && (op == "+" || op == "-") {
			t, err := addDuration(x.temporal, y, op == "-", false)
			if err != nil {
				return nil, err
			}
			return DateTime{t}, nil
		}
	case Time:
		if y, ok := b.(Quantity); ok && (op == "+" || op == "-") {
			t, err := addDuration(x.temporal, y, op == "-", true)
			if err != nil {
				return nil, err
			}
			return Time{t}, nil
		}
	}
	return bad()
}

func intArith(op string, x, y Integer) (Value, error) {
	var r int64
	switch op {
	case "+":
		r = int64(x) + int64(y)
	case "-":
		r = int64(x) - int64(y)
	case "*":
		r = int64(x) * int64(y)
		if x != 0 && r/int64(x) != int64(y) {
			return nil, nil
		}
	case "div":
		if y == 0 {
			return nil, nil
		}
		r = int64(x) / int64(y)
	case "mod":
		if y == 0 {
			return nil, nil
		}
		r = int64(x) % int64(y)
	}
	if r > math.MaxInt32 || r < math.MinInt32 {
		// Integer is 32 bits in FHIRPath: overflow gives empty.
		return nil, nil
	}
	return Integer(r), nil
}

func decArith(op string, x, y Decimal) (Value, error) {
	switch op {
	case "+":
		return x.Add(y), nil
	case "-":
		return x.Sub(y), nil
	case "*":
		return x.Mul(y), nil
	case "/":
		d, ok := x.Div(y)
		if !ok {
			return nil, nil
		}
		return d, nil
	case "div":
		q, ok := x.IntDiv(y)
		if !ok {
			return nil, nil
		}
		i, ok := bigToInteger(q)
		if !ok {
			return nil, nil
		}
		return i, nil
	case "mod":
		m, ok := x.Mod(y)
		if !ok {
			return nil, nil
		}
		return m, nil
	}
	return nil, evalErrorf("cannot apply '%s' to decimals", op)
}

func quantityArith(op string, x Quantity, b Value) (Value, error) {
	var y Quantity
	switch v := b.(type) {
	case Quantity:
		y = v
	case Integer:
		y = Quantity{Value: DecimalFromInt(int64(v)), Unit: "1"}
	case Decimal:
		y = Quantity{Value: v, Unit: "1"}
	default:
		return nil, evalErrorf("cannot apply '%s' to Quantity and %s", op, b.TypeName())
	}
	switch op {
	case "+", "-":
		c, ok := convertQuantity(y, x.Unit)
		if !ok {
			return nil, nil
		}
		if op == "+" {
			return Quantity{Value: x.Value.Add(c.Value), Unit: x.Unit}, nil
		}
		return Quantity{Value: x.Value.Sub(c.Value), Unit: x.Unit}, nil
	case "*":
		if x.Unit != y.Unit && isAtom(x.Unit) && isAtom(y.Unit) && unitsComparable(x.Unit, y.Unit) {
			// cm * m: express both in the first unit, giving cm2.
			y, _ = convertQuantity(y, x.Unit)
		}
		return Quantity{Value: x.Value.Mul(y.Value), Unit: mulUnits(x.Unit, y.Unit, false)}, nil
	case "/":
		d, ok := x.Value.Div(y.Value)
		if !ok {
			return nil, nil
		}
		return Quantity{Value: d, Unit: mulUnits(x.Unit, y.Unit, true)}, nil
	}
	return nil, evalErrorf("cannot apply '%s' to quantities", op)
}

// isAtom reports whether a unit is a single UCUM term without exponent.
func isAtom(u string) bool {
	return u != "" && !strings.ContainsAny(u, "./0123456789{")
}

// mulUnits combines two units for a product or a quotient, simplifying
// repeated or cancelling atoms of the same dimension (cm.m -> m2).
func mulUnits(a, b string, div bool) string {
	a, b = canonicalTimeUnit(a), canonicalTimeUnit(b)
	if div {
		if a == b {
			return "1"
		}
		if b == "1" {
			return a
		}
		return a + "/" + b
	}
	switch {
	case a == "1":
		return b
	case b == "1":
		return a
	case a == b:
		return a + "2"
	}
	return a + "." + b
}

// addDuration adds (or subtracts) a time-valued quantity to a date, time
// or dateTime, following the calendar: years and months keep the day of
// the month where possible, and quantities finer than the value's
// precision are truncated to it.
func addDuration(t temporal, q Quantity, sub, isTime bool) (temporal, error) {
	unit := q.Unit
	switch unit {
	case "a", "mo":
		return temporal{}, evalErrorf("cannot add '%s' to a date: use year or month", unit)
	}
	if u, ok := calendarUCUM[unit]; ok {
		unit = u
	}
	v := q.Value
	if sub {
		v = v.Neg()
	}
	var field Precision
	switch unit {
	case "a":
		field = PrecYear
	case "mo":
		field = PrecMonth
	case "wk":
		v = v.Mul(DecimalFromInt(7))
		field = PrecDay
	case "d":
		field = PrecDay
	case "h":
		field = PrecHour
	case "min":
		field = PrecMinute
	case "s":
		field = PrecSecond
	case "ms":
		field = PrecMillisecond
	default:
		return temporal{}, evalErrorf("cannot add a quantity in '%s' to a date/time", q.Unit)
	}
	// Convert to the value's precision, truncating what is finer.
	prec := t.prec
	if field > prec {
		v, field = convertDown(v, field, prec)
	}
	n, ok := bigToInteger(v.truncate())
	if !ok {
		return temporal{}, evalErrorf("duration out of range")
	}
	if isTime {
		base := time.Date(2000, 1, 1, t.hour, t.minute, t.second, t.nano, time.UTC)
		var d time.Duration
		switch field {
		case PrecHour:
			d = time.Duration(n) * time.Hour
		case PrecMinute:
			d = time.Duration(n) * time.Minute
		case PrecSecond:
			d = time.Duration(n) * time.Second
		case PrecMillisecond:
			d = time.Duration(n) * time.Millisecond
		default:
			return temporal{}, evalErrorf("cannot add days or more to a time")
		}
		r := base.Add(d)
		out := fromInstant(r, t.prec, false, t.fracDigits)
		out.year, out.month, out.day = 0, 0, 0
		return out, nil
	}
	tm := t.instant(0)
	switch field {
	case PrecYear:
		y := t.year + int(n)
		if y < 1 || y > 9999 {
			return temporal{}, evalErrorf("date out of range")
		}
		out := t
		out.year = y
		if out.prec >= PrecDay && out.day > daysIn(y, out.month) {
			out.day = daysIn(y, out.month)
		}
		return out, nil
	case PrecMonth:
		m := t.year*12 + (max(t.month, 1) - 1) + int(n)
		out := t
		out.year, out.month = m/12, m%12+1
		if out.year < 1 || out.year > 9999 {
			return temporal{}, evalErrorf("date out of range")
		}
		if out.prec >= PrecDay && out.day > daysIn(out.year, out.month) {
			out.day = daysIn(out.year, out.month)
		}
		return out, nil
	case PrecDay:
		tm = tm.AddDate(0, 0, int(n))
	case PrecHour:
		tm = tm.Add(time.Duration(n) * time.Hour)
	case PrecMinute:
		tm = tm.Add(time.Duration(n) * time.Minute)
	case PrecSecond:
		tm = tm.Add(time.Duration(n) * time.Second)
	case PrecMillisecond:
		tm = tm.Add(time.Duration(n) * time.Millisecond)
	}
	if tm.Year() < 1 || tm.Year() > 9999 {
		return temporal{}, evalErrorf("date out of range")
	}
	return fromInstant(tm, t.prec, t.hasTZ, t.fracDigits), nil
}

// convertDown expresses a duration in a coarser field (hours to days for a
// date), for values whose precision cannot hold the finer field.
func convertDown(v Decimal, from, to Precision) (Decimal, Precision) {
	secs := map[Precision]int64{PrecDay: 86400, PrecHour: 3600, PrecMinute: 60, PrecSecond: 1}
	if from == PrecMillisecond {
		v, _ = v.Div(DecimalFromInt(1000))
		from = PrecSecond
	}
	if to < PrecDay {
		to = PrecDay // months and years are not a fixed number of days
	}
	if from <= to {
		return v, from
	}
	r := new(big.Rat).SetFrac(v.u(), pow10(int(v.scale)))
	r.Mul(r, big.NewRat(secs[from], secs[to]))
	return ratToDecimal(r, 0), to
}
