package fhirpath

import (
	"strconv"
	"sync"

	"github.com/fhirseal/fhirseal/fhir"
)

// compiledConstraints caches the compiled expression of each constraint
// of the R4 tables, by index.
var compiledConstraints sync.Map // int32 -> constraintExpr

type constraintExpr struct {
	expr *Expr
	err  error
}

func constraintAt(i int32) constraintExpr {
	if v, ok := compiledConstraints.Load(i); ok {
		return v.(constraintExpr)
	}
	e, err := Compile(fhir.ConstraintAt(i).Expression)
	ce := constraintExpr{expr: e, err: err}
	compiledConstraints.Store(i, ce)
	return ce
}

// CheckInvariants evaluates the StructureDefinition constraints
// (invariants) of every element present in a parsed resource: those of the
// element's definition (ele-1 and the element's own), those of its type
// (ext-1 for extensions, qty-3 for quantities, ...), and those of each
// resource (dom-2 to dom-6 and the resource's own), for nested resources
// too. %resource is the resource the element belongs to and %rootResource
// its container when it is contained.
//
// Each failed constraint becomes an issue with the constraint's severity,
// code "invariant", diagnostics "key: human text" and the FHIRPath of the
// element (Patient.name[0].given[1], Observation.value.ofType(Quantity)).
// A constraint that cannot be evaluated gives a warning naming its key.
// A constraint that evaluates to empty is not reported.
func CheckInvariants(root *fhir.Node) []fhir.Issue {
	return CheckInvariantsWith(root, nil)
}

// CheckInvariantsWith is CheckInvariants with evaluation options (resolver,
// terminology, limits). The options' Resource and RootResource are
// ignored: the checker sets them for each element.
func CheckInvariantsWith(root *fhir.Node, opts *Options) []fhir.Issue {
	c := &checker{}
	if opts != nil {
		c.opts = *opts
	}
	c.opts.LenientAs = true
	c.walk(root, root.Type, nil, root, root)
	return c.issues
}

type checker struct {
	opts   Options
	issues []fhir.Issue
	seen   []int32
}

// walk checks n and its descendants. elem is the definition the node was
// reached through (nil for the root); res and rootRes are the enclosing
// resource and its container.
func (c *checker) walk(n *fhir.Node, path string, elem *fhir.Element, res, rootRes *fhir.Node) {
	c.check(n, path, res, rootRes)
	for fi := range n.Fields {
		f := &n.Fields[fi]
		if f.Elem == nil {
			continue
		}
		base := path + "." + f.Elem.Name
		for i, child := range f.Nodes {
			cpath := base
			if f.Elem.Array {
				cpath += "[" + strconv.Itoa(i) + "]"
			}
			if f.Elem.Choice {
				cpath += ".ofType(" + child.Type + ")"
			}
			if child.IsResource() {
				r := child
				rr := child
				if f.Elem.Name == "contained" {
					rr = rootRes
				}
				c.walk(child, cpath, f.Elem, r, rr)
				continue
			}
			c.walk(child, cpath, f.Elem, res, rootRes)
		}
	}
}

// check evaluates the constraints that apply to n.
func (c *checker) check(n *fhir.Node, path string, res, rootRes *fhir.Node) {
	c.seen = c.seen[:0]
	if n.Elem != nil {
		c.seen = append(c.seen, n.Elem.Constraints...)
	}
	if td := fhir.Type(n.Type); td != nil {
		if re := td.RootElement(); re != n.Elem {
			for _, k := range re.Constraints {
				if !containsIndex(c.seen, k) {
					c.seen = append(c.seen, k)
				}
			}
		}
	}
	if len(c.seen) == 0 {
		return
	}
	opts := c.opts
	opts.Resource, opts.RootResource = res, rootRes
	input := Collection{Element{n}}
	for _, k := range c.seen {
		con := fhir.ConstraintAt(k)
		ce := constraintAt(k)
		if ce.err != nil {
			c.issues = append(c.issues, fhir.Issue{Severity: fhir.Warning, Code: "invariant", Expression: path,
				Diagnostics: con.Key + ": the constraint could not be compiled: " + ce.err.Error()})
			continue
		}
		out, err := ce.expr.EvaluateCollection(input, &opts)
		if err != nil {
			c.issues = append(c.issues, fhir.Issue{Severity: fhir.Warning, Code: "invariant", Expression: path,
				Diagnostics: con.Key + ": the constraint could not be evaluated: " + err.Error()})
			continue
		}
		ok, known, err := toBool(out, con.Key)
		if err != nil {
			c.issues = append(c.issues, fhir.Issue{Severity: fhir.Warning, Code: "invariant", Expression: path,
				Diagnostics: con.Key + ": the constraint did not give a boolean: " + err.Error()})
			continue
		}
		if known && !ok {
			sev := fhir.Error
			msg := con.Key + ": " + con.Human
			if con.Severity == "warning" {
				sev = fhir.Warning
			}
			if why, ok := defective[con.Key]; ok {
				sev = fhir.Warning
				msg += " (reported as a warning: " + why + ")"
			}
			c.issues = append(c.issues, fhir.Issue{Severity: sev, Code: "invariant", Expression: path, Diagnostics: msg})
		}
	}
}

// defective lists R4 constraints whose published expression is wrong, so
// that a failure says nothing about the resource. They are reported as
// warnings, never as errors.
var defective = map[string]string{
	"que-7": "R4's expression tests the System type Boolean, which a FHIR boolean is not; later versions test 'answer is boolean'",
}

func containsIndex(s []int32, k int32) bool {
	for _, v := range s {
		if v == k {
			return true
		}
	}
	return false
}
