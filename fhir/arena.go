package fhir

import "github.com/go-json-experiment/json/jsontext"

// arena hands out the nodes, field lists and node lists of one Parse from
// a few large allocations instead of one allocation each, and keeps the
// scratch stacks the parser reuses while it reads.
//
// Every slice it hands out has no spare capacity, so appending to one later
// (Node.Set, Node.Append) copies it instead of overwriting a neighbour. A
// tree keeps its chunks alive as long as any of its nodes is reachable.
type arena struct {
	nodes  []Node
	fields []Field
	ptrs   []*Node
	// How many of each have been handed out: with the share of the input
	// read so far, they size the next chunk.
	nodesUsed, fieldsUsed, ptrsUsed int

	// size is the length of the input; dec reads it from offset base
	// (a parser that reads part of the input again moves them).
	size int
	dec  *jsontext.Decoder
	base int

	// stack holds the fields of the objects being read, innermost last;
	// items the values of the arrays being read.
	stack []Field
	items []*Node

	// paths is a pool of path steps used as a stack: depth are in use.
	paths []*elemPath
	depth int

	// unquoted is room for unescaping strings.
	unquoted []byte
}

func newArena(size int, dec *jsontext.Decoder) *arena {
	return &arena{
		size:  size,
		dec:   dec,
		stack: make([]Field, 0, 16),
		items: make([]*Node, 0, 16),
	}
}

// chunk returns how many items the next chunk should hold when used have
// been handed out and at least need are wanted now: what the rest of the
// input will need if it is like the part read so far.
func (a *arena) chunk(used, need int) int {
	done := a.base + int(a.dec.InputOffset())
	n := a.size / 128 // the R4 examples average one node per 80 bytes
	if used > 0 && done > 0 {
		n = used * (a.size - done) / done
	}
	return max(need, min(max(n+16, 16), 4096))
}

// node returns a new node of type typ for element e.
func (a *arena) node(typ string, e *Element) *Node {
	if len(a.nodes) == 0 {
		a.nodes = make([]Node, a.chunk(a.nodesUsed, 1))
	}
	n := &a.nodes[0]
	a.nodes = a.nodes[1:]
	a.nodesUsed++
	n.Type, n.Elem = typ, e
	return n
}

// fieldList returns a list of n zero fields.
func (a *arena) fieldList(n int) []Field {
	if n > len(a.fields) {
		a.fields = make([]Field, a.chunk(a.fieldsUsed, n))
	}
	l := a.fields[:n:n]
	a.fields = a.fields[n:]
	a.fieldsUsed += n
	return l
}

// nodeList returns a list of n nil nodes.
func (a *arena) nodeList(n int) []*Node {
	if n > len(a.ptrs) {
		a.ptrs = make([]*Node, a.chunk(a.ptrsUsed, n))
	}
	l := a.ptrs[:n:n]
	a.ptrs = a.ptrs[n:]
	a.ptrsUsed += n
	return l
}

// fieldFor returns the index on the stack of the field for JSON name name
// (element e) among the fields from index from, adding it.
func (a *arena) fieldFor(from int, name string, e *Element) int {
	for i := from; i < len(a.stack); i++ {
		if a.stack[i].Name == name {
			return i
		}
	}
	a.stack = append(a.stack, Field{Name: name, Elem: e})
	return len(a.stack) - 1
}

// nodeAt returns the node at position i of the field at index fi on the
// stack, or nil.
func (a *arena) nodeAt(fi, i int) *Node {
	if f := &a.stack[fi]; i < len(f.Nodes) {
		return f.Nodes[i]
	}
	return nil
}

// setFirst places v (unless nil) first in the field at index fi.
func (a *arena) setFirst(fi int, v *Node) {
	if v == nil {
		return
	}
	f := &a.stack[fi]
	if len(f.Nodes) == 0 {
		f.Nodes = a.nodeList(1)
	}
	f.Nodes[0] = v
}

// setItems places the values of an array in the field at index fi, each at
// its position; nil values leave the position as it is.
func (a *arena) setItems(fi int, vs []*Node) {
	last := len(vs) - 1
	for last >= 0 && vs[last] == nil {
		last--
	}
	if last < 0 {
		return
	}
	f := &a.stack[fi]
	if last >= len(f.Nodes) {
		l := a.nodeList(last + 1)
		copy(l, f.Nodes)
		f.Nodes = l
	}
	for i, v := range vs[:last+1] {
		if v != nil {
			f.Nodes[i] = v
		}
	}
}

// pushPath returns a path step below parent, valid until the matching
// popPath.
func (a *arena) pushPath(parent *elemPath, name, typ string, index int) *elemPath {
	if a.depth == len(a.paths) {
		block := make([]elemPath, 16)
		for i := range block {
			a.paths = append(a.paths, &block[i])
		}
	}
	p := a.paths[a.depth]
	a.depth++
	*p = elemPath{parent: parent, name: name, typ: typ, index: index}
	return p
}

func (a *arena) popPath() { a.depth-- }
