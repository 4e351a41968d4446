package auth

import (
	"bytes"
	stdjson "encoding/json"
	"strings"
	"testing"
)

func TestResearchPermitted(t *testing.T) {
	tests := []struct {
		name     string
		consents []*Consent
		want     bool
	}{
		{"no consent", nil, false},
		{"privacy opt-in is not a research consent", []*Consent{mkConsent("c1", nil, withPolicyRule("OPTIN"))}, false},
		{"privacy permit for treatment only", []*Consent{mkConsent("c1", p(prov("permit", purpose("TREAT"))))}, false},
		{"privacy permit naming research", []*Consent{mkConsent("c1", p(prov("permit", purpose("HRESCH"))))}, true},
		{"research consent", []*Consent{mkConsent("c1", p(prov("permit")), withScope(ScopeResearch))}, true},
		{"research consent, expired", []*Consent{mkConsent("c1", p(prov("permit", period("2020", "2021"))), withScope(ScopeResearch))}, false},
		{"research consent withdrawn", []*Consent{mkConsent("c1", p(prov("permit")), withScope(ScopeResearch), withStatus("inactive"))}, false},
		{"research consent with a privacy deny of research", []*Consent{
			mkConsent("c1", p(prov("permit")), withScope(ScopeResearch)),
			mkConsent("c2", p(prov("deny", purpose("HRESCH")))),
		}, false},
		{"research consent with a privacy deny of marketing", []*Consent{
			mkConsent("c1", p(prov("permit")), withScope(ScopeResearch)),
			mkConsent("c2", p(prov("deny", purpose("HMARKT")))),
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol, _ := NewPolicy("p1", testBase, tc.consents)
			if got := pol.ResearchPermitted(Caller{Who: "Organization/lab"}, testNow); got != tc.want {
				t.Errorf("ResearchPermitted(%s) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
	// Per-resource restrictions of a research consent hold.
	pol, _ := NewPolicy("p1", testBase, []*Consent{mkConsent("c1", p(prov("permit", nested(prov("deny", label(SystemActCode, "HIV"))))), withScope(ScopeResearch))})
	f := pol.ResearchFilter(Caller{}, testNow, ConsentConfig{Default: Permit})
	if v := f.Check(&obs); !v.Permit {
		t.Errorf("research Check(Observation) = %s", v.Reason)
	}
	hiv := with(obs, func(r *Resource) { r.Labels = []string{SystemActCode + "|HIV"} })
	if v := f.Check(&hiv); v.Permit {
		t.Errorf("research Check(HIV-labelled) permitted")
	}
	if f.BreakGlass {
		t.Errorf("research filter allows break-glass")
	}
}

const patientJSON = `{
  "resourceType": "Patient", "id": "p1",
  "meta": {"versionId": "3", "lastUpdated": "2024-05-06T07:08:09.123Z", "source": "#ehr-7",
           "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}]},
  "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane Roe</div>"},
  "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "F"}],
  "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.1", "value": "999-99-9999"}],
  "name": [{"family": "Roe", "given": ["Jane"]}],
  "telecom": [{"system": "phone", "value": "555-0100"}],
  "gender": "female",
  "birthDate": "1970-02-10",
  "address": [{"line": ["1 Main St"], "city": "Springfield", "postalCode": "12345"}],
  "photo": [{"contentType": "image/png", "data": "AAAA"}],
  "contact": [{"name": {"family": "Roe"}}],
  "generalPractitioner": [{"reference": "Practitioner/7", "display": "Dr Who"}],
  "managingOrganization": {"reference": "https://fhir.example.test/fhir/Organization/o1/_history/2"},
  "multipleBirthInteger": 2
}`

const observationJSON = `{
  "resourceType": "Observation", "id": "o1", "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}], "text": "HR taken at home by Jane"},
  "subject": {"reference": "Patient/p1", "display": "Jane Roe"},
  "effectiveDateTime": "2024-05-06T07:08:09+02:00",
  "issued": "2024-05",
  "valueQuantity": {"value": 72.50, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"},
  "note": [{"text": "patient anxious about divorce"}],
  "contained": [{"resourceType": "Device", "id": "d1", "identifier": [{"value": "SN-1"}]}],
  "device": {"reference": "#d1"},
  "component": [{"code": {"text": "free"}, "valueString": "call me at 555-0100"}]
}`

func decodeTree(t *testing.T, s string) map[string]any {
	t.Helper()
	d := stdjson.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDeidentify(t *testing.T) {
	if _, err := NewDeidentifier([]byte("short")); err == nil {
		t.Fatalf("NewDeidentifier(short secret) succeeded")
	}
	d, err := NewDeidentifier(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	off := d.DateOffset("p1")
	if off == 0 || off < -365 || off > 365 {
		t.Fatalf("DateOffset = %d, want a nonzero day count within a year", off)
	}
	if d.DateOffset("p1") != off || d.DateOffset("p2") == off && d.DateOffset("p3") == off {
		t.Errorf("DateOffset is not a stable per-patient value")
	}
	d2, _ := NewDeidentifier(bytes.Repeat([]byte{8}, 32))
	if d2.Pseudonym("Patient", "p1") == d.Pseudonym("Patient", "p1") {
		t.Errorf("pseudonyms do not depend on the secret")
	}

	pat := decodeTree(t, patientJSON)
	orig, _ := stdjson.Marshal(pat)
	out, err := d.Resource(pat, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := stdjson.Marshal(pat); !bytes.Equal(after, orig) {
		t.Errorf("Resource modified its input")
	}
	got, _ := stdjson.Marshal(out)
	s := string(got)
	for _, leak := range []string{"Roe", "Jane", "999-99-9999", "555-0100", "Main St", "Springfield", "12345", "AAAA", "ehr-7", "Dr Who", "us-core-birthsex", `"p1"`, "1970-02-10", "Practitioner/7\"", "Organization/o1"} {
		if strings.Contains(s, leak) {
			t.Errorf("de-identified Patient still contains %q: %s", leak, s)
		}
	}
	shift := func(date string) string { return shiftDate(date, off) }
	wantPairs := map[string]string{
		`"gender":"female"`:                                         "gender kept",
		`"birthDate":"` + shift("1970-02-10") + `"`:                 "birthDate shifted",
		`"id":"` + d.Pseudonym("Patient", "p1") + `"`:               "id pseudonymised",
		`"Practitioner/` + d.Pseudonym("Practitioner", "7"):         "reference pseudonymised",
		`"Organization/` + d.Pseudonym("Organization", "o1"):        "absolute reference pseudonymised",
		`"lastUpdated":"` + shift("2024-05-06") + `T07:08:09.123Z"`: "instant shifted",
		`"multipleBirthInteger":2`:                                  "numbers kept",
		`"code":"N"`:                                                "security labels kept",
	}
	for want, why := range wantPairs {
		if !strings.Contains(s, want) {
			t.Errorf("%s: %s not in %s", why, want, s)
		}
	}

	o, err := d.Resource(decodeTree(t, observationJSON), "p1")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = stdjson.Marshal(o)
	s = string(got)
	for _, leak := range []string{"Jane", "divorce", "555-0100", "SN-1", "at home"} {
		if strings.Contains(s, leak) {
			t.Errorf("de-identified Observation still contains %q: %s", leak, s)
		}
	}
	for _, want := range []string{
		`"value":72.50`, `"display":"Heart rate"`, `"reference":"#d1"`, `"id":"d1"`,
		`"effectiveDateTime":"` + shift("2024-05-06") + `T07:08:09+02:00"`,
		`"subject":{"reference":"Patient/` + d.Pseudonym("Patient", "p1") + `"}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("de-identified Observation lacks %s: %s", want, s)
		}
	}
	if _, err := d.Resource(decodeTree(t, `{"resourceType":"Observation","modifierExtension":[{"url":"x","valueBoolean":true}]}`), "p1"); err == nil {
		t.Errorf("Resource(modifierExtension) succeeded, want refusal")
	}
	if _, err := d.Resource(map[string]any{"x": 1}, "p1"); err == nil {
		t.Errorf("Resource(not a resource) succeeded")
	}
}

func TestShiftDate(t *testing.T) {
	tests := []struct {
		in   string
		days int
		want string
	}{
		{"2024-03-01", -1, "2024-02-29"},
		{"2024-12-31", 1, "2025-01-01"},
		{"2024-05-06T23:59:59Z", 10, "2024-05-16T23:59:59Z"},
		{"2024-05-06T07:08:09.5-05:00", -6, "2024-04-30T07:08:09.5-05:00"},
		{"2024-05", 20, "2024-06"},
		{"2024-05", -10, "2024-05"},
		{"2024", 300, "2024"},
		{"2024-05-06T07:08", 1, "2024-05-06T07:08"},
		{"2024-13-01", 1, "2024-13-01"},
		{"hello", 1, "hello"},
		{"12:30:00", 1, "12:30:00"},
	}
	for _, tc := range tests {
		if got := shiftDate(tc.in, tc.days); got != tc.want {
			t.Errorf("shiftDate(%q, %d) = %q, want %q", tc.in, tc.days, got, tc.want)
		}
	}
}
