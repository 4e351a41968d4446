// Command gen writes the fhir package's spec tables (spec_gen.go) from the
// FHIR R4 definitions in the npm package hl7.fhir.r4.examples@4.0.1.
//
// Usage:
//
//	go run ./fhir/internal/gen -package DIR -out fhir/spec_gen.go
//
// DIR is the package's extracted "package" folder (obtain it with
// `npm pack hl7.fhir.r4.examples@4.0.1`; scripts/r4-package does that).
// The output depends only on the input files: running it twice gives the same
// bytes, which CI checks.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	pkg := flag.String("package", "", "extracted hl7.fhir.r4.examples package folder")
	out := flag.String("out", "spec_gen.go", "output file")
	flag.Parse()
	if *pkg == "" {
		log.Fatal("gen: -package is required")
	}
	g, err := load(*pkg)
	if err != nil {
		log.Fatalf("gen: %v", err)
	}
	src, err := g.emit()
	if err != nil {
		log.Fatalf("gen: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatalf("gen: %v", err)
	}
}

type sdJSON struct {
	ID      string `json:"id"`
	URL     string `json:"url"`
	Context []struct {
		Type       string `json:"type"`
		Expression string `json:"expression"`
	} `json:"context"`
	Kind           string `json:"kind"`
	Abstract       bool   `json:"abstract"`
	Type           string `json:"type"`
	BaseDefinition string `json:"baseDefinition"`
	Derivation     string `json:"derivation"`
	Snapshot       struct {
		Element []elementJSON `json:"element"`
	} `json:"snapshot"`
}

type elementJSON struct {
	ID   string `json:"id"`
	Path string `json:"path"`
	Min  int    `json:"min"`
	Max  string `json:"max"`
	Base struct {
		Max string `json:"max"`
	} `json:"base"`
	ContentReference string `json:"contentReference"`
	Type             []struct {
		Code          string   `json:"code"`
		TargetProfile []string `json:"targetProfile"`
		Extension     []struct {
			URL         string `json:"url"`
			ValueURL    string `json:"valueUrl"`
			ValueString string `json:"valueString"`
		} `json:"extension"`
	} `json:"type"`
	Constraint []struct {
		Key        string `json:"key"`
		Severity   string `json:"severity"`
		Human      string `json:"human"`
		Expression string `json:"expression"`
	} `json:"constraint"`
	IsModifier bool `json:"isModifier"`
	IsSummary  bool `json:"isSummary"`
	Binding    *struct {
		Strength string `json:"strength"`
		ValueSet string `json:"valueSet"`
	} `json:"binding"`
}

type concept struct {
	Code    string    `json:"code"`
	Concept []concept `json:"concept"`
}

type codeSystemJSON struct {
	URL     string    `json:"url"`
	Content string    `json:"content"`
	Concept []concept `json:"concept"`
}

type valueSetJSON struct {
	URL     string `json:"url"`
	Compose *struct {
		Include []vsInclude `json:"include"`
		Exclude []vsInclude `json:"exclude"`
	} `json:"compose"`
}

type vsInclude struct {
	System   string   `json:"system"`
	ValueSet []string `json:"valueSet"`
	Concept  []struct {
		Code string `json:"code"`
	} `json:"concept"`
	Filter []struct {
		Property string `json:"property"`
		Op       string `json:"op"`
		Value    string `json:"value"`
	} `json:"filter"`
}

type searchParamJSON struct {
	URL         string   `json:"url"`
	Code        string   `json:"code"`
	Type        string   `json:"type"`
	Base        []string `json:"base"`
	Expression  string   `json:"expression"`
	Target      []string `json:"target"`
	Modifier    []string `json:"modifier"`
	Comparator  []string `json:"comparator"`
	MultipleOr  *bool    `json:"multipleOr"`
	MultipleAnd *bool    `json:"multipleAnd"`
	Component   []struct {
		Definition string `json:"definition"`
		Expression string `json:"expression"`
	} `json:"component"`
}

type compartmentJSON struct {
	Code     string `json:"code"`
	Resource []struct {
		Code  string   `json:"code"`
		Param []string `json:"param"`
	} `json:"resource"`
}

