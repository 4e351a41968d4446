// Package fhirpatch applies FHIRPath Patch documents
// (https://hl7.org/fhir/R4/fhirpatch.html): a Parameters resource whose
// "operation" parameters add, insert, delete, replace or move elements
// found by FHIRPath expressions.
//
// Apply edits the resource tree in place and checks only what the patch
// itself requires (each path finds what its operation needs, values fit the
// element they go to). The caller serialises the result and validates it
// like any other write: a patch whose result is not a valid resource is
// refused there.
package fhirpatch

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/fhirpath"
)

// Error is a patch that cannot be applied. Op is the 1-based position of
// the operation in the document (0 for the document itself).
type Error struct {
	Op  int
	Msg string
}

func (e *Error) Error() string {
	if e.Op == 0 {
		return "fhirpatch: " + e.Msg
	}
	return fmt.Sprintf("fhirpatch: operation %d: %s", e.Op, e.Msg)
}

// operation is one parsed "operation" parameter.
type operation struct {
	typ, path, name     string
	value               *fhir.Node // value[x], or nil
	parts               []*fhir.Node
	index, source, dest int
	hasIndex            bool
}

// maxOperations bounds the work of one patch document.
const maxOperations = 1000

// Apply applies the FHIRPath Patch patch (a parsed Parameters resource) to
// res. It stops at the first operation that cannot be applied; res may
// then be partly edited and should be discarded.
func Apply(res, patch *fhir.Node) error {
	if patch == nil || patch.Type != "Parameters" {
		return &Error{Msg: "a FHIRPath Patch document is a Parameters resource"}
	}
	ops, err := parse(patch)
	if err != nil {
		return err
	}
	for i, op := range ops {
		if err := apply(res, op); err != nil {
			return &Error{Op: i + 1, Msg: err.Error()}
		}
	}
	prune(res)
	return nil
}

// prune drops what deletes and moves left empty: fields without values,
// and complex values without children (an element must have content).
func prune(n *fhir.Node) {
	kept := n.Fields[:0]
	for _, f := range n.Fields {
		vals := f.Nodes[:0]
		for _, c := range f.Nodes {
			prune(c)
			if c.Kind == fhir.NoValue && len(c.Fields) == 0 {
				continue
			}
			vals = append(vals, c)
		}
		if f.Nodes = vals; len(vals) > 0 {
			kept = append(kept, f)
		}
	}
	n.Fields = kept
}

