package fhir

import (
	"slices"
	"unicode/utf8"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"
)

// Marshal serialises a resource tree as compact JSON with its elements in
// StructureDefinition order. Serialising the same tree twice gives the same
// bytes, and Parse(Marshal(n)) gives back n.
func Marshal(n *Node) []byte {
	size := sizeHint(n)
	return AppendJSON(make([]byte, 0, size+size/16+64), n)
}

// sizeHint estimates the length of n's JSON form (less any escapes), so
// that Marshal seldom grows its buffer.
func sizeHint(n *Node) int {
	size := len(n.Value) + 2
	if n.Elem != nil && n.Elem.Path == n.Type {
		size += len(`"resourceType":"",`) + len(n.Type)
	}
	for i := range n.Fields {
		f := &n.Fields[i]
		size += len(f.Name) + 6 // quotes, colon, comma, brackets
		for _, v := range f.Nodes {
			size += sizeHint(v) + 1
			if len(v.Fields) > 0 && v.Kind != NoValue {
				size += len(f.Name) + 7 // the "_name" member too
			}
		}
	}
	return size
}

// AppendJSON appends the JSON form of n to b.
func AppendJSON(b []byte, n *Node) []byte {
	b = append(b, '{')
	first := true
	if n.IsResource() {
		b = append(b, `"resourceType":`...)
		b, _ = jsontext.AppendQuote(b, n.Type)
		first = false
	}
	return appendFields(b, n, first)
}

// elemOrder is an element's position in the generated table, which follows
// StructureDefinition order within each parent.
func elemOrder(e *Element) uintptr { return uintptr(unsafe.Pointer(e)) }

func sortFields(fs []Field) {
	if slices.IsSortedFunc(fs, cmpField) {
		return
	}
	slices.SortStableFunc(fs, cmpField)
}

func cmpField(a, b Field) int {
	x, y := elemOrder(a.Elem), elemOrder(b.Elem)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func appendFields(b []byte, n *Node, first bool) []byte {
	sortFields(n.Fields)
	for i := range n.Fields {
		f := &n.Fields[i]
		if len(f.Nodes) == 0 {
			continue
		}
		if isPrimitiveType(f.Nodes[0].Type) || f.Nodes[0].Type == "xhtml" {
			b, first = appendPrimitiveField(b, f, first)
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, f.Name)
		b = append(b, ':')
		if f.Elem.Array {
			b = append(b, '[')
		}
		for j, v := range f.Nodes {
			if j > 0 {
				b = append(b, ',')
			}
			b = AppendJSON(b, v)
		}
		if f.Elem.Array {
			b = append(b, ']')
		}
	}
	return append(b, '}')
}

func appendPrimitiveField(b []byte, f *Field, first bool) ([]byte, bool) {
	hasValue, hasExt := false, false
	for _, v := range f.Nodes {
		hasValue = hasValue || v.Kind != NoValue
		hasExt = hasExt || len(v.Fields) > 0
	}
	if hasValue {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, f.Name)
		b = append(b, ':')
		if f.Elem.Array {
			b = append(b, '[')
		}
		for j, v := range f.Nodes {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, v)
		}
		if f.Elem.Array {
			b = append(b, ']')
		}
	}
	if hasExt {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `"_`...)
		b = append(b, f.Name...)
		b = append(b, `":`...)
		if f.Elem.Array {
			b = append(b, '[')
		}
		for j, v := range f.Nodes {
			if j > 0 {
				b = append(b, ',')
			}
			if len(v.Fields) == 0 {
				b = append(b, "null"...)
				continue
			}
			b = appendFields(append(b, '{'), v, true)
		}
		if f.Elem.Array {
			b = append(b, ']')
		}
	}
	return b, first
}

func appendValue(b []byte, v *Node) []byte {
	switch v.Kind {
	case NumberValue, BoolValue:
		return append(b, v.Value...)
	case StringValue:
		return appendString(b, v.Value)
	}
	return append(b, "null"...)
}

// appendString appends s as a JSON string, as jsontext.AppendQuote does:
// text that needs no escaping is copied as it is.
func appendString(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' {
			b, _ = jsontext.AppendQuote(b, s)
			return b
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(s) {
		b, _ = jsontext.AppendQuote(b, s)
		return b
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Pretty re-indents compact JSON for humans (_pretty=true).
func Pretty(compact []byte) []byte {
	out, err := jsontext.AppendFormat(nil, compact, jsontext.WithIndent("  "))
	if err != nil {
		return compact
	}
	return append(out, '\n')
}
