package fhir

import (
	"sort"
	"strings"
	"sync"
)

// The tables in spec_gen.go are generated from the R4 definitions by
// fhir/internal/gen. The types below give them shape; the functions give
// read-only access. Nothing here is mutated after package initialisation.

//go:generate go run ./internal/gen -package ../.cache/hl7.fhir.r4.examples-4.0.1/package -out spec_gen.go

// TypeKind says what kind of thing a FHIR type is.
type TypeKind uint8

const (
	KindPrimitive TypeKind = iota + 1
	KindComplex
	KindResource
	KindLogical
)

// TypeDef is one StructureDefinition of a resource or data type.
type TypeDef struct {
	Name     string
	Kind     TypeKind
	Abstract bool
	Base     string // parent type; "" for Base
	Root     int32  // index of the root element in the element table
	Regex    string // primitives: the value's regular expression from the spec
}

// Element is one ElementDefinition of a type's snapshot.
type Element struct {
	Path        string   // e.g. "Observation.component.value[x]"
	Name        string   // FHIRPath name: last path segment without "[x]"
	Types       []string // FHIR type codes; several for a choice element
	Choice      bool     // name ends in [x]
	Min         int32
	Max         int32 // -1 for *
	Array       bool  // the element repeats, so its JSON form is an array
	Summary     bool
	Modifier    bool
	Binding     int32   // required binding: index+1 in the binding table, 0 for none
	Kids        []int32 // inline children (backbone elements and content references)
	Constraints []int32 // indices in the constraint table
	Targets     []string
}

// Constraint is an invariant of an element: a FHIRPath expression that must
// evaluate to true.
type Constraint struct {
	Key        string
	Severity   string // "error" or "warning"
	Human      string
	Expression string
}

// Binding is a required binding to an enumerable value set.
type Binding struct {
	ValueSet string
	Codes    []SystemCode // sorted by Code, then System
}

// SystemCode is a code with the system that defines it.
type SystemCode struct{ System, Code string }

// ExtensionDef is one of the extensions the R4 specification defines.
type ExtensionDef struct {
	URL      string
	Contexts []string // element contexts: a type ("Element", "HumanName") or an element path ("HumanName.family")
	Types    []string // allowed types of value[x]; nil for a complex extension (no value)
}

// SearchParam is one R4 SearchParameter.
type SearchParam struct {
	URL         string
	Name        string // the code used in query strings
	Type        string // number, date, string, token, reference, composite, quantity, uri, special
	Base        []string
	Expression  string
	Targets     []string
	Modifiers   []string
	Comparators []string
	Components  []SearchComponent
	MultipleOr  bool
	MultipleAnd bool
}

// SearchComponent is one part of a composite search parameter.
type SearchComponent struct {
	Definition string // canonical URL of the component's SearchParameter
	Expression string // relative to the composite's expression
}

// CompartmentResource lists the search parameters that place a resource of
// a type into a compartment.
type CompartmentResource struct {
	Type   string
	Params []string
}

// Compartment is one CompartmentDefinition.
type Compartment struct {
	Code      string // Patient, Encounter, RelatedPerson, Practitioner, Device
	Resources []CompartmentResource
}

// typeTable finds type definitions by name with open addressing: the
// parser and serialiser look types up for nearly every value, and this is
// several times cheaper than a map for the short names.
var typeTable = func() (t [typeSlots]*TypeDef) {
	for i := range specTypes {
		h := typeHash(specTypes[i].Name)
		for t[h] != nil {
			h = (h + 1) & (typeSlots - 1)
		}
		t[h] = &specTypes[i]
	}
	return t
}()

const typeSlots = 1024 // a power of two, several times the number of types

func typeHash(s string) int {
	n := len(s)
	if n == 0 {
		return 0
	}
	return (n*0x9E37 ^ int(s[0])*0x1F3 ^ int(s[n-1])*0x3B ^ int(s[n/2])*7) & (typeSlots - 1)
}

// Type returns the definition of the named type, or nil.
func Type(name string) *TypeDef {
	for h := typeHash(name); ; h = (h + 1) & (typeSlots - 1) {
		if t := typeTable[h]; t == nil || t.Name == name {
			return t
		}
	}
}

