package fhir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Limits bound the work done on untrusted input. Zero fields take the
// defaults of DefaultLimits.
type Limits struct {
	MaxBytes         int // size of the JSON text
	MaxDepth         int // JSON nesting depth
	MaxArray         int // items in one array
	MaxResourceDepth int // resources inside resources (contained, Bundle entries, Parameters)
	MaxIssues        int // issues reported before the parser stops listing them
}

// DefaultLimits are generous for clinical data and small enough that a
// hostile document cannot exhaust the server.
var DefaultLimits = Limits{
	MaxBytes:         64 << 20,
	MaxDepth:         128,
	MaxArray:         200_000,
	MaxResourceDepth: 8,
	MaxIssues:        500,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBytes > 0 {
		d.MaxBytes = l.MaxBytes
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxArray > 0 {
		d.MaxArray = l.MaxArray
	}
	if l.MaxResourceDepth > 0 {
		d.MaxResourceDepth = l.MaxResourceDepth
	}
	if l.MaxIssues > 0 {
		d.MaxIssues = l.MaxIssues
	}
	return d
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Parse reads one resource from JSON and checks it against the R4
// definitions in the same pass: unknown elements, JSON types, cardinality,
// primitive formats, required bindings, empty values, null, contained
// resources and narrative safety. It reports every problem it finds.
//
// The returned node is nil only when the input cannot be read as a resource
// at all (a fatal issue); otherwise it holds everything that was understood
// and the caller must check Outcome.HasErrors before using it. Invariants
// (FHIRPath constraints) are not evaluated here; see Validator.
//
// The strings of the returned tree (element names and values) share one
// copy of data, which they keep alive.
func Parse(data []byte, lim Limits) (*Node, *Outcome) {
	lim = lim.withDefaults()
	p := &parser{data: data, lim: lim, out: &Outcome{}}
	if len(data) > lim.MaxBytes {
		p.out.Add(Fatal, "too-long", "", "resource is %d bytes, more than the limit of %d", len(data), lim.MaxBytes)
		return nil, p.out
	}
	if bytes.HasPrefix(data, utf8BOM) {
		data = data[len(utf8BOM):]
		p.out.Add(Warning, "structure", "", "a UTF-8 byte order mark before the JSON text was ignored")
	}
	p.data = data
	p.str = string(data)
	p.dec = jsontext.NewDecoder(bytes.NewBuffer(data))
	p.arena = newArena(len(data), p.dec)
	n := p.resource(nil, 0)
	if n == nil {
		return nil, p.out
	}
	if p.fatal {
		return nil, p.out
	}
	if _, err := p.dec.ReadToken(); err != io.EOF {
		p.syntax(err, "unexpected content after the resource")
		return nil, p.out
	}
	return n, p.out
}

type parser struct {
	dec  *jsontext.Decoder
	data []byte
	// str is data as a string: names and values written without escapes
	// are substrings of it, so that they cost no allocation each.
	str   string
	arena *arena
	lim   Limits
	out   *Outcome
	fatal bool
	root  string // the resource type at the top, once known
	// overflow records the notes added once MaxIssues was reached: 1 for
	// the warning, 2 for the error.
	overflow uint8
}

func (p *parser) issue(sev, code string, path *elemPath, format string, args ...any) {
	if len(p.out.Issues) < p.lim.MaxIssues {
		p.out.Add(sev, code, path.String(), format, args...)
		return
	}
	p.issueAt(sev, code, "", format, args...)
}

// issueAt is issue with the path given as text.
func (p *parser) issueAt(sev, code, expr string, format string, args ...any) {
	if len(p.out.Issues) >= p.lim.MaxIssues {
		// Past the limit one note says that issues were left out, and one
		// error that errors were: a flood of warnings must not make the
		// resource invalid, nor a flood of warnings hide an error.
		if p.overflow&1 == 0 {
			p.overflow |= 1
			p.out.Add(Warning, "too-costly", "", "too many issues; the rest are not listed")
		}
		if (sev == Error || sev == Fatal) && p.overflow&2 == 0 {
			p.overflow |= 2
			p.out.Add(Error, "too-costly", "", "too many issues; further errors are not listed")
		}
		return
	}
	p.out.Add(sev, code, expr, format, args...)
}

// syntax records a fatal JSON syntax error and stops parsing.
func (p *parser) syntax(err error, what string) {
	if p.fatal {
		return
	}
	p.fatal = true
	msg := what
	expr := ""
	if err != nil && err != io.EOF {
		var se *jsontext.SyntacticError
		if errors.As(err, &se) {
			msg = fmt.Sprintf("invalid JSON at byte %d: %s", se.ByteOffset, strings.TrimPrefix(se.Err.Error(), "jsontext: "))
			expr = pointerPath(p.root, se.JSONPointer)
		} else {
			msg = "invalid JSON: " + strings.TrimPrefix(err.Error(), "jsontext: ")
		}
	} else if err == io.EOF {
		msg = "unexpected end of JSON input"
	}
	p.out.Issues = append(p.out.Issues, Issue{Severity: Fatal, Code: "structure", Diagnostics: msg, Expression: expr})
}

// pointerPath turns the JSON Pointer of a syntax error into the FHIRPath
// of the element it is in, as far as it can tell: "/name/0/given" in a
// Patient is Patient.name[0].given. It returns "" before the resource type
// is known.
func pointerPath(root string, ptr jsontext.Pointer) string {
	if root == "" {
		return ""
	}
	b := []byte(root)
	for tok := range ptr.Tokens() {
		if i, err := strconv.Atoi(tok); err == nil && i >= 0 && len(b) > 0 && b[len(b)-1] != ']' {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, ']')
			continue
		}
		b = AppendPathStep(b, strings.TrimPrefix(tok, "_"), "", -1)
	}
	return string(b)
}

func (p *parser) read() (jsontext.Token, bool) {
	if p.fatal {
		return jsontext.Token{}, false
	}
	tok, err := p.dec.ReadToken()
	if err != nil {
		p.syntax(err, "")
		return tok, false
	}
	return tok, true
}

// name reads an object member name. Names written without escapes (nearly
// all) are substrings of the input.
func (p *parser) name() (string, bool) {
	if p.fatal {
		return "", false
	}
	raw, err := p.dec.ReadValue()
	if err != nil {
		p.syntax(err, "")
		return "", false
	}
	if len(raw) < 2 || raw[0] != '"' {
		p.syntax(nil, "expected an object member name")
		return "", false
	}
	return p.text(raw)
}

// scalar reads a string, number, boolean or null value and returns its
// kind and text: the unescaped string, or the literal of a number or
// boolean ("" for null).
func (p *parser) scalar() (jsontext.Kind, string, bool) {
	if p.fatal {
		return 0, "", false
	}
	switch p.dec.PeekKind() {
	case '"', '0', 't', 'f', 'n':
	default:
		// Not a value: ReadToken describes what is wrong better than
		// ReadValue.
		tok, err := p.dec.ReadToken()
		if err != nil {
			p.syntax(err, "")
			return 0, "", false
		}
		return tok.Kind(), "", true
	}
	raw, err := p.dec.ReadValue()
	if err != nil {
		p.syntax(err, "")
		return 0, "", false
	}
	switch k := raw.Kind(); k {
	case 't':
		return k, "true", true
	case 'f':
		return k, "false", true
	case '"', '0':
		s, ok := p.text(raw)
		return k, s, ok
	default:
		return k, "", true
	}
}

// text returns the text of the string or number raw that the decoder has
// just read: a substring of the input when it needs no unescaping.
func (p *parser) text(raw jsontext.Value) (string, bool) {
	end := int(p.dec.InputOffset())
	start := end - len(raw)
	inPlace := start >= 0 && end <= len(p.data) && len(raw) > 0 && &raw[0] == &p.data[start]
	if raw[0] != '"' {
		if inPlace {
			return p.str[start:end], true
		}
		return string(raw), true
	}
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		if inPlace {
			return p.str[start+1 : end-1], true
		}
		return string(body), true
	}
	var err error
	p.arena.unquoted, err = jsontext.AppendUnquote(p.arena.unquoted[:0], raw)
	if err != nil {
		p.syntax(err, "")
		return "", false
	}
	return string(p.arena.unquoted), true
}

