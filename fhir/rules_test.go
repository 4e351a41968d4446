package fhir_test

import (
	"strings"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
)

// TestRules checks the prose rules of rules.go: each bad input gives an
// error at the named path, and its good twin gives none.
func TestRules(t *testing.T) {
	bundle := func(typ, links, entries string) string {
		return `{"resourceType":"Bundle","type":"` + typ + `"` + links + `,"entry":[` + entries + `]}`
	}
	cases := []struct {
		name, bad, good, path string
	}{
		{"attachment size",
			`{"resourceType":"Media","status":"completed","content":{"data":"aGVsbG8=","size":6}}`,
			`{"resourceType":"Media","status":"completed","content":{"data":"aGVsbG8=","size":5}}`,
			"Media.content.size"},
		{"coding system",
			`{"resourceType":"Basic","code":{"coding":[{"system":"Location!","code":"x"}]}}`,
			`{"resourceType":"Basic","code":{"coding":[{"system":"urn:oid:1.2.3","code":"x"}]}}`,
			"Basic.code.coding[0].system"},
		{"fullUrl relative",
			bundle("collection", "", `{"fullUrl":"Patient/1","resource":{"resourceType":"Patient","id":"1"}}`),
			bundle("collection", "", `{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1"}}`),
			"Bundle.entry[0].fullUrl"},
		{"link twice",
			bundle("searchset", `,"link":[{"relation":"self","url":"http://a/Patient"},{"relation":"self","url":"http://a/Patient"}]`, `{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1"},"search":{"mode":"match"}}`),
			bundle("searchset", `,"link":[{"relation":"self","url":"http://a/Patient"},{"relation":"next","url":"http://a/Patient?p=2"}]`, `{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1"},"search":{"mode":"match"}}`),
			"Bundle.link[1].relation"},
		{"search match without id",
			bundle("searchset", `,"link":[{"relation":"self","url":"http://a/Patient"}]`, `{"fullUrl":"urn:uuid:0b3c2a4e-4c1e-4e4b-9d1a-2f0d4f1c6a11","resource":{"resourceType":"Patient"},"search":{"mode":"match"}}`),
			bundle("searchset", `,"link":[{"relation":"self","url":"http://a/Patient"}]`, `{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1"},"search":{"mode":"match"}}`),
			"Bundle.entry[0].resource"},
		{"search match of another type",
			bundle("searchset", `,"link":[{"relation":"self","url":"http://a/Patient?name=x"}]`, `{"fullUrl":"http://a/Group/1","resource":{"resourceType":"Group","id":"1","type":"person","actual":true},"search":{"mode":"match"}}`),
			bundle("searchset", `,"link":[{"relation":"self","url":"http://a/Patient?name=x"}]`, `{"fullUrl":"http://a/Group/1","resource":{"resourceType":"Group","id":"1","type":"person","actual":true},"search":{"mode":"include"}}`),
			"Bundle.entry[0].resource"},
		{"search outcome not an OperationOutcome",
			bundle("searchset", "", `{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1"},"search":{"mode":"outcome"}}`),
			bundle("searchset", "", `{"fullUrl":"urn:uuid:0b3c2a4e-4c1e-4e4b-9d1a-2f0d4f1c6a11","resource":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]},"search":{"mode":"outcome"}}`),
			"Bundle.entry[0].resource"},
		{"reference to two entries",
			bundle("collection", "", `{"fullUrl":"http://a/Basic/b","resource":{"resourceType":"Basic","id":"b","code":{"text":"x"},"subject":{"reference":"Patient/1"}}},{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1","meta":{"versionId":"1"}}},{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1","meta":{"versionId":"2"}}}`),
			bundle("collection", "", `{"fullUrl":"http://a/Basic/b","resource":{"resourceType":"Basic","id":"b","code":{"text":"x"},"subject":{"reference":"Patient/1/_history/2"}}},{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1","meta":{"versionId":"1"}}},{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1","meta":{"versionId":"2"}}}`),
			"Bundle.entry[0].resource.subject"},
		{"versioned reference not in the bundle",
			bundle("collection", "", `{"fullUrl":"http://a/Basic/b","resource":{"resourceType":"Basic","id":"b","code":{"text":"x"},"subject":{"reference":"Patient/1/_history/3"}}},{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1","meta":{"versionId":"1"}}}`),
			bundle("collection", "", `{"fullUrl":"http://a/Basic/b","resource":{"resourceType":"Basic","id":"b","code":{"text":"x"},"subject":{"reference":"Patient/1/_history/1"}}},{"fullUrl":"http://a/Patient/1","resource":{"resourceType":"Patient","id":"1","meta":{"versionId":"1"}}}`),
			"Bundle.entry[0].resource.subject"},
		{"derived search parameter type",
			`{"resourceType":"SearchParameter","url":"http://a/sp","name":"n","status":"active","description":"d","code":"name","base":["Organization"],"type":"token","derivedFrom":"http://hl7.org/fhir/SearchParameter/Organization-name"}`,
			`{"resourceType":"SearchParameter","url":"http://a/sp","name":"n","status":"active","description":"d","code":"name","base":["Organization"],"type":"string","derivedFrom":"http://hl7.org/fhir/SearchParameter/Organization-name"}`,
			"SearchParameter.type"},
		{"derived search parameter base",
			`{"resourceType":"SearchParameter","url":"http://a/sp","name":"n","status":"active","description":"d","code":"name","base":["Patient"],"type":"string","derivedFrom":"http://hl7.org/fhir/SearchParameter/Organization-name"}`,
			`{"resourceType":"SearchParameter","url":"http://a/sp","name":"n","status":"active","description":"d","code":"name","base":["Organization"],"type":"string","derivedFrom":"http://hl7.org/fhir/SearchParameter/Organization-name"}`,
			"SearchParameter.base[0]"},
		{"composite with one component",
			`{"resourceType":"SearchParameter","url":"http://a/sp","name":"n","status":"active","description":"d","code":"c","base":["Observation"],"type":"composite","component":[{"definition":"http://a/x","expression":"code"}]}`,
			`{"resourceType":"SearchParameter","url":"http://a/sp","name":"n","status":"active","description":"d","code":"c","base":["Observation"],"type":"composite","component":[{"definition":"http://a/x","expression":"code"},{"definition":"http://a/y","expression":"value"}]}`,
			"SearchParameter.component"},
		{"capability statement search type",
			`{"resourceType":"CapabilityStatement","status":"active","date":"2020","kind":"instance","fhirVersion":"4.0.1","format":["json"],"rest":[{"mode":"server","resource":[{"type":"AllergyIntolerance","searchParam":[{"name":"clinical-status","definition":"http://hl7.org/fhir/SearchParameter/AllergyIntolerance-clinical-status","type":"date"}]}]}]}`,
			`{"resourceType":"CapabilityStatement","status":"active","date":"2020","kind":"instance","fhirVersion":"4.0.1","format":["json"],"rest":[{"mode":"server","resource":[{"type":"AllergyIntolerance","searchParam":[{"name":"clinical-status","definition":"http://hl7.org/fhir/SearchParameter/AllergyIntolerance-clinical-status","type":"token"}]}]}]}`,
			"CapabilityStatement.rest[0].resource[0].searchParam[0].type"},
		{"profile path",
			`{"resourceType":"StructureDefinition","url":"http://a/sd","name":"n","status":"draft","kind":"resource","abstract":false,"type":"Observation","derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Observation","differential":{"element":[{"path":"Observation.valueBla"}]}}`,
			`{"resourceType":"StructureDefinition","url":"http://a/sd","name":"n","status":"draft","kind":"resource","abstract":false,"type":"Observation","derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Observation","differential":{"element":[{"path":"Observation.valueQuantity.unit"},{"path":"Observation.component.value[x]"}]}}`,
			"StructureDefinition.differential.element[0].path"},
		{"core extension value type",
			`{"resourceType":"Patient","name":[{"family":"X","_family":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/humanname-mothers-family","valueCode":"Y"}]}}]}`,
			`{"resourceType":"Patient","name":[{"family":"X","_family":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/humanname-mothers-family","valueString":"Y"}]}}]}`,
			"Patient.name[0].family.extension[0].value.ofType(code)"},
		{"fhir_comments",
			`{"resourceType":"Patient","fhir_comments":["x"]}`,
			`{"resourceType":"Patient"}`,
			"Patient.fhir_comments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, out := fhir.Parse([]byte(c.bad), fhir.Limits{})
			found := false
			for _, is := range out.Errors() {
				found = found || is.Expression == c.path
			}
			if !found {
				t.Errorf("Parse(bad) errors = %v, want one at %s", out.Errors(), c.path)
			}
			_, out = fhir.Parse([]byte(c.good), fhir.Limits{})
			if out.HasErrors() {
				t.Errorf("Parse(good) = %v, want no errors", out.Errors())
			}
		})
	}
}

// TestIssueFlood checks that warnings beyond MaxIssues do not make a
// resource invalid, and that an error beyond it still does.
func TestIssueFlood(t *testing.T) {
	md := `"<b>x</b>"`
	warn := `{"resourceType":"CodeSystem","status":"draft","content":"complete","concept":[` + strings.Repeat(`{"code":"a","definition":`+md+`},`, 20) + `{"code":"a","definition":` + md + `}]}`
	_, out := fhir.Parse([]byte(warn), fhir.Limits{MaxIssues: 5})
	if out.HasErrors() {
		t.Errorf("Parse(many warnings) = %v, want no errors", out.Errors())
	}
	bad := strings.TrimSuffix(warn, "}") + `,"count":-1}` // the error comes after the warnings
	_, out = fhir.Parse([]byte(bad), fhir.Limits{MaxIssues: 5})
	if !out.HasErrors() {
		t.Errorf("Parse(warnings then errors) has no errors, want some")
	}
}
