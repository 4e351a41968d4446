package normalize

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
)

// stepCase is one table entry: a profile (YAML; "" for the default), a
// resource sent, the canonical form wanted and the changes wanted.
type stepCase struct {
	name    string
	profile string
	in      string
	want    string // "" when nothing changes
	changes []Change
}

func profileFor(t *testing.T, y string) *Profile {
	t.Helper()
	if y == "" {
		return Default()
	}
	p, err := ParseProfile("test.yaml", []byte("client_id: test\n"+y))
	if err != nil {
		t.Fatalf("ParseProfile: %v", err)
	}
	return p
}

// canonicalJSON parses and re-serialises s; s must be a valid resource
// unless lax.
func canonicalJSON(t *testing.T, s string, lax bool) (*fhir.Node, []byte) {
	t.Helper()
	n, out := fhir.Parse([]byte(s), fhir.Limits{})
	if n == nil || !lax && out.HasErrors() {
		t.Fatalf("Parse(%s): %s", s, out)
	}
	return n, fhir.Marshal(n)
}

// runStep applies one named step to each case, checks its output and
// changes, that the output validates, and that the whole pipeline leaves
// the output unchanged.
func runStep(t *testing.T, step string, cases []stepCase) {
	t.Helper()
	var fn func(*run, *fhir.Node)
	for _, s := range steps {
		if s.name == step {
			fn = s.fn
		}
	}
	if fn == nil {
		t.Fatalf("no step %q", step)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := profileFor(t, tc.profile)
			_, inOut := fhir.Parse([]byte(tc.in), fhir.Limits{})
			n, in := canonicalJSON(t, tc.in, true)
			want := in
			if tc.want != "" {
				_, want = canonicalJSON(t, tc.want, false)
			}
			r := &run{p: p}
			fn(r, n)
			got := fhir.Marshal(n)
			if !bytes.Equal(got, want) {
				t.Errorf("Normalize(%s) =\n%s\nwant\n%s", tc.in, got, want)
			}
			if fmt.Sprint(r.changes) != fmt.Sprint(tc.changes) {
				t.Errorf("Normalize(%s) changes = %v, want %v", tc.in, r.changes, tc.changes)
			}
			n2, out := fhir.Parse(got, fhir.Limits{})
			if n2 == nil || out.HasErrors() && (tc.want != "" || !inOut.HasErrors()) {
				t.Fatalf("Normalize(%s) output does not validate: %s", tc.in, out)
			}
			if cs, _ := p.Normalize(n2); len(cs) > 0 {
				t.Errorf("Normalize(Normalize(%s)) = %v, want no changes", tc.in, cs)
			}
		})
	}
}

