package fhirpath

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// observations loads the R4 Observation examples.
func observations(b *testing.B) []*fhir.Node {
	b.Helper()
	var out []*fhir.Node
	for _, f := range corpus.Examples(b) {
		if !strings.HasPrefix(filepath.Base(f), "Observation-") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if n, o := fhir.Parse(data, fhir.Limits{}); n != nil && !o.HasErrors() {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		b.Skip("no Observation examples")
	}
	return out
}

func benchExpr(b *testing.B, expr string, opts *Options) {
	obs := observations(b)
	x := MustCompile(expr)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := x.Evaluate(obs[i%len(obs)], opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPath is a simple path: one evaluation per iteration.
func BenchmarkPath(b *testing.B) {
	benchExpr(b, "Observation.code.coding.code", nil)
}

// BenchmarkWhere filters with where().
func BenchmarkWhere(b *testing.B) {
	benchExpr(b, "Observation.code.coding.where(system = 'http://loinc.org').code", nil)
}

// BenchmarkSearchParam evaluates the R4 search parameter
// Observation-combo-value-quantity ("as" over choice elements).
func BenchmarkSearchParam(b *testing.B) {
	p := fhir.SearchParamByURL("http://hl7.org/fhir/SearchParameter/Observation-combo-value-quantity")
	if p == nil {
		b.Skip("search parameter missing")
	}
	benchExpr(b, p.Expression, &Options{LenientAs: true})
}

// BenchmarkOfType evaluates a path through a choice with ofType().
func BenchmarkOfType(b *testing.B) {
	benchExpr(b, "Observation.value.ofType(Quantity).value", nil)
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile("Observation.code.coding.where(system = 'http://loinc.org').code"); err != nil {
			b.Fatal(err)
		}
	}
}