func (p *parser) skip() bool {
	if p.fatal {
		return false
	}
	if err := p.dec.SkipValue(); err != nil {
		p.syntax(err, "")
		return false
	}
	return true
}

func (p *parser) tooDeep(path *elemPath) bool {
	if p.dec.StackDepth() >= p.lim.MaxDepth {
		p.issue(Fatal, "too-costly", path, "JSON nesting is deeper than the limit of %d", p.lim.MaxDepth)
		p.fatal = true
		return true
	}
	return false
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "unexpected JSON"
}

// resource reads a JSON object that is a resource, dispatching on its
// resourceType. rdepth counts enclosing resources.
func (p *parser) resource(path *elemPath, rdepth int) *Node {
	if rdepth >= p.lim.MaxResourceDepth {
		p.issue(Error, "too-costly", path, "resources are nested deeper than the limit of %d", p.lim.MaxResourceDepth)
		p.skip()
		return nil
	}
	if k := p.dec.PeekKind(); k != '{' {
		if k == 0 {
			_, err := p.dec.ReadToken()
			p.syntax(err, "expected a JSON object")
			return nil
		}
		p.issue(Error, "structure", path, "a resource must be a JSON object, not %s", kindName(k))
		p.skip()
		return nil
	}
	start := int(p.dec.InputOffset())
	if p.tooDeep(path) {
		return nil
	}
	if _, ok := p.read(); !ok {
		return nil
	}
	var typ string
	if p.dec.PeekKind() == '"' {
		name, ok := p.name()
		if !ok {
			return nil
		}
		if name == "resourceType" {
			if p.dec.PeekKind() != '"' {
				if _, ok := p.read(); !ok {
					return nil
				}
				p.issue(Error, "structure", path, "resourceType must be a string")
				p.skipObjectRest()
				return nil
			}
			_, typ, ok = p.scalar()
			if !ok {
				return nil
			}
			return p.resourceBody(typ, path, rdepth, false)
		}
		// resourceType is not the first property: find it while reading to
		// the end of the object, then parse the object again from its start.
		if !p.skip() || !p.findResourceType(&typ) {
			return nil
		}
		end := int(p.dec.InputOffset())
		raw := bytes.TrimLeft(p.data[start:end], " \t\r\n:,[")
		if typ == "" {
			p.issue(Error, "structure", path, "the resource has no resourceType")
			return nil
		}
		off := end - len(raw)
		sub := &parser{dec: jsontext.NewDecoder(bytes.NewBuffer(raw)), data: raw, str: p.str[off:end], arena: p.arena, lim: p.lim, out: p.out}
		sub.read()
		dec, base := p.arena.dec, p.arena.base
		p.arena.dec, p.arena.base = sub.dec, base+off
		n := sub.resourceBody(typ, path, rdepth, true)
		p.arena.dec, p.arena.base = dec, base
		if sub.fatal {
			p.fatal = true
		}
		return n
	}
	// Empty object or malformed.
	if tok, ok := p.read(); ok && tok.Kind() == '}' {
		p.issue(Error, "structure", path, "the resource has no resourceType")
	}
	return nil
}