func TestCodeSystems(t *testing.T) {
	obs := func(system string) string {
		return `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"` + system + `","code":"718-7"}]}}`
	}
	ch := func(before, after string) []Change {
		return []Change{{Path: "Observation.code.coding[0].system", Before: before, After: after, Rule: RuleCodeSystem}}
	}
	cases := []stepCase{
		{"loinc-oid", "", obs("urn:oid:2.16.840.1.113883.6.1"), obs(LOINC), ch("urn:oid:2.16.840.1.113883.6.1", LOINC)},
		{"loinc-bare-oid", "", obs("2.16.840.1.113883.6.1"), obs(LOINC), ch("2.16.840.1.113883.6.1", LOINC)},
		{"loinc-LN", "", obs("LN"), obs(LOINC), ch("LN", LOINC)},
		{"loinc-name", "", obs("LOINC"), obs(LOINC), ch("LOINC", LOINC)},
		{"loinc-slash", "", obs("http://loinc.org/"), obs(LOINC), ch("http://loinc.org/", LOINC)},
		{"loinc-https-www", "", obs("https://www.loinc.org"), obs(LOINC), ch("https://www.loinc.org", LOINC)},
		{"snomed-sct", "", obs("SCT"), obs(SNOMED), ch("SCT", SNOMED)},
		{"snomed-space", "", obs("SNOMED CT"), obs(SNOMED), ch("SNOMED CT", SNOMED)},
		{"snomed-oid", "", obs("urn:oid:2.16.840.1.113883.6.96"), obs(SNOMED), ch("urn:oid:2.16.840.1.113883.6.96", SNOMED)},
		{"rxnorm", "", obs("RXNORM"), obs(RxNorm), ch("RXNORM", RxNorm)},
		{"rxnorm-oid", "", obs("urn:oid:2.16.840.1.113883.6.88"), obs(RxNorm), ch("urn:oid:2.16.840.1.113883.6.88", RxNorm)},
		{"icd10cm", "", obs("urn:oid:2.16.840.1.113883.6.90"), obs(ICD10CM), ch("urn:oid:2.16.840.1.113883.6.90", ICD10CM)},
		{"icd10cm-name", "", obs("ICD-10-CM"), obs(ICD10CM), ch("ICD-10-CM", ICD10CM)},
		{"icd10", "", obs("I10"), obs(ICD10), ch("I10", ICD10)},
		{"icd9cm", "", obs("urn:oid:2.16.840.1.113883.6.103"), obs(ICD9CM), ch("urn:oid:2.16.840.1.113883.6.103", ICD9CM)},
		{"cpt", "", obs("CPT4"), obs(CPT), ch("CPT4", CPT)},
		{"cvx-v2-table-oid", "", obs("urn:oid:2.16.840.1.113883.12.292"), obs(CVX), ch("urn:oid:2.16.840.1.113883.12.292", CVX)},
		{"ndc", "", obs("urn:oid:2.16.840.1.113883.6.69"), obs(NDC), ch("urn:oid:2.16.840.1.113883.6.69", NDC)},
		{"nucc", "", obs("urn:oid:2.16.840.1.113883.6.101"), obs(NUCC), ch("urn:oid:2.16.840.1.113883.6.101", NUCC)},
		{"v2-table-oid", "", obs("urn:oid:2.16.840.1.113883.12.203"), obs(V2Prefix + "0203"), ch("urn:oid:2.16.840.1.113883.12.203", V2Prefix+"0203")},
		{"v2-codesystem-oid", "", obs("urn:oid:2.16.840.1.113883.18.108"), obs(V2Prefix + "0203"), ch("urn:oid:2.16.840.1.113883.18.108", V2Prefix+"0203")},
		{"v2-stu3-uri", "", obs("http://hl7.org/fhir/v2/0203"), obs(V2Prefix + "0203"), ch("http://hl7.org/fhir/v2/0203", V2Prefix+"0203")},
		{"v3-oid", "", obs("urn:oid:2.16.840.1.113883.5.4"), obs("http://terminology.hl7.org/CodeSystem/v3-ActCode"), ch("urn:oid:2.16.840.1.113883.5.4", "http://terminology.hl7.org/CodeSystem/v3-ActCode")},
		{"v3-stu3-uri", "", obs("http://hl7.org/fhir/v3/ActCode"), obs("http://terminology.hl7.org/CodeSystem/v3-ActCode"), ch("http://hl7.org/fhir/v3/ActCode", "http://terminology.hl7.org/CodeSystem/v3-ActCode")},
		{"tho-stu3-uri", "", obs("http://hl7.org/fhir/observation-category"), obs("http://terminology.hl7.org/CodeSystem/observation-category"), ch("http://hl7.org/fhir/observation-category", "http://terminology.hl7.org/CodeSystem/observation-category")},
		{"fhir-oid", "", obs("urn:oid:2.16.840.1.113883.4.642.4.2"), obs("http://hl7.org/fhir/administrative-gender"), ch("urn:oid:2.16.840.1.113883.4.642.4.2", "http://hl7.org/fhir/administrative-gender")},
		{"canonical-untouched", "", obs(LOINC), "", nil},
		{"r4-canonical-untouched", "", obs("http://hl7.org/fhir/administrative-gender"), "", nil},
		{"unknown-untouched", "", obs("urn:oid:1.2.3.4"), "", nil},
		{"local-untouched", "", obs("http://acme.example/codes"), "", nil},
		{"profile-alias", "code_systems:\n  urn:oid:1.2.3.4: http://loinc.org\n", obs("urn:oid:1.2.3.4"), obs(LOINC), ch("urn:oid:1.2.3.4", LOINC)},
		{"profile-overrides-default", "code_systems:\n  LN: http://acme.example/labcodes\n", obs("LN"), obs("http://acme.example/labcodes"), ch("LN", "http://acme.example/labcodes")},
		{"no-defaults", "inherit_defaults: false\n", obs("LN"), "", nil},
	}
	runStep(t, "code-systems", cases)
}

