package fhir

import "strings"

// ValueKind says how a primitive value is written in JSON.
type ValueKind uint8

const (
	NoValue     ValueKind = iota // a complex element, or a primitive with only id/extension
	StringValue                  // written as a JSON string
	NumberValue                  // written as a JSON number; Value keeps the literal exactly
	BoolValue                    // written as true or false
)

// Node is one element of a resource tree: a resource, a complex value, a
// backbone element or a primitive. A primitive keeps its JSON text exactly
// (decimals are never converted to floating point) and may also carry the id
// and extensions that JSON writes under "_name".
type Node struct {
	Type   string   // FHIR type code, e.g. "Patient", "Quantity", "dateTime", "BackboneElement"
	Elem   *Element // the definition this node instantiates (a type's root for resources)
	Kind   ValueKind
	Value  string  // primitive value: unescaped string, number literal, "true" or "false"
	Fields []Field // children in the order they are serialised
}

// Field is one named child of a node: all values of one element.
type Field struct {
	Name  string   // JSON property name, e.g. "valueQuantity"
	Elem  *Element // definition
	Nodes []*Node  // one for a singular element; several for a repeating one
}

// IsResource reports whether n is a resource.
func (n *Node) IsResource() bool {
	t := Type(n.Type)
	return t != nil && t.Kind == KindResource
}

// Field returns the field with JSON name name, or nil.
func (n *Node) Field(name string) *Field {
	for i := range n.Fields {
		if n.Fields[i].Name == name {
			return &n.Fields[i]
		}
	}
	return nil
}

// Get returns the values of the child element with FHIRPath name name (for
// a choice element, whatever type was sent). A nil node has no children.
func (n *Node) Get(name string) []*Node {
	if n == nil {
		return nil
	}
	for i := range n.Fields {
		f := &n.Fields[i]
		if f.Elem != nil && f.Elem.Name == name {
			return f.Nodes
		}
	}
	return nil
}

// First returns the first value of the child element name, or nil.
func (n *Node) First(name string) *Node {
	if v := n.Get(name); len(v) > 0 {
		return v[0]
	}
	return nil
}

// String returns the primitive value of child name ("" when absent).
func (n *Node) String(name string) string {
	if c := n.First(name); c != nil {
		return c.Value
	}
	return ""
}

// ID returns the resource's logical id.
func (n *Node) ID() string { return n.String("id") }

// Set replaces (or adds) the single-valued primitive child name with a
// string value. It is meant for server-managed elements such as id and
// meta.versionId; the child element must exist in n's definition.
func (n *Node) Set(name, value string) bool {
	e := n.childElement(name)
	if e == nil {
		return false
	}
	typ := e.Types[0]
	v := &Node{Type: typ, Elem: e, Kind: StringValue, Value: value}
	if f := n.Field(name); f != nil {
		f.Nodes = []*Node{v}
		return true
	}
	n.InsertField(Field{Name: name, Elem: e, Nodes: []*Node{v}})
	return true
}

// Ensure returns the single complex child name, adding an empty one when
// it is absent (e.g. a resource's meta).
func (n *Node) Ensure(name string) *Node {
	if c := n.First(name); c != nil {
		return c
	}
	e := n.childElement(name)
	if e == nil {
		return nil
	}
	c := &Node{Type: e.Types[0], Elem: e}
	n.InsertField(Field{Name: name, Elem: e, Nodes: []*Node{c}})
	return c
}

// Remove deletes the child with JSON name name.
func (n *Node) Remove(name string) {
	for i := range n.Fields {
		if n.Fields[i].Name == name {
			n.Fields = append(n.Fields[:i], n.Fields[i+1:]...)
			return
		}
	}
}

func (n *Node) childElement(name string) *Element {
	for _, k := range Children(n.Elem, n.Type) {
		if e := &specElements[k]; e.Name == name && !e.Choice {
			return e
		}
	}
	return nil
}

// InsertField adds the field f to n at its position in definition order.
// n must not already have a field for f.Elem.
func (n *Node) InsertField(f Field) {
	kids := Children(n.Elem, n.Type)
	pos := func(e *Element) int {
		for i, k := range kids {
			if &specElements[k] == e {
				return i
			}
		}
		return len(kids)
	}
	p := pos(f.Elem)
	at := len(n.Fields)
	for i := range n.Fields {
		if pos(n.Fields[i].Elem) > p {
			at = i
			break
		}
	}
	n.Fields = append(n.Fields, Field{})
	copy(n.Fields[at+1:], n.Fields[at:])
	n.Fields[at] = f
}

// Clone returns a deep copy of n.
func (n *Node) Clone() *Node {
	c := *n
	c.Fields = make([]Field, len(n.Fields))
	for i, f := range n.Fields {
		nf := f
		nf.Nodes = make([]*Node, len(f.Nodes))
		for j, v := range f.Nodes {
			nf.Nodes[j] = v.Clone()
		}
		c.Fields[i] = nf
	}
	return &c
}

// Ref is a parsed literal reference "Type/id[/_history/vid]".
type Ref struct {
	Type, ID, Version string
}

// ParseRef splits a relative literal reference. It returns false for
// anything else (absolute URLs, fragments, urn:uuid).
func ParseRef(s string) (Ref, bool) {
	typ, rest, ok := strings.Cut(s, "/")
	if !ok || !IsResourceType(typ) {
		return Ref{}, false
	}
	id, hist, _ := strings.Cut(rest, "/_history/")
	if !ValidID(id) {
		return Ref{}, false
	}
	if hist != "" && !ValidID(hist) {
		return Ref{}, false
	}
	return Ref{Type: typ, ID: id, Version: hist}, true
}

// String formats r as a relative reference.
func (r Ref) String() string {
	s := r.Type + "/" + r.ID
	if r.Version != "" {
		s += "/_history/" + r.Version
	}
	return s
}

// ValidID reports whether s is a valid FHIR logical id: 1 to 64 characters
// of [A-Za-z0-9\-\.].
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Append adds a value to the repeating child element name and returns it:
// an empty node of the element's type for the caller to fill.
func (n *Node) Append(name string) *Node {
	e := n.childElement(name)
	if e == nil {
		return nil
	}
	c := &Node{Type: e.Types[0], Elem: e}
	if f := n.Field(name); f != nil {
		f.Nodes = append(f.Nodes, c)
		return c
	}
	n.InsertField(Field{Name: name, Elem: e, Nodes: []*Node{c}})
	return c
}
