package fhirpath

import (
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
)

// Every FHIRPath expression of the R4 tables must compile: the 1,400
// search parameters (and their composite components) and every
// StructureDefinition constraint.
func TestCompileSpecExpressions(t *testing.T) {
	n, bad := 0, 0
	try := func(what, expr string) {
		t.Helper()
		if expr == "" {
			return
		}
		n++
		if _, err := Compile(expr); err != nil {
			bad++
			t.Errorf("%s: Compile(%q): %v", what, expr, err)
		}
	}
	for _, p := range fhir.SearchParams() {
		try("SearchParameter "+p.URL, p.Expression)
		for _, c := range p.Components {
			try("SearchParameter "+p.URL+" component", c.Expression)
		}
	}
	seen := map[int32]bool{}
	visited := map[*fhir.Element]bool{}
	var walk func(e *fhir.Element, depth int)
	walk = func(e *fhir.Element, depth int) {
		if visited[e] {
			return
		}
		visited[e] = true
		for _, k := range e.Constraints {
			if !seen[k] {
				seen[k] = true
				c := fhir.ConstraintAt(k)
				try("constraint "+c.Key, c.Expression)
			}
		}
		if depth > 30 {
			return
		}
		for i := range e.Kids {
			walk(e.Kid(i), depth+1)
		}
	}
	for _, td := range fhir.Types() {
		walk(td.RootElement(), 0)
	}
	t.Logf("%d expressions (%d search parameters, %d constraints), %d do not compile", n, len(fhir.SearchParams()), len(seen), bad)
}
