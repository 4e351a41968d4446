package fhirpath

import (
	"regexp"
	"strconv"
	"strings"
)

// converter converts one System value; ok is false when it cannot.
type converter func(v Value) (Value, bool)

// conv implements toX() and convertsToX().
func conv(f converter, test bool) fnImpl {
	return func(e *env, in Collection, args []node) (Collection, error) {
		v, err := singleton(in, "a conversion function")
		if err != nil || v == nil {
			return nil, err
		}
		sv, ok := system(v)
		if !ok {
			if test {
				return falseColl, nil
			}
			return nil, nil
		}
		r, ok := f(sv)
		if test {
			return boolColl(ok), nil
		}
		if !ok {
			return nil, nil
		}
		return Collection{r}, nil
	}
}

func toBoolean(v Value) (Value, bool) {
	switch x := v.(type) {
	case Boolean:
		return x, true
	case Integer:
		switch x {
		case 0:
			return Boolean(false), true
		case 1:
			return Boolean(true), true
		}
	case Decimal:
		switch {
		case x.Cmp(DecimalFromInt(0)) == 0:
			return Boolean(false), true
		case x.Cmp(DecimalFromInt(1)) == 0:
			return Boolean(true), true
		}
	case String:
		switch strings.ToLower(string(x)) {
		case "true", "t", "yes", "y", "1", "1.0":
			return Boolean(true), true
		case "false", "f", "no", "n", "0", "0.0":
			return Boolean(false), true
		}
	}
	return nil, false
}

var intRE = regexp.MustCompile(`^[+-]?[0-9]+$`)

func toInteger(v Value) (Value, bool) {
	switch x := v.(type) {
	case Integer:
		return x, true
	case Boolean:
		if x {
			return Integer(1), true
		}
		return Integer(0), true
	case String:
		if !intRE.MatchString(string(x)) {
			return nil, false
		}
		i, err := strconv.ParseInt(string(x), 10, 32)
		if err != nil {
			return nil, false
		}
		return Integer(i), true
	}
	return nil, false
}

var decRE = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

func toDecimalV(v Value) (Value, bool) {
	switch x := v.(type) {
	case Decimal:
		return x, true
	case Integer:
		return DecimalFromInt(int64(x)), true
	case Boolean:
		if x {
			return DecimalFromInt(1).round(1), true
		}
		return DecimalFromInt(0).round(1), true
	case String:
		if !decRE.MatchString(string(x)) {
			return nil, false
		}
		d, err := ParseDecimal(string(x))
		if err != nil {
			return nil, false
		}
		return d, true
	}
	return nil, false
}

func toStringV(v Value) (Value, bool) {
	s, ok := formatValue(v)
	if !ok {
		return nil, false
	}
	return String(s), true
}

// formatValue renders a System value as the string toString() gives.
func formatValue(v Value) (string, bool) {
	switch x := v.(type) {
	case String:
		return string(x), true
	case Boolean:
		if x {
			return "true", true
		}
		return "false", true
	case Integer:
		return strconv.FormatInt(int64(x), 10), true
	case Decimal:
		return x.String(), true
	case Quantity:
		return x.String(), true
	case Date:
		return x.String(), true
	case DateTime:
		return x.String(), true
	case Time:
		return x.String(), true
	}
	return "", false
}

func toDateV(v Value) (Value, bool) {
	switch x := v.(type) {
	case Date:
		return x, true
	case DateTime:
		t := x.temporal
		if t.prec > PrecDay {
			t = temporal{year: t.year, month: t.month, day: t.day, prec: PrecDay}
		}
		t.hasTZ = false
		return Date{t}, true
	case String:
		if d, err := parseDate(string(x)); err == nil {
			return d, true
		}
		if dt, err := parseDateTime(string(x)); err == nil {
			return toDateV(dt)
		}
	}
	return nil, false
}

func toDateTimeV(v Value) (Value, bool) {
	switch x := v.(type) {
	case DateTime:
		return x, true
	case Date:
		return DateTime{x.temporal}, true
	case String:
		if dt, err := parseDateTime(string(x)); err == nil {
			return dt, true
		}
	}
	return nil, false
}

func toTimeV(v Value) (Value, bool) {
	switch x := v.(type) {
	case Time:
		return x, true
	case String:
		if t, err := parseTime(strings.TrimPrefix(string(x), "T")); err == nil {
			return t, true
		}
	}
	return nil, false
}

var quantityRE = regexp.MustCompile(`^([+-]?[0-9]+(?:\.[0-9]+)?)\s*(?:'([^']+)'|([a-zA-Z]+))?$`)

// parseQuantityString reads "5.5 'mg'", "3 days" or a bare number.
func parseQuantityString(s string) (Quantity, bool) {
	m := quantityRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Quantity{}, false
	}
	d, err := ParseDecimal(m[1])
	if err != nil {
		return Quantity{}, false
	}
	unit := "1"
	switch {
	case m[2] != "":
		unit = m[2]
		if _, ok := lookupUnit(unit); !ok {
			return Quantity{}, false
		}
	case m[3] != "":
		if !calendarUnits[m[3]] {
			return Quantity{}, false
		}
		unit = m[3]
	}
	return Quantity{Value: d, Unit: unit}, true
}

func fnToQuantity(test bool) fnImpl {
	return func(e *env, in Collection, args []node) (Collection, error) {
		v, err := singleton(in, "toQuantity()")
		if err != nil || v == nil {
			return nil, err
		}
		fail := func() (Collection, error) {
			if test {
				return falseColl, nil
			}
			return nil, nil
		}
		sv, ok := system(v)
		if !ok {
			return fail()
		}
		var q Quantity
		switch x := sv.(type) {
		case Quantity:
			q = x
		case Integer:
			q = Quantity{Value: DecimalFromInt(int64(x)), Unit: "1"}
		case Decimal:
			q = Quantity{Value: x, Unit: "1"}
		case Boolean:
			q = Quantity{Value: DecimalFromInt(0).round(1), Unit: "1"}
			if x {
				q.Value = DecimalFromInt(1).round(1)
			}
		case String:
			if q, ok = parseQuantityString(string(x)); !ok {
				return fail()
			}
		default:
			return fail()
		}
		if len(args) == 1 {
			u, err := e.argSingle(args[0], "toQuantity()")
			if err != nil {
				return nil, err
			}
			unit, _ := stringOf(u)
			c, ok := convertQuantity(q, unit)
			if !ok {
				return fail()
			}
			q = c
		}
		if test {
			return trueColl, nil
		}
		return Collection{q}, nil
	}
}