func TestFoldSystemKeepsCanonicalsApart(t *testing.T) {
	tab := defaultSystems()
	for c := range tab.canonical {
		if got := tab.lookup(c); got != c {
			t.Errorf("lookup(%q) = %q, want it unchanged", c, got)
		}
	}
	for alias, c := range tab.exact {
		if !tab.canonical[c] {
			t.Errorf("alias %q maps to %q, which is not canonical", alias, c)
		}
	}
}

func TestMergeCodings(t *testing.T) {
	cc := func(codings string) string {
		return `{"resourceType":"Observation","status":"final","code":{"coding":[` + codings + `]}}`
	}
	a := `{"system":"http://loinc.org","code":"718-7"}`
	aDisp := `{"system":"http://loinc.org","code":"718-7","display":"Hemoglobin"}`
	aOther := `{"system":"http://loinc.org","code":"718-7","display":"Hgb"}`
	b := `{"system":"http://snomed.info/sct","code":"441689006"}`
	cases := []stepCase{
		{"exact-duplicate", "", cc(a + "," + b + "," + a), cc(a + "," + b),
			[]Change{{Path: "Observation.code.coding[2]", Before: "http://loinc.org|718-7", Rule: RuleMergeCodings}}},
		{"fills-display", "", cc(a + "," + aDisp), cc(aDisp),
			[]Change{{Path: "Observation.code.coding[1]", Before: "http://loinc.org|718-7", Rule: RuleMergeCodings}, {Path: "Observation.code.coding[0].display", After: "Hemoglobin", Rule: RuleMergeCodings}}},
		{"conflicting-display-kept", "", cc(aDisp + "," + aOther), "", nil},
		{"different-codes", "", cc(a + "," + b), "", nil},
		{"single", "", cc(a), "", nil},
	}
	runStep(t, "merge-codings", cases)
}

