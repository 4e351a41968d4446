package fhirpath

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
)

// Expr is a compiled FHIRPath expression. It is immutable and safe for
// concurrent use.
type Expr struct {
	src  string
	root node
}

// String returns the source text of the expression.
func (e *Expr) String() string { return e.src }

// Options configure one evaluation. The zero value (or nil) is usable:
// %resource and %rootResource default to the input, limits to
// DefaultLimits, and the clock to time.Now.
type Options struct {
	// Resource is %resource: the resource that contains the input. Nil
	// means the input itself (when it is a resource).
	Resource *fhir.Node
	// RootResource is %rootResource: the container of Resource when it
	// is contained, else Resource.
	RootResource *fhir.Node
	// Variables are caller-supplied environment variables, named without
	// the leading %.
	Variables map[string]Collection
	// Resolve finds the resource a reference points to, for resolve().
	// It is called with the reference text (relative, absolute, urn: or
	// "#id" when the caller wants to handle contained resources itself)
	// and returns nil when the target is unknown. It may be called
	// concurrently from concurrent evaluations. Without it, resolve()
	// finds contained resources ("#id") and Bundle entries by fullUrl
	// within %rootResource.
	Resolve func(reference string) *fhir.Node
	// MemberOf answers memberOf(valueSet) for a code, Coding or
	// CodeableConcept element (or a String). It returns an error when the
	// value set is unknown; memberOf() is then empty. Without it,
	// memberOf() uses the required bindings known to the fhir package.
	MemberOf func(v Value, valueSet string) (bool, error)
	// Trace receives the output of trace(name). Nil discards it.
	Trace func(name string, c Collection)
	// Now fixes now(), today() and timeOfDay(); zero means the clock.
	Now time.Time
	// Limits bound the work of one evaluation.
	Limits Limits
	// Strict reports more mistakes as errors instead of empty results: a
	// type name at the start of a path that does not match the input, an
	// element name that the input's type does not have, and order-dependent
	// functions (first(), skip(), ...) applied to children() or
	// descendants(). Without it only JSON names of choice elements
	// (valueQuantity for value) are errors.
	Strict bool
	// LenientAs makes "x as T" and x.as(T) filter a collection of several
	// items like ofType(T), instead of failing as FHIRPath N1 requires.
	// The expressions of the R4 specification (search parameters such as
	// "ActivityDefinition.useContext.value as CodeableConcept", and dom-3)
	// rely on it; CheckInvariants sets it.
	LenientAs bool
}

// Limits bound the work an evaluation may do. Zero fields take the values
// of DefaultLimits. Exceeding a limit stops the evaluation with an error
// wrapping ErrLimit.
type Limits struct {
	MaxDepth int           // nesting of function calls and iterations
	MaxItems int           // items in any intermediate collection
	MaxSteps int           // evaluation steps (about one per operator or item)
	Timeout  time.Duration // wall-clock time of one evaluation; 0 means none
}

// DefaultLimits are generous for invariants and search parameters and
// small enough that a hostile expression cannot exhaust the server.
var DefaultLimits = Limits{MaxDepth: 128, MaxItems: 1_000_000, MaxSteps: 50_000_000}

// ErrLimit is wrapped by errors that report an exceeded evaluation limit.
var ErrLimit = errors.New("fhirpath: evaluation limit exceeded")

// EvalError is an error raised while evaluating an expression: a type
// mismatch, a singleton rule broken, an unknown element name, a limit.
type EvalError struct {
	Msg string
	Err error // ErrLimit for limits, else nil
}

func (e *EvalError) Error() string { return "fhirpath: " + e.Msg }
func (e *EvalError) Unwrap() error { return e.Err }

func evalErrorf(format string, args ...any) error {
	return &EvalError{Msg: fmt.Sprintf(format, args...)}
}

func limitError(format string, args ...any) error {
	return &EvalError{Msg: fmt.Sprintf(format, args...), Err: ErrLimit}
}

