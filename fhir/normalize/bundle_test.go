package normalize

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
)

// TestParseBundle checks that each entry's resource is normalised as if
// sent alone (the same result, changes with the same paths), that the
// received form is kept only for entries that changed, and that input
// invalid only until normalised is accepted.
func TestParseBundle(t *testing.T) {
	p := testProfiles(t)["northwind-clinic"]
	patient := `{"resourceType":"Patient","gender":"F"}`
	canonical := `{"resourceType":"Patient","gender":"female"}`
	obs := `{"resourceType":"Observation","status":"FINAL","code":{"coding":[{"system":"LN","code":"8867-4"}]},"valueQuantity":{"value":72,"unit":"bpm"}}`
	in := `{"resourceType":"Bundle","type":"transaction","timestamp":"2024-01-15T08:30:00+01:00","entry":[` +
		`{"resource":` + patient + `,"request":{"method":"POST","url":"Patient"}},` +
		`{"resource":` + canonical + `,"request":{"method":"POST","url":"Patient"}},` +
		`{"request":{"method":"DELETE","url":"Patient/x"}},` +
		`{"resource":` + obs + `,"request":{"method":"POST","url":"Observation"}}]}`
	b, entries, out := p.ParseBundle([]byte(in), fhir.Limits{})
	if b == nil || out.HasErrors() {
		t.Fatalf("ParseBundle: %s", out)
	}
	if len(entries) != 4 {
		t.Fatalf("ParseBundle: %d entries, want 4", len(entries))
	}
	if b.String("timestamp") != "2024-01-15T08:30:00+01:00" {
		t.Errorf("the Bundle's own timestamp was changed to %q", b.String("timestamp"))
	}
	sent := []string{patient, canonical, "", obs}
	for i, e := range b.Get("entry") {
		if sent[i] == "" {
			if entries[i].Received != nil || entries[i].Changes != nil {
				t.Errorf("entry %d has no resource, but ParseBundle reports %+v", i, entries[i])
			}
			continue
		}
		alone, changes, aout := p.Parse([]byte(sent[i]), fhir.Limits{})
		if alone == nil || aout.HasErrors() {
			t.Fatalf("Parse(%s): %s", sent[i], aout)
		}
		if got, want := fhir.Marshal(e.First("resource")), fhir.Marshal(alone); !bytes.Equal(got, want) {
			t.Errorf("entry %d = %s, want %s as when sent alone", i, got, want)
		}
		if fmt.Sprint(entries[i].Changes) != fmt.Sprint(changes) {
			t.Errorf("entry %d changes = %v, want %v", i, entries[i].Changes, changes)
		}
		switch {
		case len(changes) == 0 && entries[i].Received != nil:
			t.Errorf("entry %d did not change, but its received form was kept", i)
		case len(changes) > 0:
			// The received form is the resource as sent, serialised.
			orig, _ := fhir.Parse([]byte(sent[i]), fhir.Limits{})
			if !bytes.Equal(entries[i].Received, fhir.Marshal(orig)) {
				t.Errorf("entry %d received = %s, want %s", i, entries[i].Received, fhir.Marshal(orig))
			}
		}
	}
	if len(entries[0].Changes) == 0 || len(entries[3].Changes) == 0 {
		t.Errorf("the dialect entries were not normalised: %+v", entries)
	}

	// Errors that normalisation does not repair are still reported.
	bad := `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","gender":"X"},"request":{"method":"POST","url":"Patient"}}]}`
	if _, _, out := p.ParseBundle([]byte(bad), fhir.Limits{}); !out.HasErrors() {
		t.Errorf("ParseBundle(%s) reports no error", bad)
	}
}

func TestLocalReference(t *testing.T) {
	p := testProfiles(t)["acme-ehr"]
	cases := []struct{ in, want string }{
		{"https://ehr.acme.example/fhir/Patient/123", "Patient/123"},
		{"https://ehr.acme.example/fhir/Patient/123/_history/2", "Patient/123/_history/2"},
		{"https://ehr.acme.example/fhirx/Patient/123", ""},
		{"https://ehr.acme.example/fhir/Whatever/123", ""},
		{"https://other.example/fhir/Patient/123", ""},
		{"Patient/123", ""},
		{"urn:uuid:5b3c8f5e-4b1e-4a8e-9d2f-1c2b3a4d5e6f", ""},
	}
	for _, c := range cases {
		got, ok := p.LocalReference(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("LocalReference(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	if got, ok := Default().LocalReference("https://ehr.acme.example/fhir/Patient/123"); ok {
		t.Errorf("Default().LocalReference = %q, want none (no base URL)", got)
	}
}

func TestNormalizerLookup(t *testing.T) {
	z := NewNormalizer(testProfiles(t))
	if p, ok := z.Lookup("harbour-health"); !ok || p.ClientID() != "harbour-health" {
		t.Errorf("Lookup(harbour-health) = %v, %v", p, ok)
	}
	if p, ok := z.Lookup("unknown"); ok || p != nil {
		t.Errorf("Lookup(unknown) = %v, %v; want nothing", p, ok)
	}
}
