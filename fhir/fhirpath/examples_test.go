package fhirpath

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// invariantDefects lists R4 examples that really break an invariant, with
// the constraint and the reason. TestExampleInvariants fails when a listed
// example passes or an unlisted one fails.
var invariantDefects = map[string]string{
	"Bundle-dataelements.json": "bdl-7: entries share fullUrls (e.g. .../de-Quantity.value) without versionIds",
	// que-7 reads "answer is Boolean": System.Boolean, which a FHIR boolean
	// is not (the FHIRPath suite's testType12), so any enableWhen with the
	// operator 'exists' fails it. Later FHIR versions write "answer is boolean".
}

func TestExampleInvariants(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: evaluates every constraint on every R4 example")
	}
	files := corpus.Examples(t)
	pass, parsed := 0, 0
	keys := map[string]int{}
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		root, out := fhir.Parse(data, fhir.Limits{})
		if root == nil || out.HasErrors() {
			continue
		}
		parsed++
		issues := CheckInvariants(root)
		var msgs []string
		for _, is := range issues {
			if is.Severity == fhir.Error || strings.Contains(is.Diagnostics, "could not") {
				msgs = append(msgs, is.Expression+": "+is.Diagnostics)
				k, _, _ := strings.Cut(is.Diagnostics, ":")
				keys[k]++
			}
		}
		_, listed := invariantDefects[name]
		switch {
		case len(msgs) == 0 && listed:
			t.Errorf("%s passes every invariant but is listed as a defect", name)
		case len(msgs) == 0:
			pass++
		case !listed:
			if len(msgs) > 5 {
				msgs = append(msgs[:5], "...")
			}
			t.Errorf("%s: %s", name, strings.Join(msgs, "; "))
		}
	}
	var ks []string
	for k, n := range keys {
		ks = append(ks, k+"="+strconv.Itoa(n))
	}
	sort.Strings(ks)
	t.Logf("%d of %d valid examples pass all invariants (%d files); failing keys: %s", pass, parsed, len(files), strings.Join(ks, " "))
}

// TestSearchParamsOnExamples evaluates the expression of every search
// parameter that applies to each R4 example: none may fail.
func TestSearchParamsOnExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: evaluates every search parameter on every R4 example")
	}
	compiled := map[string]*Expr{}
	evals, results := 0, 0
	for _, f := range corpus.Examples(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		root, out := fhir.Parse(data, fhir.Limits{})
		if root == nil || out.HasErrors() {
			continue
		}
		for _, p := range fhir.SearchParamsFor(root.Type) {
			if p.Expression == "" {
				continue
			}
			x := compiled[p.Expression]
			if x == nil {
				if x, err = Compile(p.Expression); err != nil {
					t.Fatalf("%s: %v", p.URL, err)
				}
				compiled[p.Expression] = x
			}
			got, err := x.Evaluate(root, &Options{LenientAs: true})
			evals++
			results += len(got)
			if err != nil {
				t.Errorf("%s: %s (%s): %v", filepath.Base(f), p.Name, p.Expression, err)
			}
		}
	}
	t.Logf("%d evaluations, %d values", evals, results)
}
