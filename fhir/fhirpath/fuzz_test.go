package fhirpath

import (
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
)

var fuzzSeeds = []string{
	"Patient.name.given",
	"name.where(use = 'official').given.first() & ' ' & name.family",
	"(1 + 2.5 * 3) div 2 mod 7 - -1",
	"@2014-01-01T10:00:00.000+10:00 + 1 'a' < now()",
	"'abc'.substring(1, 2).matches('[a-z]+') implies true xor false",
	"%resource.descendants().as(canonical) | %`ext-foo` | %'vs-bar'",
	"Observation.value.ofType(Quantity).value > 5 'mg/dL'",
	"children().repeat(children()).count()",
	"iif(birthDate.exists(), birthDate.lowBoundary(6), {})",
	"aggregate($this + $total, 0)",
	"telecom[0].value.replaceMatches('(\\\\d+)', '<$1>')",
	"/* c */ 1 // d",
	"`given`.is(FHIR.string) and name.as(HumanName).exists()",
	"(((((1)))))",
	"sort(-family, given.first())",
}

// FuzzCompile checks that the parser never panics and that whatever it
// accepts can be evaluated without panicking.
func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	root := fuzzPatient(f)
	f.Fuzz(func(t *testing.T, expr string) {
		x, err := Compile(expr)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Compile(%q) = %T %v, want a *SyntaxError", expr, err, err)
			}
			return
		}
		if x.String() != expr {
			t.Fatalf("String() = %q, want %q", x.String(), expr)
		}
		_, _ = x.Evaluate(root, fuzzOptions())
	})
}

// FuzzEvaluate evaluates arbitrary expressions against a fixed resource
// under tight limits: errors are fine, panics and runaway work are not.
func FuzzEvaluate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	root := fuzzPatient(f)
	f.Fuzz(func(t *testing.T, expr string) {
		x, err := Compile(expr)
		if err != nil {
			return
		}
		start := time.Now()
		out, err := x.Evaluate(root, fuzzOptions())
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Evaluate(%q) took %s", expr, d)
		}
		if err == nil {
			_ = AppendJSON(nil, out)
		}
	})
}

func fuzzOptions() *Options {
	return &Options{
		Limits: Limits{MaxDepth: 64, MaxItems: 10_000, MaxSteps: 200_000, Timeout: time.Second},
		Now:    time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
	}
}

const fuzzPatientJSON = `{"resourceType":"Patient","id":"f","meta":{"versionId":"1"},
"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
"contained":[{"resourceType":"Organization","id":"o1","name":"Org"}],
"extension":[{"url":"http://example.org/x","valueDecimal":1.50}],
"identifier":[{"system":"urn:oid:1.2.3","value":"12345"}],"active":true,
"name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"use":"usual","given":["Jim"]}],
"telecom":[{"system":"phone","value":"(03) 5555 6473","use":"work"}],"gender":"male","birthDate":"1974-12-25",
"_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]},
"managingOrganization":{"reference":"#o1"}}`

func fuzzPatient(tb testing.TB) *fhir.Node {
	n, out := fhir.Parse([]byte(fuzzPatientJSON), fhir.Limits{})
	if n == nil || out.HasErrors() {
		tb.Fatalf("fuzz input does not parse: %s", out)
	}
	return n
}