func TestUnits(t *testing.T) {
	q := func(body string) string {
		return `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{` + body + `}}`
	}
	const vp = "Observation.value.ofType(Quantity)"
	cases := []stepCase{
		{"mg/dl", "", q(`"value":5.0,"unit":"mg/dl","system":"http://unitsofmeasure.org","code":"mg/dl"`),
			q(`"value":5.0,"unit":"mg/dl","system":"http://unitsofmeasure.org","code":"mg/dL"`),
			[]Change{{vp + ".code", "mg/dl", "mg/dL", RuleUnit}}},
		{"mmHg-no-system", "", q(`"value":120,"unit":"mmHg","code":"mmHg"`),
			q(`"value":120,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"`),
			[]Change{{vp + ".system", "", UCUM, RuleUnit}, {vp + ".code", "mmHg", "mm[Hg]", RuleUnit}}},
		{"bpm", "", q(`"value":72,"unit":"bpm","system":"http://unitsofmeasure.org","code":"bpm"`),
			q(`"value":72,"unit":"bpm","system":"http://unitsofmeasure.org","code":"/min"`),
			[]Change{{vp + ".code", "bpm", "/min", RuleUnit}}},
		{"10^3/uL", "", q(`"value":7.2,"system":"http://unitsofmeasure.org","code":"10^3/uL"`),
			q(`"value":7.2,"system":"http://unitsofmeasure.org","code":"10*3/uL"`),
			[]Change{{vp + ".code", "10^3/uL", "10*3/uL", RuleUnit}}},
		{"K/uL-without-system", "", q(`"value":7.2,"code":"K/uL"`),
			q(`"value":7.2,"system":"http://unitsofmeasure.org","code":"10*3/uL"`),
			[]Change{{vp + ".system", "", UCUM, RuleUnit}, {vp + ".code", "K/uL", "10*3/uL", RuleUnit}}},
		{"degF", "", q(`"value":98.6,"unit":"F","system":"http://unitsofmeasure.org","code":"degF"`),
			q(`"value":98.6,"unit":"F","system":"http://unitsofmeasure.org","code":"[degF]"`),
			[]Change{{vp + ".code", "degF", "[degF]", RuleUnit}}},
		{"lbs", "", q(`"value":185,"unit":"lbs","system":"http://unitsofmeasure.org","code":"lbs"`),
			q(`"value":185,"unit":"lbs","system":"http://unitsofmeasure.org","code":"[lb_av]"`),
			[]Change{{vp + ".code", "lbs", "[lb_av]", RuleUnit}}},
		{"in", "", q(`"value":70,"system":"http://unitsofmeasure.org","code":"in"`),
			q(`"value":70,"system":"http://unitsofmeasure.org","code":"[in_i]"`),
			[]Change{{vp + ".code", "in", "[in_i]", RuleUnit}}},
		{"kg/m^2", "", q(`"value":24.5,"system":"http://unitsofmeasure.org","code":"kg/m^2"`),
			q(`"value":24.5,"system":"http://unitsofmeasure.org","code":"kg/m2"`),
			[]Change{{vp + ".code", "kg/m^2", "kg/m2", RuleUnit}}},
		{"ucum-oid-system", "", q(`"value":1,"system":"urn:oid:2.16.840.1.113883.6.8","code":"%"`),
			q(`"value":1,"system":"http://unitsofmeasure.org","code":"%"`),
			[]Change{{vp + ".system", "urn:oid:2.16.840.1.113883.6.8", UCUM, RuleCodeSystem}}},
		{"ft-sent-as-ucum-stays", "", q(`"value":6,"system":"http://unitsofmeasure.org","code":"ft"`), "", nil},
		{"percent-canonical", "", q(`"value":5,"unit":"%","system":"http://unitsofmeasure.org","code":"%"`), "", nil},
		{"other-system-untouched", "", q(`"value":2,"system":"http://snomed.info/sct","code":"mg/dl"`), "", nil},
		{"unit-only-default-untouched", "", q(`"value":5,"unit":"mg/dl"`), "", nil},
		{"unit-only-inferred", "units:\n  infer_from_display: true\n", q(`"value":5,"unit":"mg/dl"`),
			q(`"value":5,"unit":"mg/dl","system":"http://unitsofmeasure.org","code":"mg/dL"`),
			[]Change{{vp + ".system", "", UCUM, RuleUnit}, {vp + ".code", "", "mg/dL", RuleUnit}}},
		{"unit-only-unknown", "units:\n  infer_from_display: true\n", q(`"value":5,"unit":"tablets"`), "", nil},
		{"profile-alias", "units:\n  aliases:\n    mcg/dl: ug/dL\n    TABS: '{tbl}'\n", q(`"value":5,"code":"TABS"`),
			q(`"value":5,"system":"http://unitsofmeasure.org","code":"{tbl}"`),
			[]Change{{vp + ".system", "", UCUM, RuleUnit}, {vp + ".code", "TABS", "{tbl}", RuleUnit}}},
		{"convert-lb", "units:\n  convert:\n    - {from: \"[lb_av]\", to: kg, factor: \"0.45359237\"}\n",
			q(`"value":185.0,"unit":"lbs","system":"http://unitsofmeasure.org","code":"lbs"`),
			q(`"value":83.914588450,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"`),
			[]Change{{vp + ".code", "lbs", "[lb_av]", RuleUnit}, {vp + ".value", "185.0", "83.914588450", RuleUnitConvert},
				{vp + ".code", "[lb_av]", "kg", RuleUnitConvert}, {vp + ".unit", "lbs", "kg", RuleUnitConvert}}},
		{"convert-not-here", "units:\n  convert:\n    - {from: \"[in_i]\", to: cm, factor: \"2.54\", elements: [\"Observation.component.value[x]\"]}\n",
			q(`"value":70,"system":"http://unitsofmeasure.org","code":"[in_i]"`), "", nil},
		{"convert-exponent", "units:\n  convert:\n    - {from: \"[in_i]\", to: cm, factor: \"2.54\", display: centimetre}\n",
			q(`"value":1.5e1,"system":"http://unitsofmeasure.org","code":"[in_i]"`),
			q(`"value":38.10,"unit":"centimetre","system":"http://unitsofmeasure.org","code":"cm"`),
			[]Change{{vp + ".value", "1.5e1", "38.10", RuleUnitConvert}, {vp + ".code", "[in_i]", "cm", RuleUnitConvert}, {vp + ".unit", "", "centimetre", RuleUnitConvert}}},
	}
	runStep(t, "units", cases)
}