// node is a compiled expression: it maps a focus collection to a result.
// A node never modifies the focus it is given nor a collection that
// another node returned; results may share storage with the focus or with
// literals, so a caller that wants to append copies first.
type node interface {
	eval(e *env, focus Collection) (Collection, error)
}

// env is the state of one evaluation.
type env struct {
	opts     *Options
	context  Collection
	resource Collection
	root     Collection
	this     Collection // $this: the root input, or the current item
	index    int        // $index
	total    Collection // $total (aggregate)
	steps    int
	depth    int
	lim      Limits
	deadline time.Time
	now      time.Time
	in       [1]Value // storage for a single input
}

var envPool = sync.Pool{New: func() any { return new(env) }}

// Evaluate evaluates the expression with a tree node as input (usually a
// resource).
func (x *Expr) Evaluate(input *fhir.Node, opts *Options) (Collection, error) {
	if input == nil {
		return x.EvaluateCollection(nil, opts)
	}
	e := envPool.Get().(*env)
	e.in[0] = Element{input}
	out, err := x.evaluate(e, e.in[:], opts)
	if len(out) > 0 && &out[0] == &e.in[0] {
		// The result is the input itself: it must not share the pooled
		// storage.
		out = Collection{out[0]}
	}
	e.in[0] = nil
	envPool.Put(e)
	return out, err
}

// EvaluateCollection evaluates the expression with any collection as input.
func (x *Expr) EvaluateCollection(input Collection, opts *Options) (Collection, error) {
	e := envPool.Get().(*env)
	out, err := x.evaluate(e, input, opts)
	envPool.Put(e)
	return out, err
}

var noOptions = &Options{}

// evaluate runs the expression with e, a pooled env whose in field the
// caller may have filled.
func (x *Expr) evaluate(e *env, input Collection, opts *Options) (out Collection, err error) {
	if opts == nil {
		opts = noOptions
	}
	in := e.in
	*e = env{opts: opts, context: input, this: input, lim: opts.Limits, in: in}
	if e.lim.MaxDepth <= 0 {
		e.lim.MaxDepth = DefaultLimits.MaxDepth
	}
	if e.lim.MaxItems <= 0 {
		e.lim.MaxItems = DefaultLimits.MaxItems
	}
	if e.lim.MaxSteps <= 0 {
		e.lim.MaxSteps = DefaultLimits.MaxSteps
	}
	if e.lim.Timeout > 0 {
		e.deadline = time.Now().Add(e.lim.Timeout)
	}
	if opts.Resource != nil {
		e.resource = Collection{Element{opts.Resource}}
	} else if len(input) == 1 {
		if el, ok := input[0].(Element); ok && el.Node.IsResource() {
			e.resource = input[:1:1]
		}
	}
	if opts.RootResource != nil {
		e.root = Collection{Element{opts.RootResource}}
	} else {
		e.root = e.resource
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, evalErrorf("internal error: %v", r)
		}
		*e = env{in: e.in}
	}()
	return x.root.eval(e, input)
}

// step counts work and checks the limits.
func (e *env) step(n int) error {
	e.steps += n
	if e.steps > e.lim.MaxSteps {
		return limitError("more than %d evaluation steps", e.lim.MaxSteps)
	}
	if e.steps&1023 < n {
		if !e.deadline.IsZero() && time.Now().After(e.deadline) {
			return limitError("evaluation took longer than %s", e.lim.Timeout)
		}
	}
	return nil
}

func (e *env) checkSize(c Collection) error {
	if len(c) > e.lim.MaxItems {
		return limitError("a collection of more than %d items", e.lim.MaxItems)
	}
	return nil
}

func (e *env) enter() error {
	e.depth++
	if e.depth > e.lim.MaxDepth {
		return limitError("nesting deeper than %d", e.lim.MaxDepth)
	}
	return nil
}

func (e *env) clock() time.Time {
	if e.now.IsZero() {
		if !e.opts.Now.IsZero() {
			e.now = e.opts.Now
		} else {
			e.now = time.Now()
		}
	}
	return e.now
}

