package fhir

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Rules that the R4 specification states in prose (element definitions,
// comments and the pages of a resource) rather than as FHIRPath
// invariants. Parse applies them once the element or resource they concern
// has been read; the invariants themselves are evaluated by fhir/fhirpath.

// checkDatatype applies the rules of a complex data type to a value that
// has been read completely.
func (p *parser) checkDatatype(v *Node, typ string, path *elemPath) {
	switch typ {
	case "Attachment":
		p.checkAttachment(v, path)
	case "Extension":
		// handled by checkExtension, which needs the parent
	case "Coding":
		// Coding.system identifies a code system by URI: an absolute one
		// (https://hl7.org/fhir/R4/datatypes-definitions.html#Coding.system,
		// https://hl7.org/fhir/R4/terminologies.html#4.3.2).
		if s := v.First("system"); s != nil && s.Kind == StringValue && !isAbsoluteURI(s.Value) {
			p.issue(Error, "value", &elemPath{parent: path, name: "system", index: -1}, "Coding.system must be an absolute URI, not %q", abbreviate(s.Value))
		}
	}
}

// checkExtension checks an extension that R4 defines against its
// definition: that it is used in one of its contexts and that its value
// has an allowed type (https://hl7.org/fhir/R4/extensibility.html#ext-context).
// Extensions defined elsewhere are not checked: a server accepts
// extensions it does not know (https://hl7.org/fhir/R4/extensibility.html#exchange).
func (p *parser) checkExtension(parent, x *Node, path *elemPath) {
	def := Extension(x.String("url"))
	if def == nil {
		return
	}
	if !extensionFits(def, parent) {
		where := parent.Type
		if parent.Elem != nil {
			where = parent.Elem.Path
		}
		// A warning: R4's own definitions use several of its extensions
		// beyond their declared contexts (structuredefinition-fhir-type on
		// ElementDefinition.type, normative-version on CodeSystem).
		p.issue(Warning, "structure", path, "the extension %s is not allowed on %s (allowed on %s)", def.URL, where, strings.Join(def.Contexts, ", "))
	}
	for i := range x.Fields {
		f := &x.Fields[i]
		if f.Elem == nil || f.Elem.Name != "value" || len(f.Nodes) == 0 {
			continue
		}
		vt := f.Nodes[0].Type
		switch {
		case def.Types == nil:
			p.issue(Error, "structure", &elemPath{parent: path, name: "value", typ: vt, index: -1}, "the extension %s has nested extensions, not a value", def.URL)
		case !containsString(def.Types, vt) && !containsString(def.Types, "*"):
			p.issue(Error, "structure", &elemPath{parent: path, name: "value", typ: vt, index: -1}, "the extension %s takes a value of type %s, not %s", def.URL, strings.Join(def.Types, " or "), vt)
		}
	}
}

// extensionFits reports whether an extension with definition def may be
// used on the element parent: a context names the element's type (or a
// type it derives from, "Element" being every element), or its path.
func extensionFits(def *ExtensionDef, parent *Node) bool {
	td := Type(parent.Type)
	for _, c := range def.Contexts {
		if c == "Element" || td != nil && td.IsA(c) {
			return true
		}
		e := parent.Elem
		if e == nil {
			continue
		}
		if e.Path == c {
			return true
		}
		// Elements that repeat another's content (Questionnaire.item.item
		// is a Questionnaire.item) share its children.
		if ce := elementByPath()[c]; ce != nil && len(ce.Kids) > 0 && slices.Equal(ce.Kids, e.Kids) {
			return true
		}
	}
	return false
}

var elementByPath = sync.OnceValue(func() map[string]*Element {
	m := make(map[string]*Element, len(specElements))
	for i := range specElements {
		m[specElements[i].Path] = &specElements[i]
	}
	return m
})

// checkAttachment checks that a stated size agrees with the inline data
// (Attachment.size is the number of bytes of the content,
// https://hl7.org/fhir/R4/datatypes.html#Attachment).
func (p *parser) checkAttachment(v *Node, path *elemPath) {
	data, size := v.First("data"), v.First("size")
	if data == nil || size == nil || data.Kind != StringValue || size.Kind != NumberValue {
		return
	}
	stated, err := strconv.ParseInt(size.Value, 10, 64)
	if err != nil {
		return
	}
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, data.Value)
	actual := base64.StdEncoding.DecodedLen(len(clean)) - strings.Count(clean[max(0, len(clean)-2):], "=")
	if int64(actual) != stated {
		p.issue(Error, "value", &elemPath{parent: path, name: "size", index: -1}, "the stated size %d does not match the %d bytes of data", stated, actual)
	}
}