func parse(patch *fhir.Node) ([]operation, error) {
	params := patch.Get("parameter")
	if len(params) > maxOperations {
		return nil, &Error{Msg: fmt.Sprintf("more than %d operations", maxOperations)}
	}
	var ops []operation
	for i, p := range params {
		if p.String("name") != "operation" {
			return nil, &Error{Op: i + 1, Msg: "every parameter of a FHIRPath Patch is named \"operation\""}
		}
		op := operation{index: -1, source: -1, dest: -1}
		for _, part := range p.Get("part") {
			name := part.String("name")
			v := value(part)
			switch name {
			case "type":
				op.typ = primitive(v)
			case "path":
				op.path = primitive(v)
			case "name":
				op.name = primitive(v)
			case "value":
				op.value, op.parts = v, part.Get("part")
			case "index", "source", "destination":
				n, err := strconv.Atoi(primitive(v))
				if err != nil || n < 0 {
					return nil, &Error{Op: i + 1, Msg: name + " must be a non-negative integer"}
				}
				switch name {
				case "index":
					op.index, op.hasIndex = n, true
				case "source":
					op.source = n
				default:
					op.dest = n
				}
			default:
				return nil, &Error{Op: i + 1, Msg: fmt.Sprintf("unknown part %q", name)}
			}
		}
		if op.path == "" {
			return nil, &Error{Op: i + 1, Msg: "the path is missing"}
		}
		need := map[string]func() bool{
			"add":     func() bool { return op.name != "" && op.hasValue() },
			"insert":  func() bool { return op.hasIndex && op.hasValue() },
			"delete":  func() bool { return true },
			"replace": func() bool { return op.hasValue() },
			"move":    func() bool { return op.source >= 0 && op.dest >= 0 },
		}[op.typ]
		if need == nil {
			return nil, &Error{Op: i + 1, Msg: fmt.Sprintf("unknown operation type %q", op.typ)}
		}
		if !need() {
			return nil, &Error{Op: i + 1, Msg: op.typ + " lacks a part it needs (name, value, index, source or destination)"}
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func (op *operation) hasValue() bool { return op.value != nil || len(op.parts) > 0 }

// value returns a parameter's value[x] node, or nil.
func value(p *fhir.Node) *fhir.Node {
	for _, f := range p.Fields {
		if f.Elem != nil && f.Elem.Name == "value" && len(f.Nodes) > 0 {
			return f.Nodes[0]
		}
	}
	return nil
}

func primitive(v *fhir.Node) string {
	if v == nil {
		return ""
	}
	return v.Value
}

func apply(res *fhir.Node, op operation) error {
	expr, err := fhirpath.Compile(op.path)
	if err != nil {
		return fmt.Errorf("the path does not compile: %v", err)
	}
	found, err := expr.Evaluate(res, nil)
	if err != nil {
		return fmt.Errorf("the path cannot be evaluated: %v", err)
	}
	var nodes []*fhir.Node
	for _, v := range found {
		e, ok := v.(fhirpath.Element)
		if !ok {
			return errors.New("the path finds values that are not elements of the resource")
		}
		nodes = append(nodes, e.Node)
	}
	switch op.typ {
	case "add":
		if len(nodes) != 1 {
			return fmt.Errorf("add needs a path to exactly one element, found %d", len(nodes))
		}
		return add(nodes[0], op)
	case "delete":
		if len(nodes) == 0 {
			return nil // nothing to delete is not an error
		}
		if len(nodes) > 1 {
			return fmt.Errorf("delete needs a path to at most one element, found %d", len(nodes))
		}
		f, i := locate(res, nodes[0])
		if f == nil {
			return errors.New("the path finds the resource itself, which cannot be deleted")
		}
		f.Nodes = append(f.Nodes[:i:i], f.Nodes[i+1:]...)
		return nil
	case "replace":
		if len(nodes) != 1 {
			return fmt.Errorf("replace needs a path to exactly one element, found %d", len(nodes))
		}
		f, i := locate(res, nodes[0])
		if f == nil {
			return errors.New("the resource itself cannot be replaced")
		}
		v, err := build(f.Elem, nodes[0].Type, op)
		if err != nil {
			return err
		}
		if f.Elem.Choice {
			// Another type of a choice element is another JSON name.
			if !slices.Contains(f.Elem.Types, v.Type) {
				return fmt.Errorf("%s cannot hold a %s", f.Elem.Name, v.Type)
			}
			f.Name = fhir.ChoiceName(f.Elem.Name, v.Type)
		}
		f.Nodes[i] = v
		return nil
	case "insert", "move":
		f, err := list(res, op.path, nodes)
		if err != nil {
			return err
		}
		if op.typ == "insert" {
			if op.index > len(f.Nodes) {
				return fmt.Errorf("index %d is beyond the list's %d items", op.index, len(f.Nodes))
			}
			v, err := build(f.Elem, f.Elem.Types[0], op)
			if err != nil {
				return err
			}
			f.Nodes = append(f.Nodes, nil)
			copy(f.Nodes[op.index+1:], f.Nodes[op.index:])
			f.Nodes[op.index] = v
			return nil
		}
		if op.source >= len(f.Nodes) || op.dest >= len(f.Nodes) {
			return fmt.Errorf("source %d or destination %d is beyond the list's %d items", op.source, op.dest, len(f.Nodes))
		}
		v := f.Nodes[op.source]
		f.Nodes = append(f.Nodes[:op.source:op.source], f.Nodes[op.source+1:]...)
		f.Nodes = append(f.Nodes, nil)
		copy(f.Nodes[op.dest+1:], f.Nodes[op.dest:])
		f.Nodes[op.dest] = v
		return nil
	}
	return fmt.Errorf("unknown operation type %q", op.typ)
}

// add adds op's value as child op.name of n: appended to a list, or set
// when the element is single and still empty.
func add(n *fhir.Node, op operation) error {
	e := child(n, op.name)
	if e == nil {
		return fmt.Errorf("%s has no element %q", n.Type, op.name)
	}
	typ := e.Types[0]
	if op.value != nil && e.Choice {
		typ = op.value.Type
	}
	v, err := build(e, typ, op)
	if err != nil {
		return err
	}
	for i := range n.Fields {
		f := &n.Fields[i]
		if f.Elem != e {
			continue
		}
		if !e.Array && len(f.Nodes) > 0 {
			return fmt.Errorf("%s already has a %s; use replace", n.Type, op.name)
		}
		f.Nodes = append(f.Nodes, v)
		return nil
	}
	name := op.name
	if e.Choice {
		if !slices.Contains(e.Types, v.Type) {
			return fmt.Errorf("%s cannot hold a %s", op.name, v.Type)
		}
		name = fhir.ChoiceName(e.Name, v.Type)
	}
	n.InsertField(fhir.Field{Name: name, Elem: e, Nodes: []*fhir.Node{v}})
	return nil
}

// build makes the node op's value puts in element e as a typ: the value[x]
// given (a primitive may change type, its text is checked when the result
// is validated), or a complex value assembled from the value's parts.
func build(e *fhir.Element, typ string, op operation) (*fhir.Node, error) {
	if op.value != nil {
		v := op.value.Clone()
		switch {
		case v.Type == typ:
		case isPrimitive(v.Type) && isPrimitive(typ) && !e.Choice:
			v.Type = typ
		case e.Choice && slices.Contains(e.Types, v.Type):
		default:
			return nil, fmt.Errorf("%s takes a %s, not a %s", e.Name, typ, v.Type)
		}
		v.Elem = e
		return v, nil
	}
	return fromParts(e, typ, op.parts, 0)
}

// fromParts assembles a complex value from nested parts named after its
// children.
func fromParts(e *fhir.Element, typ string, parts []*fhir.Node, depth int) (*fhir.Node, error) {
	if depth > 16 {
		return nil, errors.New("value parts are nested too deeply")
	}
	if isPrimitive(typ) {
		return nil, fmt.Errorf("%s is a %s: give it as a value, not as parts", e.Name, typ)
	}
	n := &fhir.Node{Type: typ, Elem: e}
	for _, p := range parts {
		name := p.String("name")
		ce := child(n, name)
		if ce == nil {
			return nil, fmt.Errorf("%s has no element %q", typ, name)
		}
		sub := operation{value: value(p), parts: p.Get("part")}
		ctyp := ce.Types[0]
		if sub.value != nil && ce.Choice {
			ctyp = sub.value.Type
		}
		var v *fhir.Node
		var err error
		if sub.value != nil {
			v, err = build(ce, ctyp, sub)
		} else {
			v, err = fromParts(ce, ctyp, sub.parts, depth+1)
		}
		if err != nil {
			return nil, err
		}
		if f := field(n, ce); f != nil {
			if !ce.Array {
				return nil, fmt.Errorf("%s is given twice", name)
			}
			f.Nodes = append(f.Nodes, v)
			continue
		}
		jn := name
		if ce.Choice {
			jn = fhir.ChoiceName(ce.Name, v.Type)
		}
		n.InsertField(fhir.Field{Name: jn, Elem: ce, Nodes: []*fhir.Node{v}})
	}
	return n, nil
}

// list finds the repeating element a path names: from the elements it
// found, or, when it found none, by its last step on the element the rest
// of the path finds.
func list(res *fhir.Node, path string, found []*fhir.Node) (*fhir.Field, error) {
	if len(found) > 0 {
		f, _ := locate(res, found[0])
		if f == nil {
			return nil, errors.New("the path must find a list, not the resource")
		}
		for _, n := range found[1:] {
			if g, _ := locate(res, n); g != f {
				return nil, errors.New("the path finds elements of more than one list")
			}
		}
		if len(found) != len(f.Nodes) {
			return nil, errors.New("the path finds part of a list; insert and move work on a whole list")
		}
		return f, nil
	}
	dot := strings.LastIndexByte(path, '.')
	name := path[dot+1:]
	if dot < 0 || !fhir.ValidID(name) || strings.ContainsAny(name, "-.") {
		return nil, errors.New("the path finds no list")
	}
	expr, err := fhirpath.Compile(path[:dot])
	if err != nil {
		return nil, err
	}
	got, err := expr.Evaluate(res, nil)
	if err != nil || len(got) != 1 {
		return nil, errors.New("the path finds no list")
	}
	owner, ok := got[0].(fhirpath.Element)
	if !ok {
		return nil, errors.New("the path finds no list")
	}
	e := child(owner.Node, name)
	if e == nil || !e.Array || e.Choice {
		return nil, fmt.Errorf("%s has no list %q", owner.Node.Type, name)
	}
	if f := field(owner.Node, e); f != nil {
		return f, nil
	}
	owner.Node.InsertField(fhir.Field{Name: name, Elem: e})
	return field(owner.Node, e), nil
}

// locate finds the field holding target in the tree under n, and target's
// position in it.
func locate(n, target *fhir.Node) (*fhir.Field, int) {
	for i := range n.Fields {
		f := &n.Fields[i]
		for j, c := range f.Nodes {
			if c == target {
				return f, j
			}
			if g, k := locate(c, target); g != nil {
				return g, k
			}
		}
	}
	return nil, 0
}

func field(n *fhir.Node, e *fhir.Element) *fhir.Field {
	for i := range n.Fields {
		if n.Fields[i].Elem == e {
			return &n.Fields[i]
		}
	}
	return nil
}

// child returns the definition of n's child element name (a choice
// element by its name without a type).
func child(n *fhir.Node, name string) *fhir.Element {
	for _, k := range fhir.Children(n.Elem, n.Type) {
		if e := fhir.ElementAt(k); e.Name == name {
			return e
		}
	}
	return nil
}

func isPrimitive(typ string) bool {
	return typ != "" && typ[0] >= 'a' && typ[0] <= 'z'
}
