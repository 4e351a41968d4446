package fhirpath

import (
	"strconv"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// Value is one item of a collection. It is either an Element (a node of a
// resource tree, keeping its FHIR type) or a System value: Boolean,
// Integer, Decimal, String, Date, DateTime, Time or Quantity.
type Value interface {
	// TypeName returns the value's type: a FHIR type code for elements
	// ("string", "HumanName", "Patient") and "System.X" otherwise.
	TypeName() string
}

// Collection is an ordered list of values: the input and output of every
// FHIRPath expression.
type Collection []Value

// Boolean is System.Boolean.
type Boolean bool

// Integer is System.Integer (kept in 64 bits; arithmetic that leaves the
// 32-bit range of the specification still works).
type Integer int64

// String is System.String.
type String string

// Element is a node of a resource tree: a resource, a complex value or a
// FHIR primitive.
type Element struct{ Node *fhir.Node }

// TypeName implements Value.
func (Boolean) TypeName() string  { return "System.Boolean" }
func (Integer) TypeName() string  { return "System.Integer" }
func (String) TypeName() string   { return "System.String" }
func (Decimal) TypeName() string  { return "System.Decimal" }
func (Quantity) TypeName() string { return "System.Quantity" }
func (e Element) TypeName() string {
	return e.Node.Type
}

// Quantity is System.Quantity: a decimal value with a UCUM unit or a
// calendar duration keyword (year, months, ...).
type Quantity struct {
	Value Decimal
	Unit  string
}

func (q Quantity) String() string {
	u := q.Unit
	if !calendarUnits[u] {
		u = "'" + u + "'"
	}
	return q.Value.String() + " " + u
}

// Nodes wraps tree nodes as a collection.
func Nodes(ns ...*fhir.Node) Collection {
	c := make(Collection, len(ns))
	for i, n := range ns {
		c[i] = Element{n}
	}
	return c
}

// isPrimitiveType reports whether a FHIR type code is a primitive type.
func isPrimitiveType(t string) bool {
	switch t {
	case "boolean", "integer", "unsignedInt", "positiveInt", "decimal", "string", "code", "id",
		"markdown", "uri", "url", "canonical", "oid", "uuid", "base64Binary", "date", "dateTime",
		"instant", "time", "xhtml":
		return true
	}
	return false
}

// quantityTypes are the FHIR types that behave as System.Quantity.
func isQuantityType(t string) bool {
	switch t {
	case "Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity", "MoneyQuantity":
		return true
	}
	return false
}

// system converts a value to its System equivalent: FHIR primitives become
// Boolean, Integer, Decimal, String, Date, DateTime or Time, FHIR
// Quantities become Quantity. ok is false for other elements and for
// primitives with no value.
func system(v Value) (Value, bool) {
	e, isElem := v.(Element)
	if !isElem {
		return v, true
	}
	n := e.Node
	if isQuantityType(n.Type) {
		return nodeQuantity(n)
	}
	if n.Kind == fhir.NoValue {
		return nil, false
	}
	switch n.Type {
	case "boolean":
		return Boolean(n.Value == "true"), true
	case "integer", "unsignedInt", "positiveInt":
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return nil, false
		}
		return Integer(i), true
	case "decimal":
		d, err := ParseDecimal(n.Value)
		if err != nil {
			return nil, false
		}
		return d, true
	case "date":
		t, err := parseDate(n.Value)
		if err != nil {
			return nil, false
		}
		return t, true
	case "dateTime", "instant":
		t, err := parseDateTime(n.Value)
		if err != nil {
			return nil, false
		}
		return t, true
	case "time":
		t, err := parseTime(n.Value)
		if err != nil {
			return nil, false
		}
		return t, true
	}
	if n.Kind == fhir.StringValue {
		return String(n.Value), true
	}
	return nil, false
}

// nodeQuantity converts a FHIR Quantity element to a System Quantity. The
// UCUM code is used when the system is UCUM (or absent), else the unit
// text.
func nodeQuantity(n *fhir.Node) (Value, bool) {
	v := n.First("value")
	if v == nil || v.Kind != fhir.NumberValue {
		return nil, false
	}
	d, err := ParseDecimal(v.Value)
	if err != nil {
		return nil, false
	}
	unit := n.String("code")
	if sys := n.String("system"); unit == "" || (sys != "" && sys != ucumSystem) {
		unit = n.String("unit")
		if u, ok := calendarWord(unit); ok {
			unit = u
		}
	}
	if unit == "" {
		unit = "1"
	}
	return Quantity{Value: d, Unit: unit}, true
}

const ucumSystem = "http://unitsofmeasure.org"

// calendarWord maps a unit text written as a word to a calendar keyword.
func calendarWord(s string) (string, bool) {
	s = strings.ToLower(s)
	if calendarUnits[s] {
		return s, true
	}
	return "", false
}

// stringOf returns the string content of a String or a FHIR string-like
// primitive.
func stringOf(v Value) (string, bool) {
	switch x := v.(type) {
	case String:
		return string(x), true
	case Element:
		n := x.Node
		if n.Kind == fhir.StringValue && isStringType(n.Type) {
			return n.Value, true
		}
	}
	return "", false
}

func isStringType(t string) bool {
	switch t {
	case "string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid", "base64Binary", "xhtml":
		return true
	}
	return false
}

// singleton applies the singleton evaluation rule: an empty collection
// gives (nil, nil); one item gives that item; more is an error.
func singleton(c Collection, what string) (Value, error) {
	switch len(c) {
	case 0:
		return nil, nil
	case 1:
		return c[0], nil
	}
	return nil, evalErrorf("%s expects a single item, got %d", what, len(c))
}

// toBool converts a singleton to Boolean per the singleton evaluation
// rules: a Boolean is itself, any other single item is true.
func toBool(c Collection, what string) (bool, bool, error) {
	v, err := singleton(c, what)
	if err != nil || v == nil {
		return false, false, err
	}
	sv, ok := system(v)
	if ok {
		if b, ok := sv.(Boolean); ok {
			return bool(b), true, nil
		}
	}
	return true, true, nil
}
