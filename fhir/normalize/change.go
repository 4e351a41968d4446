package normalize

import (
	"strconv"

	"github.com/fhirseal/fhirseal/fhir"
)

// Change is one edit made by a normalisation step.
//
// Path is the FHIRPath of the element in the tree as the step found it,
// written the way fhir.Parse writes issue expressions
// ("Observation.value.ofType(Quantity).code", "Patient.identifier[0].type").
// Before and After are the element's primitive text, or a short summary for
// a complex element ("system|code" for a Coding); "" means absent. Rule
// names the step and rule ("code-system", "unit", ...).
type Change struct {
	Path   string
	Before string
	After  string
	Rule   string
}

// Rule names reported in Change.Rule.
const (
	RuleExtension        = "extension"         // an extension the profile denies was removed
	RuleValueMap         = "value-map"         // a code mapped by the profile's value map
	RuleValueCase        = "value-case"        // a code in the wrong case for its required binding
	RuleCodeSystem       = "code-system"       // Coding.system alias, OID or old URI to the canonical URI
	RuleMergeCodings     = "merge-codings"     // a coding duplicating an earlier one (same system and code) merged into it
	RuleUnit             = "unit"              // Quantity system/code to UCUM
	RuleUnitConvert      = "unit-convert"      // Quantity value converted where the profile asks for it
	RuleIdentifierSystem = "identifier-system" // local identifier namespace to the canonical one
	RuleIdentifierType   = "identifier-type"   // Identifier.type filled from v2-0203
	RuleReference        = "reference"         // absolute reference to the source's own base made local
	RuleDateTimeZone     = "datetime-zone"     // local dateTime given the source's UTC offset
	RuleInstantUTC       = "instant-utc"       // instant written in UTC
)

// OutcomeFor lists changes as information issues of an OperationOutcome:
// one per change, with the rule and the values in the diagnostics and the
// path as the expression. The $normalize operation returns it.
func OutcomeFor(changes []Change) *fhir.Outcome {
	out := &fhir.Outcome{}
	for _, c := range changes {
		out.Issues = append(out.Issues, fhir.Issue{
			Severity:    fhir.Information,
			Code:        "informational",
			Diagnostics: c.Rule + ": " + quote(c.Before) + " -> " + quote(c.After),
			Expression:  c.Path,
		})
	}
	return out
}

func quote(s string) string {
	if s == "" {
		return "(absent)"
	}
	return strconv.Quote(s)
}

// seg is one step of an element path.
type seg struct {
	name  string
	typ   string // chosen type of a choice element
	index int    // -1 for a singular element
}

// path is the FHIRPath of the node being visited, kept as segments and
// written out only when a change is recorded.
type path []seg

func (p path) String() string {
	b := make([]byte, 0, 64)
	for _, s := range p {
		b = fhir.AppendPathStep(b, s.name, s.typ, s.index)
	}
	return string(b)
}

// child returns the segment for value i of field f.
func child(f *fhir.Field, v *fhir.Node, i int) seg {
	s := seg{name: f.Elem.Name, index: -1}
	if f.Elem.Choice {
		s.typ = v.Type
	}
	if f.Elem.Array {
		s.index = i
	}
	return s
}

// sub returns the path of p's child name (a singular, non-choice element).
func (p path) sub(name string) string {
	return append(p[:len(p):len(p)], seg{name: name, index: -1}).String()
}

// walk calls fn for n and every node below it, pre-order, with its path.
// fn may edit the node it is given (its fields too); it must not edit the
// node's ancestors.
func walk(n *fhir.Node, p path, fn func(n *fhir.Node, p path)) {
	fn(n, p)
	for fi := range n.Fields {
		f := &n.Fields[fi]
		for i := 0; i < len(f.Nodes); i++ {
			v := f.Nodes[i]
			walk(v, append(p, child(f, v, i)), fn)
		}
	}
}

// root returns the path of a resource at the top of a tree. Its capacity
// lets walks below it append without allocating.
func root(res *fhir.Node) path {
	p := make(path, 1, 32)
	p[0] = seg{name: res.Type, index: -1}
	return p
}

// isPrimitive reports whether the type t is a FHIR primitive.
func isPrimitive(t string) bool {
	d := fhir.Type(t)
	return d != nil && d.Kind == fhir.KindPrimitive
}

// setPrimitive sets the value of the single primitive child name of n,
// keeping its id and extensions, and adding the child when absent.
func setPrimitive(n *fhir.Node, name, value string) {
	if c := n.First(name); c != nil {
		c.Kind, c.Value = fhir.StringValue, value
		return
	}
	n.Set(name, value)
}

// removeField deletes the child element with FHIRPath name name.
func removeField(n *fhir.Node, name string) {
	for i := range n.Fields {
		if n.Fields[i].Elem != nil && n.Fields[i].Elem.Name == name {
			n.Fields = append(n.Fields[:i], n.Fields[i+1:]...)
			return
		}
	}
}