// findResourceType reads the rest of an object, setting *typ to the value
// of its "resourceType" member if that is a string. It returns false if the
// object cannot be read.
func (p *parser) findResourceType(typ *string) bool {
	for !p.fatal {
		switch p.dec.PeekKind() {
		case '}':
			_, ok := p.read()
			return ok
		case '"':
			name, ok := p.name()
			if !ok {
				return false
			}
			if name == "resourceType" && p.dec.PeekKind() == '"' {
				_, *typ, ok = p.scalar()
				if !ok {
					return false
				}
				continue
			}
		default:
			if _, ok := p.read(); !ok {
				return false
			}
		}
		if !p.skip() {
			return false
		}
	}
	return false
}

func (p *parser) skipObjectRest() bool {
	for !p.fatal {
		if p.dec.PeekKind() == '}' {
			_, ok := p.read()
			return ok
		}
		if _, ok := p.read(); !ok { // name
			return false
		}
		if !p.skip() {
			return false
		}
	}
	return false
}

// resourceBody parses the members of a resource object after '{' (and, unless
// skipType, after the resourceType member).
func (p *parser) resourceBody(typ string, path *elemPath, rdepth int, skipType bool) *Node {
	t := Type(typ)
	if t == nil || t.Kind != KindResource || t.Abstract {
		p.issue(Error, "structure", path, "unknown resource type %q", typ)
		p.skipObjectRest()
		return nil
	}
	if path == nil {
		path = &elemPath{name: typ, index: -1}
		p.root = typ
	}
	n := p.arena.node(typ, &specElements[t.Root])
	p.members(n, path, rdepth, true, skipType)
	if n.Field("contained") != nil {
		p.checkContained(n, path.String())
	}
	p.checkResource(n, path)
	return n
}

