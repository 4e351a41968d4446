package fhirpath

import (
	"strconv"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/go-json-experiment/json/jsontext"
)

// AppendJSON appends the JSON form of a result collection to b: an array
// of {"type": T, "value": V} objects. T is the FHIR type code of an element
// ("string", "HumanName", "Patient") and "System.X" for System values. V is
// the element's JSON (a primitive's JSON value, or the object a complex
// element or resource serialises to), a number for Integer and Decimal
// (with the decimal's exact digits), a string for String, Date, DateTime
// and Time, {"value": n, "unit": u} for a Quantity, and
// {"namespace": ns, "name": n} for the result of type().
//
// Serialising a complex element puts its fields in definition order, which
// may reorder the node's Fields in place (see fhir.AppendJSON): do not call
// it concurrently with other readers of the same tree.
func AppendJSON(b []byte, c Collection) []byte {
	b = append(b, '[')
	for i, v := range c {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b, _ = jsontext.AppendQuote(b, v.TypeName())
		b = append(b, `,"value":`...)
		b = appendValueJSON(b, v)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendValueJSON(b []byte, v Value) []byte {
	switch x := v.(type) {
	case Element:
		n := x.Node
		if isPrimitiveType(n.Type) && n.Kind != fhir.NoValue {
			switch n.Kind {
			case fhir.NumberValue, fhir.BoolValue:
				return append(b, n.Value...)
			}
			b, _ = jsontext.AppendQuote(b, n.Value)
			return b
		}
		return fhir.AppendJSON(b, n)
	case Boolean:
		return strconv.AppendBool(b, bool(x))
	case Integer:
		return strconv.AppendInt(b, int64(x), 10)
	case Decimal:
		return append(b, x.String()...)
	case String:
		b, _ = jsontext.AppendQuote(b, string(x))
		return b
	case Date, DateTime, Time:
		s, _ := formatValue(v)
		b, _ = jsontext.AppendQuote(b, s)
		return b
	case Quantity:
		b = append(b, `{"value":`...)
		b = append(b, x.Value.String()...)
		b = append(b, `,"unit":`...)
		b, _ = jsontext.AppendQuote(b, x.Unit)
		return append(b, '}')
	case TypeInfo:
		b = append(b, `{"namespace":`...)
		b, _ = jsontext.AppendQuote(b, x.Namespace)
		b = append(b, `,"name":`...)
		b, _ = jsontext.AppendQuote(b, x.Name)
		return append(b, '}')
	}
	return append(b, "null"...)
}

// Format renders a value as text, the way toString() does for System
// values; elements are shown as their JSON.
func Format(v Value) string {
	if sv, ok := system(v); ok {
		if s, ok := formatValue(sv); ok {
			return s
		}
	}
	if el, ok := v.(Element); ok {
		return string(fhir.AppendJSON(nil, el.Node))
	}
	if t, ok := v.(TypeInfo); ok {
		return t.Namespace + "." + t.Name
	}
	return ""
}

// caret shows where in expr a syntax error was found.
func caret(expr string, pos int) string {
	if pos < 0 || pos > len(expr) || strings.ContainsAny(expr, "\n\r") {
		return ""
	}
	return "  " + expr + "\n  " + strings.Repeat(" ", pos) + "^\n"
}