// isAbsoluteURI reports whether s starts with a URI scheme (RFC 3986
// section 3.1) followed by ':'.
func isAbsoluteURI(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i+1 < len(s)
		default:
			return false
		}
	}
	return false
}

// checkResource applies the rules of a resource type to a resource that
// has been read completely.
func (p *parser) checkResource(n *Node, path *elemPath) {
	switch n.Type {
	case "Bundle":
		p.checkBundle(n, path)
	case "SearchParameter":
		p.checkSearchParameter(n, path)
	case "CapabilityStatement":
		p.checkCapabilityStatement(n, path)
	case "StructureDefinition":
		p.checkStructureDefinition(n, path)
	}
}

// at returns the path of child name (at index i of a repeating element, or
// -1) below parent.
func at(parent *elemPath, name string, i int) *elemPath {
	return &elemPath{parent: parent, name: name, index: i}
}

// canonicalURL strips the "|version" of a canonical reference.
func canonicalURL(s string) string {
	u, _, _ := strings.Cut(s, "|")
	return u
}

// checkSearchParameter checks a SearchParameter against the R4 parameter it
// says it derives from ("the details in the search parameter must be
// consistent with the definition from which it is defined",
// https://hl7.org/fhir/R4/searchparameter-definitions.html#SearchParameter.derivedFrom),
// and that a composite parameter has components to combine.
func (p *parser) checkSearchParameter(n *Node, path *elemPath) {
	typ := n.String("type")
	if typ == "composite" && len(n.Get("component")) < 2 {
		p.issue(Error, "business-rule", at(path, "component", -1), "a composite search parameter must define two or more components, found %d", len(n.Get("component")))
	}
	from := n.String("derivedFrom")
	if from == "" {
		return
	}
	base := SearchParamByURL(canonicalURL(from))
	if base == nil {
		return
	}
	if typ != "" && typ != base.Type {
		p.issue(Error, "business-rule", at(path, "type", -1), "the type %s differs from the type %s of %s, which this parameter derives from", typ, base.Type, base.URL)
	}
	for i, b := range n.Get("base") {
		if !containsString(base.Base, b.Value) {
			p.issue(Error, "business-rule", at(path, "base", i), "the resource type %s is not a base of %s, which this parameter derives from", b.Value, base.URL)
		}
	}
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// checkCapabilityStatement checks that each search parameter a
// CapabilityStatement names by definition has the type of that definition
// (https://hl7.org/fhir/R4/capabilitystatement-definitions.html#CapabilityStatement.rest.resource.searchParam.definition).
func (p *parser) checkCapabilityStatement(n *Node, path *elemPath) {
	check := func(params []*Node, ppath *elemPath) {
		for i, sp := range params {
			def, typ := sp.String("definition"), sp.String("type")
			if def == "" || typ == "" {
				continue
			}
			d := SearchParamByURL(canonicalURL(def))
			if d != nil && !searchTypeFits(typ, d.Type) {
				p.issue(Error, "business-rule", at(at(ppath, "searchParam", i), "type", -1), "the type %s differs from the type %s of the search parameter %s", typ, d.Type, d.URL)
			}
		}
	}
	for ri, rest := range n.Get("rest") {
		rp := at(path, "rest", ri)
		check(rest.Get("searchParam"), rp)
		for i, res := range rest.Get("resource") {
			check(res.Get("searchParam"), at(rp, "resource", i))
		}
	}
}

// searchTypeFits reports whether a parameter declared with type decl can
// search with a definition of type def: the same type, or token for a uri
// parameter (a token without a system matches a uri exactly; the R4 base
// CapabilityStatement declares _source so).
func searchTypeFits(decl, def string) bool {
	return decl == def || decl == "token" && def == "uri"
}

// checkStructureDefinition checks that the element paths of a profile
// (derivation constraint) of a core type name elements of that type.
func (p *parser) checkStructureDefinition(n *Node, path *elemPath) {
	if n.String("derivation") != "constraint" {
		return
	}
	t := Type(n.String("type"))
	if t == nil || t.Kind == KindLogical {
		return
	}
	for _, part := range []string{"snapshot", "differential"} {
		c := n.First(part)
		if c == nil {
			continue
		}
		for i, e := range c.Get("element") {
			ep := e.String("path")
			if ep != "" && !elementPathExists(t, ep) {
				p.issue(Error, "structure", at(at(at(path, part, -1), "element", i), "path", -1), "the path %s does not name an element of %s", ep, t.Name)
			}
		}
	}
}

// elementPathExists reports whether an ElementDefinition.path such as
// "Observation.component.value[x]" or "Observation.valueQuantity.unit"
// names an element of type t.
func elementPathExists(t *TypeDef, path string) bool {
	segs := strings.Split(path, ".")
	if segs[0] != t.Name {
		return false
	}
	cur := []*Element{t.RootElement()}
	curTypes := []string{t.Name}
	for _, seg := range segs[1:] {
		var next []*Element
		var nextTypes []string
		for i, e := range cur {
			for _, k := range Children(e, curTypes[i]) {
				c := &specElements[k]
				switch {
				case c.Choice && seg == c.Name+"[x]":
					for _, ct := range c.Types {
						next, nextTypes = append(next, c), append(nextTypes, ct)
					}
				case c.Choice && strings.HasPrefix(seg, c.Name):
					for _, ct := range c.Types {
						if ChoiceName(c.Name, ct) == seg {
							next, nextTypes = append(next, c), append(nextTypes, ct)
						}
					}
				case !c.Choice && seg == c.Name:
					ct := "BackboneElement"
					if len(c.Types) > 0 {
						ct = c.Types[0]
					}
					next, nextTypes = append(next, c), append(nextTypes, ct)
				}
			}
		}
		if len(next) == 0 {
			return false
		}
		// A backbone element's children are inline; a typed element's are
		// those of its type, so the definition no longer matters.
		for i, e := range next {
			if len(e.Kids) == 0 {
				next[i] = nil
			}
		}
		cur, curTypes = next, nextTypes
	}
	return true
}

// Bundle rules (https://hl7.org/fhir/R4/bundle.html).

// pagingRelations are the link relations that a Bundle may carry at most
// once each (https://hl7.org/fhir/R4/http.html#paging).
var pagingRelations = map[string]bool{"self": true, "first": true, "previous": true, "prev": true, "next": true, "last": true}

func (p *parser) checkBundle(b *Node, path *elemPath) {
	btype := b.String("type")
	seen := map[string]bool{}
	var self string
	for i, l := range b.Get("link") {
		rel := l.String("relation")
		if !pagingRelations[rel] {
			continue
		}
		if seen[rel] {
			p.issue(Error, "business-rule", at(at(path, "link", i), "relation", -1), "the link relation %q can occur only once", rel)
		}
		seen[rel] = true
		if rel == "self" && self == "" {
			self = l.String("url")
		}
	}
	entries := b.Get("entry")
	for i, e := range entries {
		ep := at(path, "entry", i)
		r := e.First("resource")
		if fu := e.String("fullUrl"); fu != "" {
			// fullUrl is "the absolute URL for the resource" and "SHALL NOT
			// disagree with the id in the resource"
			// (https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.fullUrl).
			switch {
			case !isAbsoluteURI(fu):
				p.issue(Error, "value", at(ep, "fullUrl", -1), "the fullUrl must be an absolute URL, not %q", abbreviate(fu))
			case r != nil && r.ID() != "" && !strings.HasPrefix(fu, "urn:"):
				// Some R4 examples disagree here, so it is a warning.
				if !strings.HasSuffix(fu, "/"+r.Type+"/"+r.ID()) {
					p.issue(Warning, "value", at(ep, "fullUrl", -1), "the fullUrl %q disagrees with the resource's type and id %s/%s", abbreviate(fu), r.Type, r.ID())
				}
			}
		}
	}
	if btype == "searchset" {
		p.checkSearchset(entries, self, path)
	}
	if btype != "history" {
		p.checkBundleRefs(entries, path)
	}
}

// checkSearchset checks the entries of a search result
// (https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.search.mode):
// matches and includes are resources with an id, outcomes are
// OperationOutcomes, and matches have a type the search asked for.
func (p *parser) checkSearchset(entries []*Node, self string, path *elemPath) {
	want := searchTypes(self)
	for i, e := range entries {
		r := e.First("resource")
		s := e.First("search")
		if r == nil || s == nil {
			continue
		}
		rp := at(at(path, "entry", i), "resource", -1)
		switch mode := s.String("mode"); mode {
		case "outcome":
			if r.Type != "OperationOutcome" {
				p.issue(Error, "business-rule", rp, "an entry with search mode outcome must be an OperationOutcome, not a %s", r.Type)
			}
		case "match", "include":
			if r.ID() == "" {
				p.issue(Error, "business-rule", rp, "search results must have ids")
			}
			if mode == "match" && len(want) > 0 && !containsString(want, r.Type) {
				p.issue(Error, "business-rule", rp, "a %s does not match the search, which is for %s", r.Type, strings.Join(want, ", "))
			}
		}
	}
}

// searchTypes returns the resource types a search URL asks for: the type
// in its path (base/Type?..., base/Patient/1/Type?...) or its _type
// parameter. It returns nil when it cannot tell.
func searchTypes(self string) []string {
	if self == "" {
		return nil
	}
	u, err := url.Parse(self)
	if err != nil {
		return nil
	}
	p := strings.TrimSuffix(u.Path, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if IsResourceType(p) {
		return []string{p}
	}
	if ts := u.Query().Get("_type"); ts != "" {
		var out []string
		for _, t := range strings.Split(ts, ",") {
			if !IsResourceType(t) {
				return nil
			}
			out = append(out, t)
		}
		return out
	}
	return nil
}

// checkBundleRefs resolves the references of each entry against the other
// entries as the specification describes
// (https://hl7.org/fhir/R4/bundle.html#references): a relative reference
// is read against the base of the entry's RESTful fullUrl. A reference
// that matches several entries, or names a version that no entry with
// that URL has, is an error. References to resources outside the Bundle
// are not checked.
func (p *parser) checkBundleRefs(entries []*Node, path *elemPath) {
	byURL := make(map[string][]*Node, len(entries))
	for _, e := range entries {
		if fu, r := e.String("fullUrl"), e.First("resource"); fu != "" && r != nil {
			byURL[fu] = append(byURL[fu], r)
		}
	}
	var steps []elemPath
	for i, e := range entries {
		r := e.First("resource")
		if r == nil {
			continue
		}
		fu := e.String("fullUrl")
		base := ""
		if r.ID() != "" && strings.HasSuffix(fu, "/"+r.Type+"/"+r.ID()) {
			base = fu[:len(fu)-len(r.Type)-len(r.ID())-1]
		}
		steps = walkRefs(r, steps[:0], func(ref string, steps []elemPath) {
			refPath := func() string {
				b := at(at(path, "entry", i), "resource", -1).appendTo(nil)
				for _, s := range steps {
					b = AppendPathStep(b, s.name, s.typ, s.index)
				}
				return string(b)
			}
			target, version := resolveInBundle(ref, base)
			if target == "" {
				return
			}
			matches := byURL[target]
			if len(matches) == 0 {
				return
			}
			if version != "" {
				n := 0
				for _, m := range matches {
					if m.First("meta") != nil && m.First("meta").String("versionId") == version {
						n++
					}
				}
				if n == 0 {
					p.issueAt(Error, "not-found", refPath(), "no entry of the Bundle is version %s of %s", version, abbreviate(target))
				} else if n > 1 {
					p.issueAt(Error, "multiple-matches", refPath(), "the reference %q matches %d entries of the Bundle", abbreviate(ref), n)
				}
				return
			}
			if len(matches) > 1 {
				p.issueAt(Error, "multiple-matches", refPath(), "the reference %q matches %d entries of the Bundle", abbreviate(ref), len(matches))
			}
		})
	}
}

// resolveInBundle turns a reference into the fullUrl it names and the
// version it asks for, given the base of the referring entry's fullUrl
// ("" when that is not a RESTful URL). It returns "" for local ("#id")
// references and relative references that cannot be placed.
func resolveInBundle(ref, base string) (target, version string) {
	if ref == "" || ref[0] == '#' {
		return "", ""
	}
	if !isAbsoluteURI(ref) {
		r, ok := ParseRef(ref)
		if !ok || base == "" {
			return "", ""
		}
		target = base + r.Type + "/" + r.ID
		return target, r.Version
	}
	if strings.HasPrefix(ref, "urn:") {
		return ref, ""
	}
	target, version, _ = strings.Cut(ref, "/_history/")
	return target, version
}

// walkRefs calls fn for every Reference.reference within n, without
// entering nested Bundles (their references resolve among their own
// entries). fn gets the steps from n to the Reference; it turns them into
// a path only when it reports an issue, so the walk allocates nothing.
func walkRefs(n *Node, steps []elemPath, fn func(ref string, steps []elemPath)) []elemPath {
	for fi := range n.Fields {
		f := &n.Fields[fi]
		for i, c := range f.Nodes {
			if c.Type == "Bundle" || c.Kind != NoValue {
				continue
			}
			st := elemPath{name: f.Elem.Name, index: -1}
			if f.Elem.Array {
				st.index = i
			}
			if f.Elem.Choice {
				st.typ = c.Type
			}
			steps = append(steps, st)
			if c.Type == "Reference" {
				if ref := c.String("reference"); ref != "" {
					fn(ref, steps)
				}
			}
			steps = walkRefs(c, steps, fn)
			steps = steps[:len(steps)-1]
		}
	}
	return steps
}