// members reads object members into n until the closing brace, then checks
// n's cardinality and emptiness. resource says that n is a resource;
// skipResourceType that its resourceType member has been read already.
//
// The fields are gathered on the arena's stack while the members (and the
// objects inside them) are read, and n gets an exact copy at the end.
func (p *parser) members(n *Node, path *elemPath, rdepth int, resource, skipResourceType bool) {
	a := p.arena
	from := len(a.stack)
	kids := Children(n.Elem, n.Type)
	p.readMembers(n, kids, from, path, rdepth, resource, skipResourceType)
	n.Fields = nil
	if m := len(a.stack) - from; m > 0 {
		n.Fields = a.fieldList(m)
		copy(n.Fields, a.stack[from:])
		a.stack = a.stack[:from]
	}
	p.finish(n, kids, path)
}

// readMembers reads the members of an object into the fields on the stack
// from index from.
func (p *parser) readMembers(n *Node, kids []int32, from int, path *elemPath, rdepth int, resource, skipResourceType bool) {
	for !p.fatal {
		if p.dec.PeekKind() == '}' {
			p.read()
			return
		}
		name, ok := p.name()
		if !ok {
			return
		}
		if resource && name == "resourceType" {
			if skipResourceType {
				p.skip()
				continue
			}
			if p.dec.PeekKind() != '"' {
				p.read()
				p.issue(Error, "structure", path, "resourceType is given twice")
				continue
			}
			_, v, ok := p.scalar()
			if ok && v != n.Type {
				p.issue(Error, "structure", path, "resourceType is given twice")
			}
			continue
		}
		if name == "fhir_comments" {
			p.issue(Error, "structure", &elemPath{parent: path, name: name, index: -1}, "unrecognized property %q: fhir_comments are not part of JSON since FHIR STU3", name)
			p.skip()
			continue
		}
		ext := false
		base := name
		if strings.HasPrefix(name, "_") {
			ext = true
			base = name[1:]
		}
		e, typ := matchElement(kids, base)
		if e == nil {
			p.issue(Error, "structure", &elemPath{parent: path, name: base, index: -1}, "unrecognized property %q", name)
			p.skip()
			continue
		}
		choice := ""
		if e.Choice {
			choice = typ
		}
		epath := p.arena.pushPath(path, e.Name, choice, -1)
		ok = p.member(n, from, name, base, e, typ, ext, epath, rdepth)
		p.arena.popPath()
		if !ok {
			return
		}
	}
}