type genElement struct {
	path, name  string
	types       []string
	choice      bool
	min, max    int
	array       bool
	summary     bool
	modifier    bool
	binding     int
	kids        []int
	constraints []int
	targets     []string
	contentRef  string
}

type genType struct {
	name     string
	kind     string
	abstract bool
	base     string
	root     int
	regex    string
}

type generator struct {
	types       []genType
	elements    []genElement
	consIndex   map[string]int
	consData    [][4]string
	bindings    []genBinding
	bindIndex   map[string]int // value set URL -> index+1, or -1 when not enumerable
	codeSystems map[string]*codeSystemJSON
	valueSets   map[string]*valueSetJSON
	params      []searchParamJSON
	comparts    []compartmentJSON
	extensions  []genExtension
}

// genExtension is a core extension definition: where it may be used and
// what value it takes.
type genExtension struct {
	url      string
	contexts []string // element contexts (StructureDefinition.context.expression)
	types    []string // types of Extension.value[x]; nil for a complex extension
}

type genBinding struct {
	url   string
	codes [][2]string
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func load(dir string) (*generator, error) {
	g := &generator{
		consIndex:   map[string]int{},
		bindIndex:   map[string]int{},
		codeSystems: map[string]*codeSystemJSON{},
		valueSets:   map[string]*valueSetJSON{},
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var sds []*sdJSON
	for _, f := range files {
		base := filepath.Base(f)
		switch {
		case strings.HasPrefix(base, "StructureDefinition-"):
			sd := new(sdJSON)
			if err := readJSON(f, sd); err != nil {
				return nil, err
			}
			if sd.Kind == "logical" {
				continue
			}
			if sd.Type == "Extension" && sd.Derivation == "constraint" {
				g.addExtension(sd)
				continue
			}
			if sd.Derivation == "specialization" || sd.BaseDefinition == "" {
				sds = append(sds, sd)
			}
		case strings.HasPrefix(base, "CodeSystem-"):
			cs := new(codeSystemJSON)
			if err := readJSON(f, cs); err != nil {
				return nil, err
			}
			g.codeSystems[cs.URL] = cs
		case strings.HasPrefix(base, "ValueSet-"):
			vs := new(valueSetJSON)
			if err := readJSON(f, vs); err != nil {
				return nil, err
			}
			g.valueSets[vs.URL] = vs
		case strings.HasPrefix(base, "SearchParameter-"):
			var sp searchParamJSON
			if err := readJSON(f, &sp); err != nil {
				return nil, err
			}
			g.params = append(g.params, sp)
		case strings.HasPrefix(base, "CompartmentDefinition-"):
			var c compartmentJSON
			if err := readJSON(f, &c); err != nil {
				return nil, err
			}
			if base == "CompartmentDefinition-example.json" {
				continue
			}
			g.comparts = append(g.comparts, c)
		}
	}
	sort.Slice(sds, func(i, j int) bool { return sds[i].Type < sds[j].Type })
	for _, sd := range sds {
		if err := g.addType(sd); err != nil {
			return nil, fmt.Errorf("%s: %w", sd.ID, err)
		}
	}
	sort.Slice(g.extensions, func(i, j int) bool { return g.extensions[i].url < g.extensions[j].url })
	sort.Slice(g.params, func(i, j int) bool { return g.params[i].URL < g.params[j].URL })
	sort.Slice(g.comparts, func(i, j int) bool { return g.comparts[i].Code < g.comparts[j].Code })
	return g, nil
}

// addExtension records a core extension definition. Only element
// contexts are kept (R4's core extensions use no other kind).
func (g *generator) addExtension(sd *sdJSON) {
	x := genExtension{url: sd.URL}
	for _, c := range sd.Context {
		if c.Type == "element" {
			x.contexts = append(x.contexts, c.Expression)
		}
	}
	for _, ej := range sd.Snapshot.Element {
		if ej.Path != "Extension.value[x]" || ej.Max == "0" {
			continue
		}
		for _, t := range ej.Type {
			x.types = append(x.types, t.Code)
		}
	}
	g.extensions = append(g.extensions, x)
}

// constraintErrata corrects R4 invariants whose published expression
// contradicts their own human text. Each entry holds the published
// expression, so a changed definition is not silently overridden, and the
// correction, as later FHIR versions publish it.
var constraintErrata = map[string][2]string{
	// "If there are more than one enableWhen, enableBehavior must be
	// specified": R4 wrote "> 2"; R4B and R5 write "> 1".
	"que-12": {"enableWhen.count() > 2 implies enableBehavior.exists()", "enableWhen.count() > 1 implies enableBehavior.exists()"},
}

func lastSegment(s string) string {
	if i := strings.LastIndexAny(s, "/."); i >= 0 {
		return s[i+1:]
	}
	return s
}

func (g *generator) addType(sd *sdJSON) error {
	t := genType{name: sd.Type, kind: sd.Kind, abstract: sd.Abstract, root: len(g.elements)}
	if sd.BaseDefinition != "" {
		t.base = lastSegment(sd.BaseDefinition)
	}
	byPath := map[string]int{}
	for _, ej := range sd.Snapshot.Element {
		if t.kind == "primitive-type" && ej.Path == sd.Type+".value" {
			for _, ty := range ej.Type {
				for _, x := range ty.Extension {
					if strings.HasSuffix(x.URL, "/regex") {
						t.regex = x.ValueString
					}
				}
			}
			continue
		}
		e := genElement{path: ej.Path, min: ej.Min, contentRef: ej.ContentReference}
		e.name = lastSegment(ej.Path)
		if strings.HasSuffix(e.name, "[x]") {
			e.name = strings.TrimSuffix(e.name, "[x]")
			e.choice = true
		}
		if ej.Path == sd.Type {
			e.name = sd.Type
		}
		e.max = parseMax(ej.Max)
		bmax := ej.Base.Max
		if bmax == "" {
			bmax = ej.Max
		}
		e.array = bmax != "1" && bmax != "0"
		e.summary = ej.IsSummary
		e.modifier = ej.IsModifier
		for _, ty := range ej.Type {
			code := ty.Code
			for _, x := range ty.Extension {
				if strings.HasSuffix(x.URL, "structuredefinition-fhir-type") {
					code = x.ValueURL
				}
			}
			// Resource.id is declared as System.String with fhir-type
			// "string", but the specification defines it as an id
			// (https://hl7.org/fhir/R4/resource.html#id).
			if t.kind == "resource" && ej.Path == sd.Type+".id" {
				code = "id"
			}
			e.types = append(e.types, code)
			if ty.Code == "Reference" || ty.Code == "canonical" {
				for _, p := range ty.TargetProfile {
					e.targets = appendUnique(e.targets, lastSegment(p))
				}
			}
		}
		for _, c := range ej.Constraint {
			e.constraints = append(e.constraints, g.constraint(c.Key, c.Severity, c.Human, c.Expression))
		}
		if ej.Binding != nil && ej.Binding.Strength == "required" {
			e.binding = g.binding(ej.Binding.ValueSet)
		}
		idx := len(g.elements)
		g.elements = append(g.elements, e)
		byPath[ej.Path] = idx
		if ej.Path != sd.Type {
			parent := ej.Path[:strings.LastIndex(ej.Path, ".")]
			p, ok := byPath[parent]
			if !ok {
				return fmt.Errorf("element %s has no parent", ej.Path)
			}
			g.elements[p].kids = append(g.elements[p].kids, idx)
		}
	}
	// Content references share the referenced element's children.
	for path, idx := range byPath {
		ref := g.elements[idx].contentRef
		if ref == "" {
			continue
		}
		target, ok := byPath[strings.TrimPrefix(ref, "#")]
		if !ok {
			return fmt.Errorf("%s: content reference %s not found", path, ref)
		}
		g.elements[idx].kids = g.elements[target].kids
		g.elements[idx].types = g.elements[target].types
	}
	g.types = append(g.types, t)
	return nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func parseMax(s string) int {
	if s == "*" || s == "" {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func (g *generator) constraint(key, sev, human, expr string) int {
	if fix, ok := constraintErrata[key]; ok && fix[0] == expr {
		expr = fix[1]
	}
	k := key + "\x00" + sev + "\x00" + human + "\x00" + expr
	if i, ok := g.consIndex[k]; ok {
		return i
	}
	i := len(g.consData)
	g.consIndex[k] = i
	g.consData = append(g.consData, [4]string{key, sev, human, expr})
	return i
}

// binding returns index+1 of the expanded value set, or 0 when the value set
// cannot be enumerated from the package (external code systems such as
// BCP-47 or UCUM, or filters other than is-a).
func (g *generator) binding(url string) int {
	url, _, _ = strings.Cut(url, "|")
	if i, ok := g.bindIndex[url]; ok {
		if i < 0 {
			return 0
		}
		return i
	}
	codes, ok := g.expand(url, map[string]bool{})
	if !ok || len(codes) == 0 {
		g.bindIndex[url] = -1
		return 0
	}
	sort.Slice(codes, func(i, j int) bool {
		if codes[i][1] != codes[j][1] {
			return codes[i][1] < codes[j][1]
		}
		return codes[i][0] < codes[j][0]
	})
	codes = dedupe(codes)
	g.bindings = append(g.bindings, genBinding{url: url, codes: codes})
	g.bindIndex[url] = len(g.bindings)
	return len(g.bindings)
}

func dedupe(c [][2]string) [][2]string {
	out := c[:0]
	for i, x := range c {
		if i > 0 && x == c[i-1] {
			continue
		}
		out = append(out, x)
	}
	return out
}

func (g *generator) expand(url string, seen map[string]bool) ([][2]string, bool) {
	url, _, _ = strings.Cut(url, "|")
	if seen[url] {
		return nil, true
	}
	seen[url] = true
	vs := g.valueSets[url]
	if vs == nil || vs.Compose == nil {
		return nil, false
	}
	var out [][2]string
	for _, inc := range vs.Compose.Include {
		codes, ok := g.include(inc, seen)
		if !ok {
			return nil, false
		}
		out = append(out, codes...)
	}
	for _, exc := range vs.Compose.Exclude {
		codes, ok := g.include(exc, seen)
		if !ok {
			return nil, false
		}
		drop := map[[2]string]bool{}
		for _, c := range codes {
			drop[c] = true
		}
		kept := out[:0]
		for _, c := range out {
			if !drop[c] {
				kept = append(kept, c)
			}
		}
		out = kept
	}
	return out, true
}

func (g *generator) include(inc vsInclude, seen map[string]bool) ([][2]string, bool) {
	var out [][2]string
	for _, v := range inc.ValueSet {
		codes, ok := g.expand(v, seen)
		if !ok {
			return nil, false
		}
		out = append(out, codes...)
	}
	if inc.System == "" {
		return out, true
	}
	if len(inc.Concept) > 0 {
		for _, c := range inc.Concept {
			out = append(out, [2]string{inc.System, c.Code})
		}
		return out, true
	}
	cs := g.codeSystems[inc.System]
	if cs == nil || cs.Content != "complete" {
		return nil, false
	}
	roots := cs.Concept
	for _, f := range inc.Filter {
		if f.Property != "concept" || (f.Op != "is-a" && f.Op != "descendent-of") {
			return nil, false
		}
		c := findConcept(cs.Concept, f.Value)
		if c == nil {
			return nil, false
		}
		if f.Op == "is-a" {
			roots = []concept{*c}
		} else {
			roots = c.Concept
		}
	}
	var walk func([]concept)
	walk = func(cs []concept) {
		for _, c := range cs {
			out = append(out, [2]string{inc.System, c.Code})
			walk(c.Concept)
		}
	}
	walk(roots)
	return out, true
}

func findConcept(cs []concept, code string) *concept {
	for i := range cs {
		if cs[i].Code == code {
			return &cs[i]
		}
		if c := findConcept(cs[i].Concept, code); c != nil {
			return c
		}
	}
	return nil
}

func (g *generator) emit() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by fhir/internal/gen from hl7.fhir.r4.examples@4.0.1. DO NOT EDIT.\n\npackage fhir\n\n")
	kinds := map[string]string{"primitive-type": "KindPrimitive", "complex-type": "KindComplex", "resource": "KindResource"}
	b.WriteString("var specTypes = [...]TypeDef{\n")
	for _, t := range g.types {
		fmt.Fprintf(&b, "{Name: %q, Kind: %s, Abstract: %v, Base: %q, Root: %d", t.name, kinds[t.kind], t.abstract, t.base, t.root)
		if t.regex != "" {
			fmt.Fprintf(&b, ", Regex: %q", t.regex)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n\nvar specElements = [...]Element{\n")
	for _, e := range g.elements {
		fmt.Fprintf(&b, "{Path: %q, Name: %q, Types: %s, Min: %d, Max: %d", e.path, e.name, strs(e.types), e.min, e.max)
		if e.choice {
			b.WriteString(", Choice: true")
		}
		if e.array {
			b.WriteString(", Array: true")
		}
		if e.summary {
			b.WriteString(", Summary: true")
		}
		if e.modifier {
			b.WriteString(", Modifier: true")
		}
		if e.binding != 0 {
			fmt.Fprintf(&b, ", Binding: %d", e.binding)
		}
		if len(e.kids) > 0 {
			fmt.Fprintf(&b, ", Kids: %s", ints(e.kids))
		}
		if len(e.constraints) > 0 {
			fmt.Fprintf(&b, ", Constraints: %s", ints(e.constraints))
		}
		if len(e.targets) > 0 {
			fmt.Fprintf(&b, ", Targets: %s", strs(e.targets))
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n\nvar specConstraints = [...]Constraint{\n")
	for _, c := range g.consData {
		fmt.Fprintf(&b, "{Key: %q, Severity: %q, Human: %q, Expression: %q},\n", c[0], c[1], c[2], c[3])
	}
	b.WriteString("}\n\nvar specBindings = [...]Binding{\n")
	for _, bd := range g.bindings {
		fmt.Fprintf(&b, "{ValueSet: %q, Codes: []SystemCode{", bd.url)
		for _, c := range bd.codes {
			fmt.Fprintf(&b, "{%q, %q},", c[0], c[1])
		}
		b.WriteString("}},\n")
	}
	b.WriteString("}\n\nvar specSearchParams = [...]SearchParam{\n")
	for _, p := range g.params {
		fmt.Fprintf(&b, "{URL: %q, Name: %q, Type: %q, Base: %s, Expression: %q", p.URL, p.Code, p.Type, strs(p.Base), p.Expression)
		if len(p.Target) > 0 {
			fmt.Fprintf(&b, ", Targets: %s", strs(p.Target))
		}
		if len(p.Modifier) > 0 {
			fmt.Fprintf(&b, ", Modifiers: %s", strs(p.Modifier))
		}
		if len(p.Comparator) > 0 {
			fmt.Fprintf(&b, ", Comparators: %s", strs(p.Comparator))
		}
		if len(p.Component) > 0 {
			b.WriteString(", Components: []SearchComponent{")
			for _, c := range p.Component {
				fmt.Fprintf(&b, "{%q, %q},", c.Definition, c.Expression)
			}
			b.WriteString("}")
		}
		if p.MultipleOr == nil || *p.MultipleOr {
			b.WriteString(", MultipleOr: true")
		}
		if p.MultipleAnd == nil || *p.MultipleAnd {
			b.WriteString(", MultipleAnd: true")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n\nvar specExtensions = [...]ExtensionDef{\n")
	for _, x := range g.extensions {
		fmt.Fprintf(&b, "{URL: %q, Contexts: %s, Types: %s},\n", x.url, strs(x.contexts), strs(x.types))
	}
	b.WriteString("}\n\nvar specCompartments = [...]Compartment{\n")
	for _, c := range g.comparts {
		fmt.Fprintf(&b, "{Code: %q, Resources: []CompartmentResource{\n", c.Code)
		for _, r := range c.Resource {
			if len(r.Param) == 0 {
				continue
			}
			fmt.Fprintf(&b, "{%q, %s},\n", r.Code, strs(r.Param))
		}
		b.WriteString("}},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

func strs(s []string) string {
	if len(s) == 0 {
		return "nil"
	}
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}

func ints(s []int) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Itoa(x)
	}
	return "[]int32{" + strings.Join(q, ", ") + "}"
}