// Types returns every type definition in name order.
func Types() []TypeDef { return specTypes[:] }

// IsResourceType reports whether name is a concrete resource type.
func IsResourceType(name string) bool {
	t := Type(name)
	return t != nil && t.Kind == KindResource && !t.Abstract
}

// ResourceTypes returns the names of all concrete resource types, sorted.
var ResourceTypes = sync.OnceValue(func() []string {
	var out []string
	for _, t := range specTypes {
		if t.Kind == KindResource && !t.Abstract {
			out = append(out, t.Name)
		}
	}
	return out
})

// RootElement returns the root element of a type.
func (t *TypeDef) RootElement() *Element { return &specElements[t.Root] }

// IsA reports whether t is the type name or derives from it.
func (t *TypeDef) IsA(name string) bool {
	for c := t; c != nil; c = Type(c.Base) {
		if c.Name == name {
			return true
		}
		if c.Base == "" {
			break
		}
	}
	return false
}

// ElementAt returns the element with the given index in the element table.
func ElementAt(i int32) *Element { return &specElements[i] }

// Kid returns the i-th inline child of e.
func (e *Element) Kid(i int) *Element { return &specElements[e.Kids[i]] }

// BindingOf returns e's required binding, or nil.
func (e *Element) BindingOf() *Binding {
	if e.Binding == 0 {
		return nil
	}
	return &specBindings[e.Binding-1]
}

// Children returns the child elements of an instance of e that has type
// typ: the inline children for backbone elements, else the children of the
// type's root element.
func Children(e *Element, typ string) []int32 {
	if e != nil && len(e.Kids) > 0 {
		return e.Kids
	}
	if t := Type(typ); t != nil {
		return specElements[t.Root].Kids
	}
	return nil
}

// Contains reports whether the binding includes code (with system, when
// system is not empty).
func (b *Binding) Contains(system, code string) bool {
	i := sort.Search(len(b.Codes), func(i int) bool { return b.Codes[i].Code >= code })
	for ; i < len(b.Codes) && b.Codes[i].Code == code; i++ {
		if system == "" || b.Codes[i].System == system {
			return true
		}
	}
	return false
}

// ConstraintAt returns the constraint with the given index.
func ConstraintAt(i int32) *Constraint { return &specConstraints[i] }

// Extension returns the core extension definition with the canonical URL
// (a "|version" suffix is ignored), or nil.
func Extension(url string) *ExtensionDef {
	url, _, _ = strings.Cut(url, "|")
	i := sort.Search(len(specExtensions), func(i int) bool { return specExtensions[i].URL >= url })
	if i < len(specExtensions) && specExtensions[i].URL == url {
		return &specExtensions[i]
	}
	return nil
}

// SearchParams returns all R4 search parameters.
func SearchParams() []SearchParam { return specSearchParams[:] }

var searchIndex = sync.OnceValue(func() map[string][]*SearchParam {
	m := map[string][]*SearchParam{}
	for i := range specSearchParams {
		p := &specSearchParams[i]
		for _, b := range p.Base {
			m[b] = append(m[b], p)
		}
	}
	return m
})

// SearchParamsFor returns the parameters that apply to resources of type
// typ, including those defined on Resource and DomainResource.
func SearchParamsFor(typ string) []*SearchParam {
	idx := searchIndex()
	var out []*SearchParam
	out = append(out, idx["Resource"]...)
	if t := Type(typ); t != nil && t.IsA("DomainResource") {
		out = append(out, idx["DomainResource"]...)
	}
	return append(out, idx[typ]...)
}

// SearchParamByURL returns the parameter with the canonical URL, or nil.
func SearchParamByURL(url string) *SearchParam {
	for i := range specSearchParams {
		if specSearchParams[i].URL == url {
			return &specSearchParams[i]
		}
	}
	return nil
}

// Compartments returns the R4 compartment definitions.
func Compartments() []Compartment { return specCompartments[:] }

// ChoiceName returns the JSON name of a choice element for a type, e.g.
// ("value", "dateTime") -> "valueDateTime".
func ChoiceName(name, typ string) string {
	if typ == "" {
		return name
	}
	return name + strings.ToUpper(typ[:1]) + typ[1:]
}