// member reads the value of the member name (base without its "_") of
// element e, whose type is typ, into the field for base on the stack. It
// returns false when reading must stop.
func (p *parser) member(n *Node, from int, name, base string, e *Element, typ string, ext bool, epath *elemPath, rdepth int) bool {
	if ext {
		tdef := Type(typ)
		if tdef == nil || tdef.Kind != KindPrimitive {
			p.issue(Error, "structure", epath, "%q is not allowed: %s is not a primitive element", name, base)
			p.skip()
			return true
		}
	}
	a := p.arena
	fi := a.fieldFor(from, base, e)
	if !e.Array {
		if p.dec.PeekKind() == '[' {
			p.issue(Error, "structure", epath, "the property %s must not be a JSON array", name)
			p.skip()
			return true
		}
		a.setFirst(fi, p.item(n, a.nodeAt(fi, 0), e, typ, epath, ext, rdepth, false))
		return true
	}
	if k := p.dec.PeekKind(); k != '[' {
		p.issue(Error, "structure", epath, "the property %s must be a JSON array, not %s", name, kindName(k))
		if k == '{' || k == '"' || k == '0' || k == 't' || k == 'f' {
			// Read it as a one-item array so later checks still run.
			a.setFirst(fi, p.item(n, a.nodeAt(fi, 0), e, typ, epath, ext, rdepth, false))
		} else {
			p.skip()
		}
		return true
	}
	if p.tooDeep(epath) {
		return false
	}
	p.read()
	// The items are gathered on the arena's item stack (objects inside
	// them gather theirs above) and placed in the field at the end.
	start := len(a.items)
	i := 0
	for !p.fatal && p.dec.PeekKind() != ']' {
		if i >= p.lim.MaxArray {
			p.issue(Error, "too-costly", epath, "array has more than %d items", p.lim.MaxArray)
			for !p.fatal && p.dec.PeekKind() != ']' {
				p.skip()
			}
			break
		}
		ip := a.pushPath(epath.parent, epath.name, epath.typ, i)
		v := p.item(n, a.nodeAt(fi, i), e, typ, ip, ext, rdepth, true)
		a.popPath()
		a.items = append(a.items, v)
		i++
	}
	p.read()
	a.setItems(fi, a.items[start:])
	a.items = a.items[:start]
	if i == 0 {
		p.issue(Error, "structure", epath, "arrays must not be empty")
	}
	return true
}

// matchElement finds the child element for a JSON property name, resolving
// choice elements ("valueQuantity" -> value[x] of type Quantity).
func matchElement(kids []int32, name string) (*Element, string) {
	for _, k := range kids {
		e := &specElements[k]
		if !e.Choice {
			if e.Name == name {
				if len(e.Types) == 0 {
					return e, "BackboneElement"
				}
				return e, e.Types[0]
			}
			continue
		}
		if len(name) <= len(e.Name) || !strings.HasPrefix(name, e.Name) {
			continue
		}
		suffix := name[len(e.Name):]
		for _, t := range e.Types {
			if len(t) == len(suffix) && t[1:] == suffix[1:] && suffix[0] == upper(t[0]) {
				return e, t
			}
		}
	}
	return nil, ""
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 32
	}
	return c
}

// item reads one value (an array item when inArray) of element e, whose
// type is typ. prev is the node already at the value's position (primitive
// values and their "_" objects may come in either order), or nil. item
// returns the node to place at that position, or nil for none.
func (p *parser) item(n, prev *Node, e *Element, typ string, path *elemPath, ext bool, rdepth int, inArray bool) *Node {
	k := p.dec.PeekKind()
	v := prev
	if k == 'n' {
		p.read()
		if !inArray {
			p.issue(Error, "structure", path, "null is not allowed here")
			return nil
		}
		if v == nil {
			v = p.arena.node(typ, e)
		}
		return v
	}
	if ext {
		if k != '{' {
			p.issue(Error, "structure", path, "the extension object of a primitive must be a JSON object, not %s", kindName(k))
			p.skip()
			return nil
		}
		if v == nil {
			v = p.arena.node(typ, e)
		} else if len(v.Fields) > 0 {
			p.issue(Error, "structure", path, "duplicate extension object")
		}
		if p.tooDeep(path) {
			return v
		}
		p.read()
		// The element's definition (a primitive element has no inline
		// children, so its members are those of the type) gives the
		// extensions their context.
		p.members(v, path, rdepth, false, false)
		return v
	}
	if v != nil && v.Kind != NoValue {
		p.issue(Error, "structure", path, "duplicate value")
		p.skip()
		return nil
	}
	tdef := Type(typ)
	switch {
	case typ == "Resource" || (tdef != nil && tdef.Kind == KindResource):
		r := p.resource(path, rdepth+1)
		if r == nil {
			return nil
		}
		if typ != "Resource" && !Type(r.Type).IsA(typ) {
			p.issue(Error, "structure", path, "a %s is not allowed here (expected %s)", r.Type, typ)
		}
		r.Elem = &specElements[Type(r.Type).Root]
		return r
	case tdef != nil && tdef.Kind == KindPrimitive || typ == "xhtml":
		if k == '{' || k == '[' {
			p.issue(Error, "structure", path, "%s values must be JSON %s, not %s", typ, primitiveJSON(typ), kindName(k))
			p.skip()
			return nil
		}
		k, text, ok := p.scalar()
		if !ok {
			return nil
		}
		if v == nil {
			v = p.arena.node(typ, e)
		}
		p.primitive(v, typ, k, text, path)
		if e.Binding != 0 && v.Kind != NoValue && (typ == "code") {
			if b := e.BindingOf(); !b.Contains("", v.Value) {
				p.issue(Error, "code-invalid", path, "the value %q is not in the required value set %s", v.Value, b.ValueSet)
			}
		}
		return v
	default:
		if k != '{' {
			p.issue(Error, "structure", path, "%s must be a JSON object, not %s", typ, kindName(k))
			p.skip()
			return nil
		}
		if p.tooDeep(path) {
			return nil
		}
		p.read()
		if v == nil {
			v = p.arena.node(typ, e)
		}
		p.members(v, path, rdepth, false, false)
		if len(v.Fields) == 0 {
			p.issue(Error, "structure", path, "objects must have content")
		}
		if e.Binding != 0 {
			p.checkBinding(v, e.BindingOf(), typ, path)
		}
		p.checkDatatype(v, typ, path)
		if typ == "Extension" {
			p.checkExtension(n, v, path)
		}
		return v
	}
}