// literal is a constant collection.
type literal struct{ val Collection }

func (l *literal) eval(e *env, focus Collection) (Collection, error) { return l.val, nil }

type thisNode struct{}

func (thisNode) eval(e *env, focus Collection) (Collection, error) { return e.this, nil }

type indexVar struct{}

func (indexVar) eval(e *env, focus Collection) (Collection, error) {
	return Collection{Integer(e.index)}, nil
}

type totalVar struct{}

func (totalVar) eval(e *env, focus Collection) (Collection, error) { return e.total, nil }

// envVar is %name.
type envVar struct{ name string }

func (v *envVar) eval(e *env, focus Collection) (Collection, error) {
	switch v.name {
	case "context":
		return e.context, nil
	case "resource":
		return e.resource, nil
	case "rootResource":
		return e.root, nil
	case "ucum":
		return Collection{String(ucumSystem)}, nil
	case "sct":
		return Collection{String("http://snomed.info/sct")}, nil
	case "loinc":
		return Collection{String("http://loinc.org")}, nil
	}
	if c, ok := e.opts.Variables[v.name]; ok {
		return c, nil
	}
	if rest, ok := strings.CutPrefix(v.name, "vs-"); ok {
		return Collection{String("http://hl7.org/fhir/ValueSet/" + rest)}, nil
	}
	if rest, ok := strings.CutPrefix(v.name, "ext-"); ok {
		return Collection{String("http://hl7.org/fhir/StructureDefinition/" + rest)}, nil
	}
	return nil, evalErrorf("unknown variable %%%s", v.name)
}

// headMember is an identifier at the start of an expression: an element
// name of the input, or a type name that filters the input.
func headMember(name string) node {
	if isTypeHead(name) {
		return &pathNode{typeHead: name}
	}
	return &pathNode{names: []string{name}}
}

// pathNode navigates child elements: recv.a.b.c, or a.b.c from the focus,
// optionally starting with a type name (Patient.name.given).
type pathNode struct {
	recv     node
	typeHead string // a type name that filters the focus first
	names    []string
}

func chainMember(recv node, name string) node {
	switch r := recv.(type) {
	case *pathNode:
		if len(r.names) >= maxPathNames {
			break
		}
		return &pathNode{recv: r.recv, typeHead: r.typeHead, names: append(r.names[:len(r.names):len(r.names)], name)}
	}
	return &pathNode{recv: recv, names: []string{name}}
}

// isTypeHead reports whether an identifier at the start of a path names a
// type (FHIR element names never start with a capital letter).
func isTypeHead(name string) bool {
	if name == "" || name[0] < 'A' || name[0] > 'Z' {
		return false
	}
	return fhir.Type(name) != nil
}

func (p *pathNode) eval(e *env, focus Collection) (Collection, error) {
	if err := e.step(1); err != nil {
		return nil, err
	}
	src := focus
	if p.recv != nil {
		var err error
		if src, err = p.recv.eval(e, focus); err != nil {
			return nil, err
		}
	}
	return p.evalFrom(e, src)
}

func (p *pathNode) evalFrom(e *env, src Collection) (Collection, error) {
	if p.typeHead != "" {
		filtered := src
		all := true
		for _, v := range src {
			if !valueIsA(v, p.typeHead) {
				all = false
				break
			}
		}
		if !all {
			filtered = nil
			for _, v := range src {
				if valueIsA(v, p.typeHead) {
					filtered = append(filtered, v)
				}
			}
		}
		if len(filtered) == 0 && len(src) > 0 && e.opts.Strict {
			return nil, evalErrorf("the input is a %s, not a %s", src[0].TypeName(), p.typeHead)
		}
		src = filtered
	}
	if len(p.names) == 0 {
		return src, nil
	}
	w := walker{names: p.names, strict: e.opts.Strict}
	if len(p.names) > len(w.seen) {
		return nil, evalErrorf("path too long")
	}
	for _, v := range src {
		switch x := v.(type) {
		case Element:
			w.walk(x.Node, 0)
		case TypeInfo:
			if len(p.names) == 1 {
				switch p.names[0] {
				case "namespace":
					w.out = append(w.out, String(x.Namespace))
				case "name":
					w.out = append(w.out, String(x.Name))
				}
			}
		}
	}
	for i, s := range w.seen[:len(p.names)] {
		if s == seenInvalid {
			return nil, evalErrorf("%s is not an element of %s", p.names[i], w.badType[i])
		}
	}
	if err := e.step(len(w.out)); err != nil {
		return nil, err
	}
	if err := e.checkSize(w.out); err != nil {
		return nil, err
	}
	return w.out, nil
}

