package normalize

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
)

// FuzzParseProfile feeds arbitrary YAML to the profile loader: it must not
// panic, and a profile it accepts must normalise a resource.
func FuzzParseProfile(f *testing.F) {
	files, _ := filepath.Glob("testdata/profiles/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("client_id: a\nvalues:\n  Patient.gender: {M: male}\n"))
	f.Add([]byte("client_id: &x a\nname: *x\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("client_id: a\nunits:\n  convert:\n    - {from: '[lb_av]', to: kg, factor: '0.45359237'}\n"))
	res := []byte(`{"resourceType":"Observation","status":"FINAL","code":{"coding":[{"system":"LN","code":"1"}]},"valueQuantity":{"value":1,"unit":"mg/dl"}}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile("fuzz.yaml", data)
		if err != nil {
			return
		}
		n, _ := fhir.Parse(res, fhir.Limits{})
		if _, err := p.Normalize(n); err != nil {
			t.Fatalf("Normalize: %v", err)
		}
		if cs, _ := p.Normalize(n); len(cs) > 0 {
			t.Fatalf("Normalize is not idempotent with profile %q: %v", data, cs)
		}
	})
}

// FuzzNormalize mutates resources of a fixed set and normalises them with
// each example profile: no panic, a second run changes nothing, and a
// valid input stays valid.
func FuzzNormalize(f *testing.F) {
	seeds := []string{
		`{"resourceType":"Observation","extension":[{"url":"http://northwind.example/fhir/StructureDefinition/x","valueString":"a"}],"status":"FINAL","code":{"coding":[{"system":"LN","code":"8867-4"},{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"https://ehr.acme.example/fhir/Patient/p1"},"effectiveDateTime":"2024-01-15T08:30:00","issued":"2024-01-15T08:30:00.120+02:00","valueQuantity":{"value":185.0,"unit":"lbs","system":"http://unitsofmeasure.org","code":"lbs"}}`,
		`{"resourceType":"Patient","identifier":[{"system":"urn:acme:mrn","value":"1"}],"gender":"M","_birthDate":{"extension":[{"url":"urn:northwind:x","valueString":"y"}]}}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:5b3c8f5e-4b1e-4a8e-9d2f-1c2b3a4d5e6f","resource":{"resourceType":"Condition","subject":{"reference":"http://fhir.northwind.example/r4/Patient/1"},"code":{"coding":[{"system":"SCT","code":"1"},{"system":"urn:oid:2.16.840.1.113883.6.96","code":"1"}]}}}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	ps, err := LoadProfiles("testdata/profiles")
	if err != nil {
		f.Fatal(err)
	}
	profiles := []*Profile{Default()}
	for _, id := range []string{"acme-ehr", "northwind-clinic", "harbour-health"} {
		profiles = append(profiles, ps[id])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range profiles {
			n, out := fhir.Parse(data, fhir.Limits{MaxBytes: 1 << 16})
			if n == nil {
				return
			}
			valid := !out.HasErrors()
			if _, err := p.Normalize(n); err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			b := fhir.Marshal(n)
			n2, out2 := fhir.Parse(b, fhir.Limits{})
			if n2 == nil {
				t.Fatalf("Normalize output cannot be read: %s\n%s", out2, b)
			}
			if valid && out2.HasErrors() {
				t.Fatalf("Normalize(%s) with %s made a valid resource invalid: %s\n%s", data, p.ClientID(), out2, b)
			}
			if cs, _ := p.Normalize(n2); len(cs) > 0 && !out2.HasErrors() {
				t.Fatalf("Normalize(%s) with %s is not idempotent: %v", data, p.ClientID(), cs)
			}
		}
	})
}

// FuzzParseBundle feeds arbitrary bytes to ParseBundle with each example
// profile: no panic, one result per Bundle entry, and every entry that
// changed keeps its received form.
func FuzzParseBundle(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"https://ehr.acme.example/fhir/Patient/1","resource":{"resourceType":"Patient","gender":"M","identifier":[{"system":"urn:acme:mrn","value":"1"}]},"request":{"method":"POST","url":"Patient"}},{"request":{"method":"DELETE","url":"Patient/2"}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Observation","status":"FINAL","code":{"coding":[{"system":"LN","code":"1"}]},"effectiveDateTime":"2024-01-15T08:30:00"},"request":{"method":"POST","url":"Observation"}}]}`))
	f.Add([]byte(`{"resourceType":"Patient","gender":"M"}`))
	ps, err := LoadProfiles("testdata/profiles")
	if err != nil {
		f.Fatal(err)
	}
	profiles := []*Profile{Default(), ps["acme-ehr"], ps["northwind-clinic"], ps["harbour-health"]}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range profiles {
			b, entries, _ := p.ParseBundle(data, fhir.Limits{MaxBytes: 1 << 16})
			if b == nil || b.Type != "Bundle" {
				continue
			}
			if len(entries) != len(b.Get("entry")) {
				t.Fatalf("ParseBundle(%s): %d results for %d entries", data, len(entries), len(b.Get("entry")))
			}
			for i, e := range entries {
				if (len(e.Changes) > 0) != (e.Received != nil) {
					t.Fatalf("ParseBundle(%s) entry %d: %d changes, received form kept: %v", data, i, len(e.Changes), e.Received != nil)
				}
			}
		}
	})
}