// checkBinding checks a Coding or CodeableConcept against a required
// binding.
func (p *parser) checkBinding(v *Node, b *Binding, typ string, path *elemPath) {
	switch typ {
	case "Coding":
		sys, code := v.String("system"), v.String("code")
		if code != "" && !b.Contains(sys, code) {
			p.issue(Error, "code-invalid", path, "the code %s|%s is not in the required value set %s", sys, code, b.ValueSet)
		}
	case "CodeableConcept":
		codings := v.Get("coding")
		if len(codings) == 0 {
			return
		}
		for _, c := range codings {
			if b.Contains(c.String("system"), c.String("code")) {
				return
			}
		}
		p.issue(Error, "code-invalid", path, "none of the codings is in the required value set %s", b.ValueSet)
	}
}

// finish checks the fields of a finished object: required elements,
// maximum cardinality, and null placeholders that no "_" object filled.
func (p *parser) finish(n *Node, kids []int32, path *elemPath) {
	for fi := range n.Fields {
		if p.fatal {
			break
		}
		f := &n.Fields[fi]
		e := f.Elem
		for i, v := range f.Nodes {
			if v == nil || (v.Kind == NoValue && len(v.Fields) == 0 && isPrimitiveType(v.Type)) {
				ipath := &elemPath{parent: path, name: e.Name, index: -1}
				if e.Array {
					ipath.index = i
				}
				p.issue(Error, "structure", ipath, "a primitive value must have a value or an extension (null found)")
			}
		}
		if e.Max > 0 && len(f.Nodes) > int(e.Max) {
			p.issue(Error, "structure", &elemPath{parent: path, name: e.Name, index: -1}, "%s: at most %d allowed, but found %d", e.Path, e.Max, len(f.Nodes))
		}
	}
	// Drop nil placeholders so later stages never see them, nor the
	// checks of the enclosing resource, which run after a fatal error too.
	for fi := range n.Fields {
		f := &n.Fields[fi]
		kept := f.Nodes[:0]
		for _, v := range f.Nodes {
			if v != nil {
				kept = append(kept, v)
			}
		}
		f.Nodes = kept
	}
	if p.fatal {
		return
	}
	for _, k := range kids {
		e := &specElements[k]
		if e.Min == 0 {
			continue
		}
		found := 0
		for fi := range n.Fields {
			if n.Fields[fi].Elem == e {
				found += len(n.Fields[fi].Nodes)
			}
		}
		if found < int(e.Min) {
			p.issue(Error, "required", path, "%s: minimum required = %d, but only found %d", e.Path, e.Min, found)
		}
	}
	// Choice elements may be sent under two names; only one is allowed.
	for i := range n.Fields {
		for j := i + 1; j < len(n.Fields); j++ {
			if n.Fields[i].Elem == n.Fields[j].Elem {
				p.issue(Error, "structure", &elemPath{parent: path, name: n.Fields[i].Elem.Name, index: -1}, "%s is given as both %s and %s", n.Fields[i].Elem.Path, n.Fields[i].Name, n.Fields[j].Name)
			}
		}
	}
}