const (
	seenNone    = 0
	seenInvalid = 1
	seenValid   = 2
)

type walker struct {
	names   []string
	strict  bool
	out     Collection
	seen    [maxPathNames]uint8 // per level: whether the name was valid for some node
	badType map[int]string
}

// maxPathNames bounds the names fused in one path node; longer paths are
// split by chainMember.
const maxPathNames = 16

func (w *walker) walk(n *fhir.Node, i int) {
	name := w.names[i]
	last := i == len(w.names)-1
	for fi := range n.Fields {
		f := &n.Fields[fi]
		if f.Elem == nil || f.Elem.Name != name {
			continue
		}
		w.seen[i] = seenValid
		for _, c := range f.Nodes {
			if last {
				if w.out == nil {
					w.out = make(Collection, 0, max(4, len(f.Nodes)))
				}
				w.out = append(w.out, Element{c})
			} else {
				w.walk(c, i+1)
			}
		}
		// Choice elements appear once; other names once too.
		return
	}
	if w.seen[i] == seenValid {
		return
	}
	if hasChild(n, name) || !w.strict && !isChoiceJSONName(n, name) {
		w.seen[i] = seenValid
		return
	}
	w.seen[i] = seenInvalid
	if w.badType == nil {
		w.badType = map[int]string{}
	}
	w.badType[i] = n.Type
}

// hasChild reports whether name is an element of n's definition.
func hasChild(n *fhir.Node, name string) bool {
	for _, k := range fhir.Children(n.Elem, n.Type) {
		if fhir.ElementAt(k).Name == name {
			return true
		}
	}
	if n.Elem != nil && len(n.Elem.Kids) > 0 {
		// Backbone elements also have the children of their base type.
		if name == "id" || name == "extension" || name == "modifierExtension" {
			return true
		}
	}
	return false
}

// isChoiceJSONName reports whether name is the JSON name of a choice
// element of n (valueQuantity for value[x]), which FHIRPath spells value.
func isChoiceJSONName(n *fhir.Node, name string) bool {
	for _, k := range fhir.Children(n.Elem, n.Type) {
		e := fhir.ElementAt(k)
		if e.Choice && len(name) > len(e.Name) && strings.HasPrefix(name, e.Name) {
			suffix := name[len(e.Name):]
			for _, t := range e.Types {
				if strings.EqualFold(t, suffix) {
					return true
				}
			}
		}
	}
	return false
}

// valueIsA reports whether v is of the named type or a subtype.
func valueIsA(v Value, name string) bool {
	ts, ok := resolveType(name)
	if !ok {
		return false
	}
	return ts.matches(v, false)
}

// indexer is x[i].
type indexer struct {
	x, idx node
	pos    int
}

func (n *indexer) eval(e *env, focus Collection) (Collection, error) {
	c, err := n.x.eval(e, focus)
	if err != nil {
		return nil, err
	}
	ic, err := n.idx.eval(e, e.this)
	if err != nil {
		return nil, err
	}
	v, err := singleton(ic, "an index")
	if err != nil || v == nil {
		return nil, err
	}
	sv, _ := system(v)
	i, ok := sv.(Integer)
	if !ok {
		return nil, evalErrorf("an index must be an integer, not %s", v.TypeName())
	}
	if i < 0 || int(i) >= len(c) {
		return nil, nil
	}
	return c[i : i+1 : i+1], nil
}