func TestIdentifiers(t *testing.T) {
	const prof = "identifiers:\n  - system: urn:oid:1.2.36.146.595.217.0.1\n    aliases: [urn:acme:mrn]\n    type: MR\n  - system: http://hl7.org/fhir/sid/us-ssn\n"
	pat := func(id string) string { return `{"resourceType":"Patient","identifier":[` + id + `]}` }
	mrType := `"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR","display":"Medical record number"}]}`
	cases := []stepCase{
		{"alias-and-type", prof, pat(`{"system":"urn:acme:mrn","value":"12345"}`),
			pat(`{` + mrType + `,"system":"urn:oid:1.2.36.146.595.217.0.1","value":"12345"}`),
			[]Change{{"Patient.identifier[0].system", "urn:acme:mrn", "urn:oid:1.2.36.146.595.217.0.1", RuleIdentifierSystem},
				{"Patient.identifier[0].type", "", identifierTypeSystem + "|MR", RuleIdentifierType}}},
		{"type-only", prof, pat(`{"system":"urn:oid:1.2.36.146.595.217.0.1","value":"1"}`),
			pat(`{` + mrType + `,"system":"urn:oid:1.2.36.146.595.217.0.1","value":"1"}`),
			[]Change{{"Patient.identifier[0].type", "", identifierTypeSystem + "|MR", RuleIdentifierType}}},
		{"existing-type-kept", prof, pat(`{"type":{"text":"chart"},"system":"urn:acme:mrn","value":"1"}`),
			pat(`{"type":{"text":"chart"},"system":"urn:oid:1.2.36.146.595.217.0.1","value":"1"}`),
			[]Change{{"Patient.identifier[0].system", "urn:acme:mrn", "urn:oid:1.2.36.146.595.217.0.1", RuleIdentifierSystem}}},
		{"no-type-rule", prof, pat(`{"system":"http://hl7.org/fhir/sid/us-ssn","value":"1"}`), "", nil},
		{"other-system", prof, pat(`{"system":"urn:other","value":"1"}`), "", nil},
		{"default-profile", "", pat(`{"system":"urn:acme:mrn","value":"1"}`), "", nil},
	}
	runStep(t, "identifiers", cases)
}

func TestReferences(t *testing.T) {
	const prof = "base_url: https://ehr.acme.example/fhir/\n"
	obs := func(ref string) string {
		return `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"` + ref + `"}}`
	}
	ch := func(before, after string) []Change {
		return []Change{{"Observation.subject.reference", before, after, RuleReference}}
	}
	cases := []stepCase{
		{"absolute", prof, obs("https://ehr.acme.example/fhir/Patient/123"), obs("Patient/123"), ch("https://ehr.acme.example/fhir/Patient/123", "Patient/123")},
		{"history", prof, obs("https://ehr.acme.example/fhir/Patient/123/_history/2"), obs("Patient/123/_history/2"), ch("https://ehr.acme.example/fhir/Patient/123/_history/2", "Patient/123/_history/2")},
		{"other-server", prof, obs("https://other.example/fhir/Patient/123"), "", nil},
		{"other-path", prof, obs("https://ehr.acme.example/fhirx/Patient/123"), "", nil},
		{"not-a-resource-url", prof, obs("https://ehr.acme.example/fhir/Patient/123/$everything"), "", nil},
		{"unknown-type", prof, obs("https://ehr.acme.example/fhir/Whatever/123"), "", nil},
		{"contained", prof, `{"resourceType":"Observation","contained":[{"resourceType":"Patient","id":"p1"}],"status":"final","code":{"text":"x"},"subject":{"reference":"#p1"}}`, "", nil},
		{"uuid", prof, obs("urn:uuid:5b3c8f5e-4b1e-4a8e-9d2f-1c2b3a4d5e6f"), "", nil},
		{"relative", prof, obs("Patient/123"), "", nil},
		{"no-base", "", obs("https://ehr.acme.example/fhir/Patient/123"), "", nil},
	}
	runStep(t, "references", cases)
}