func isPrimitiveType(t string) bool {
	d := Type(t)
	return d != nil && d.Kind == KindPrimitive
}

// primitive stores a primitive token into v after checking its JSON type and
// format.
func (p *parser) primitive(v *Node, typ string, k jsontext.Kind, text string, path *elemPath) {
	switch typ {
	case "boolean":
		if k != 't' && k != 'f' {
			p.issue(Error, "structure", path, "boolean values must be JSON true or false, not %s", kindName(k))
			return
		}
		v.Kind, v.Value = BoolValue, text
		return
	case "integer", "unsignedInt", "positiveInt", "decimal":
		if k != '0' {
			p.issue(Error, "structure", path, "%s values must be JSON numbers, not %s", typ, kindName(k))
			return
		}
		v.Kind, v.Value = NumberValue, text
		if msg := checkNumber(typ, v.Value); msg != "" {
			p.issue(Error, "value", path, "%s", msg)
		}
		return
	}
	if k != '"' {
		p.issue(Error, "structure", path, "%s values must be JSON strings, not %s", typ, kindName(k))
		return
	}
	v.Kind, v.Value = StringValue, text
	if v.Value == "" {
		p.issue(Error, "value", path, "string values must not be empty")
		return
	}
	if typ == "xhtml" {
		for _, msg := range checkXHTML(v.Value) {
			p.issue(Error, "value", path, "%s", msg)
		}
		return
	}
	if msg := checkFormat(typ, v.Value); msg != "" {
		p.issue(Error, "value", path, "%s", msg)
	}
	if typ == "markdown" {
		if i := htmlTagStart(v.Value); i >= 0 {
			p.issue(Warning, "value", path, "the markdown contains what looks like an HTML tag (%q), which clients may show as markup", abbreviate(v.Value[i:]))
		}
	}
}

// elemPath is the FHIRPath of the element being parsed, kept as a chain of
// parts on the stack and turned into text only when an issue is reported.
type elemPath struct {
	parent *elemPath
	name   string // element name, or the resource type at the root
	typ    string // the chosen type of a choice element
	index  int    // position in a repeating element, -1 for none
}

func (p *elemPath) String() string {
	if p == nil {
		return ""
	}
	return string(p.appendTo(make([]byte, 0, 64)))
}

// appendTo appends the path to b, outermost step first. It keeps no
// pointer to the chain, so paths built on the stack stay there.
func (p *elemPath) appendTo(b []byte) []byte {
	if p.parent != nil {
		b = p.parent.appendTo(b)
	}
	return AppendPathStep(b, p.name, p.typ, p.index)
}

// AppendPathStep appends one step of an element's FHIRPath to b: ".name",
// then ".ofType(T)" for a choice element's type and "[i]" for a position in
// a repeating element (index < 0: none). The first step has no dot.
// Issues (OperationOutcome.issue.expression) and normalisation reports use
// this one spelling.
func AppendPathStep(b []byte, name, typ string, index int) []byte {
	if len(b) > 0 {
		b = append(b, '.')
	}
	b = append(b, name...)
	if typ != "" {
		b = append(b, ".ofType("...)
		b = append(b, typ...)
		b = append(b, ')')
	}
	if index >= 0 {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(index), 10)
		b = append(b, ']')
	}
	return b
}

// primitiveJSON names the JSON type a primitive is written as.
func primitiveJSON(typ string) string {
	switch typ {
	case "boolean":
		return "booleans"
	case "integer", "unsignedInt", "positiveInt", "decimal":
		return "numbers"
	}
	return "strings"
}