// unaryOp is +x or -x.
type unaryOp struct {
	neg bool
	x   node
}

func (u *unaryOp) eval(e *env, focus Collection) (Collection, error) {
	c, err := u.x.eval(e, focus)
	if err != nil {
		return nil, err
	}
	v, err := singleton(c, "a unary operator")
	if err != nil || v == nil {
		return nil, err
	}
	sv, _ := system(v)
	if !u.neg {
		switch sv.(type) {
		case Integer, Decimal, Quantity:
			return Collection{sv}, nil
		}
		return nil, evalErrorf("unary + needs a number, not %s", v.TypeName())
	}
	r, ok := negate(sv)
	if !ok {
		return nil, evalErrorf("unary - needs a number, not %s", v.TypeName())
	}
	return Collection{r}, nil
}

// typeSpec is a resolved type name.
type typeSpec struct {
	name   string // the unqualified name
	fhir   bool   // may match FHIR elements
	system bool   // may match System values
}

var systemTypes = map[string]bool{
	"Boolean": true, "Integer": true, "Decimal": true, "String": true, "Date": true,
	"DateTime": true, "Time": true, "Quantity": true, "Any": true,
}

func resolveType(name string) (typeSpec, bool) {
	if rest, ok := strings.CutPrefix(name, "System."); ok {
		// An unknown System type is valid and matches nothing.
		return typeSpec{name: rest, system: true}, isIdentName(rest)
	}
	if rest, ok := strings.CutPrefix(name, "FHIR."); ok {
		return typeSpec{name: rest, fhir: true}, fhir.Type(rest) != nil || rest == "Resource" || rest == "Element"
	}
	ts := typeSpec{name: name, fhir: fhir.Type(name) != nil, system: systemTypes[name]}
	return ts, ts.fhir || ts.system
}

func isIdentName(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentPart(s[i]) {
			return false
		}
	}
	return true
}

// matches reports whether v is of the type: for exact (as, ofType),
// primitives must have exactly the type; otherwise subtypes match too.
func (t typeSpec) matches(v Value, exact bool) bool {
	if el, ok := v.(Element); ok {
		if !t.fhir {
			return false
		}
		if el.Node.Type == t.name {
			return true
		}
		if exact && isPrimitiveType(el.Node.Type) {
			return false
		}
		td := fhir.Type(el.Node.Type)
		return td != nil && td.IsA(t.name)
	}
	if !t.system {
		return false
	}
	if t.name == "Any" {
		return true
	}
	return v.TypeName() == "System."+t.name
}

// typeOp is "x is T" or "x as T".
type typeOp struct {
	op string
	x  node
	t  typeSpec
}

func (n *typeOp) eval(e *env, focus Collection) (Collection, error) {
	c, err := n.x.eval(e, focus)
	if err != nil {
		return nil, err
	}
	return typeTest(e, n.op, c, n.t)
}

func typeTest(e *env, op string, c Collection, t typeSpec) (Collection, error) {
	if len(c) == 0 {
		return nil, nil
	}
	if len(c) > 1 && op == "as" && e.opts.LenientAs {
		return ofType(c, t), nil
	}
	if len(c) > 1 {
		return nil, evalErrorf("'%s' expects a single item, got %d", op, len(c))
	}
	if op == "is" {
		return boolColl(t.matches(c[0], false)), nil
	}
	if t.matches(c[0], true) {
		return c, nil
	}
	return nil, nil
}

// ofType keeps the items of exactly type t (or a subtype, for complex
// types and resources).
func ofType(c Collection, t typeSpec) Collection {
	all := true
	for _, v := range c {
		if !t.matches(v, true) {
			all = false
			break
		}
	}
	if all {
		return c
	}
	var out Collection
	for _, v := range c {
		if t.matches(v, true) {
			out = append(out, v)
		}
	}
	return out
}

var (
	trueColl  = Collection{Boolean(true)}
	falseColl = Collection{Boolean(false)}
)

func boolColl(b bool) Collection {
	if b {
		return trueColl
	}
	return falseColl
}