func TestDates(t *testing.T) {
	const chicago = "time_zone: America/Chicago\n"
	const source = "name: a source profile with no rules of its own\n"
	obs := func(eff, issued string) string {
		s := `{"resourceType":"Observation","status":"final","code":{"text":"x"}`
		if eff != "" {
			s += `,"effectiveDateTime":"` + eff + `"`
		}
		if issued != "" {
			s += `,"issued":"` + issued + `"`
		}
		return s + "}"
	}
	const eff = "Observation.effective.ofType(dateTime)"
	cases := []stepCase{
		{"winter", chicago, obs("2024-01-15T08:30:00", ""), obs("2024-01-15T08:30:00-06:00", ""),
			[]Change{{eff, "2024-01-15T08:30:00", "2024-01-15T08:30:00-06:00", RuleDateTimeZone}}},
		{"summer-fraction", chicago, obs("2024-07-15T08:30:00.120", ""), obs("2024-07-15T08:30:00.120-05:00", ""),
			[]Change{{eff, "2024-07-15T08:30:00.120", "2024-07-15T08:30:00.120-05:00", RuleDateTimeZone}}},
		{"dst-gap-left-alone", chicago, obs("2024-03-10T02:30:00", ""), "", nil},
		{"offset-kept", chicago, obs("2024-01-15T08:30:00+01:00", ""), "", nil},
		{"date-only", chicago, obs("2024-01-15", ""), "", nil},
		{"no-zone", "", obs("2024-01-15T08:30:00", ""), "", nil},
		{"instant-utc", source, obs("", "2015-02-07T13:28:17.239+02:00"), obs("", "2015-02-07T11:28:17.239Z"),
			[]Change{{"Observation.issued", "2015-02-07T13:28:17.239+02:00", "2015-02-07T11:28:17.239Z", RuleInstantUTC}}},
		{"instant-precision-kept", source, obs("", "2015-02-07T00:28:17.2390-05:30"), obs("", "2015-02-07T05:58:17.2390Z"),
			[]Change{{"Observation.issued", "2015-02-07T00:28:17.2390-05:30", "2015-02-07T05:58:17.2390Z", RuleInstantUTC}}},
		{"instant-day-before", source, obs("", "2015-01-01T01:00:00+10:00"), obs("", "2014-12-31T15:00:00Z"),
			[]Change{{"Observation.issued", "2015-01-01T01:00:00+10:00", "2014-12-31T15:00:00Z", RuleInstantUTC}}},
		{"instant-zero-offset", source, obs("", "2015-01-01T01:00:00+00:00"), obs("", "2015-01-01T01:00:00Z"),
			[]Change{{"Observation.issued", "2015-01-01T01:00:00+00:00", "2015-01-01T01:00:00Z", RuleInstantUTC}}},
		{"instant-already-utc", source, obs("", "2015-01-01T01:00:00Z"), "", nil},
		// The default profile, for clients without one, keeps the offset.
		{"instant-default-kept", "", obs("", "2015-02-07T13:28:17.239+02:00"), "", nil},
		{"instant-utc-off", "utc_instants: false\n", obs("", "2015-02-07T13:28:17.239+02:00"), "", nil},
	}
	runStep(t, "dates", cases)
}

func TestExtensions(t *testing.T) {
	const deny = "extensions:\n  deny: [http://vendor.example/]\n"
	const allow = "extensions:\n  allow: [http://hl7.org/fhir/StructureDefinition/]\n"
	pat := func(ext, birth string) string {
		s := `{"resourceType":"Patient"`
		if ext != "" {
			s += `,"extension":[` + ext + `]`
		}
		s += `,"active":true`
		if birth != "" {
			s += `,` + birth
		}
		return s + "}"
	}
	core := `{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"city":"Paris"}}`
	vendor := `{"url":"http://vendor.example/flag","valueString":"x"}`
	cases := []stepCase{
		{"deny", deny, pat(core+","+vendor+","+core, ""), pat(core+","+core, ""),
			[]Change{{"Patient.extension[1]", "http://vendor.example/flag", "", RuleExtension}}},
		{"deny-all", deny, pat(vendor, ""), pat("", ""),
			[]Change{{"Patient.extension[0]", "http://vendor.example/flag", "", RuleExtension}}},
		{"allow", allow, pat(vendor+","+core, ""), pat(core, ""),
			[]Change{{"Patient.extension[0]", "http://vendor.example/flag", "", RuleExtension}}},
		{"primitive-keeps-value", deny, pat("", `"birthDate":"1970-01-01","_birthDate":{"extension":[`+vendor+`]}`), pat("", `"birthDate":"1970-01-01"`),
			[]Change{{"Patient.birthDate.extension[0]", "http://vendor.example/flag", "", RuleExtension}}},
		{"primitive-without-value-removed", deny, pat("", `"_birthDate":{"extension":[`+vendor+`]}`), pat("", ""),
			[]Change{{"Patient.birthDate.extension[0]", "http://vendor.example/flag", "", RuleExtension}}},
		{"required-element-kept", deny, `{"resourceType":"Patient","link":[{"other":{"extension":[` + vendor + `]},"type":"seealso"}]}`, "", nil},
		{"modifier-kept", deny, `{"resourceType":"Patient","modifierExtension":[` + vendor + `],"active":true}`, "", nil},
		{"none", "", pat(vendor, ""), "", nil},
	}
	runStep(t, "extensions", cases)
}

func TestValues(t *testing.T) {
	const prof = "values:\n  Patient.gender: {M: male, F: female}\n"
	pat := func(g string) string { return `{"resourceType":"Patient","gender":"` + g + `"}` }
	obs := func(s string) string {
		return `{"resourceType":"Observation","status":"` + s + `","code":{"text":"x"}}`
	}
	cases := []stepCase{
		{"map", prof, pat("M"), pat("male"), []Change{{"Patient.gender", "M", "male", RuleValueMap}}},
		{"map-untouched", prof, pat("female"), "", nil},
		{"fold-upper", "", obs("FINAL"), obs("final"), []Change{{"Observation.status", "FINAL", "final", RuleValueCase}}},
		{"fold-title", "", obs("Final"), obs("final"), []Change{{"Observation.status", "Final", "final", RuleValueCase}}},
		{"fold-hyphen", "", obs("Entered-In-Error"), obs("entered-in-error"), []Change{{"Observation.status", "Entered-In-Error", "entered-in-error", RuleValueCase}}},
		{"fold-gender", "", pat("Male"), pat("male"), []Change{{"Patient.gender", "Male", "male", RuleValueCase}}},
		{"fold-off", "fold_case: false\n", obs("FINAL"), "", nil},
		{"unknown-code-left", "", obs("done"), "", nil},
	}
	runStep(t, "values", cases)
}

// TestPipelineOrder checks a resource that needs several steps at once.
func TestPipelineOrder(t *testing.T) {
	ps := testProfiles(t)
	in := `{"resourceType":"Observation","extension":[{"url":"http://northwind.example/fhir/StructureDefinition/x","valueCoding":{"system":"LN","code":"1"}}],` +
		`"status":"FINAL","code":{"coding":[{"system":"LN","code":"8867-4"},{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},` +
		`"subject":{"reference":"http://fhir.northwind.example/r4/Patient/p1"},"valueQuantity":{"value":72,"unit":"bpm"}}`
	want := `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},` +
		`"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":72,"unit":"bpm","system":"http://unitsofmeasure.org","code":"/min"}}`
	n, changes, out := ps["northwind-clinic"].Parse([]byte(in), fhir.Limits{})
	if n == nil || out.HasErrors() {
		t.Fatalf("Parse: %s", out)
	}
	_, w := canonicalJSON(t, want, false)
	if got := fhir.Marshal(n); !bytes.Equal(got, w) {
		t.Errorf("Normalize(%s) =\n%s\nwant\n%s", in, got, w)
	}
	wantChanges := []Change{
		{"Observation.extension[0]", "http://northwind.example/fhir/StructureDefinition/x", "", RuleExtension},
		{"Observation.status", "FINAL", "final", RuleValueCase},
		{"Observation.code.coding[0].system", "LN", LOINC, RuleCodeSystem},
		{"Observation.code.coding[1]", LOINC + "|8867-4", "", RuleMergeCodings},
		{"Observation.code.coding[0].display", "", "Heart rate", RuleMergeCodings},
		{"Observation.value.ofType(Quantity).system", "", UCUM, RuleUnit},
		{"Observation.value.ofType(Quantity).code", "", "/min", RuleUnit},
		{"Observation.subject.reference", "http://fhir.northwind.example/r4/Patient/p1", "Patient/p1", RuleReference},
	}
	if fmt.Sprint(changes) != fmt.Sprint(wantChanges) {
		t.Errorf("Normalize(%s) changes =\n%v\nwant\n%v", in, changes, wantChanges)
	}
}

// TestParseKeepsOtherErrors checks that Profile.Parse still reports what
// normalisation does not repair.
func TestParseKeepsOtherErrors(t *testing.T) {
	in := `{"resourceType":"Patient","gender":"M","bogus":1}`
	p := profileFor(t, "values:\n  Patient.gender: {M: male}\n")
	n, changes, out := p.Parse([]byte(in), fhir.Limits{})
	if n == nil || len(changes) != 1 {
		t.Fatalf("Parse(%s) = %v, %v", in, n, changes)
	}
	errs := out.Errors()
	if len(errs) != 1 || errs[0].Expression != "Patient.bogus" {
		t.Errorf("Parse(%s) errors = %v, want only the unknown element", in, errs)
	}
}
