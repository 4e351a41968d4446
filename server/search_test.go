package server_test

import (
	"net/url"
	"sort"
	"strings"
	"testing"
)

// TestSearchParameters runs searches of every parameter type, prefix and
// modifier over a small set of resources and compares the ids found.
func TestSearchParameters(t *testing.T) {
	ts := newServer(t)
	resources := []string{
		`{"resourceType":"Patient","id":"pa","name":[{"family":"Chalmers","given":["Peter","James"]}],"gender":"male","birthDate":"1974-12-25","identifier":[{"system":"urn:oid:1.2.36.146.595.217.0.1","value":"12345"}],"address":[{"city":"PleasantVille"}]}`,
		`{"resourceType":"Patient","id":"pb","name":[{"family":"Müller","given":["Zoë"]}],"gender":"female","birthDate":"1980","identifier":[{"system":"http://hospital.example/mrn","value":"A-1"}],"active":true}`,
		`{"resourceType":"Patient","id":"pc","name":[{"family":"Chalmersson"}],"gender":"female","birthDate":"1974-06"}`,
		`{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},"subject":{"reference":"Patient/pa"},"effectiveDateTime":"2021-03-04T10:00:00Z","valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`,
		`{"resourceType":"Observation","id":"o2","status":"amended","code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]},"subject":{"reference":"Patient/pb"},"effectivePeriod":{"start":"2021-03-01","end":"2021-03-10"},"valueQuantity":{"value":37.5,"unit":"C","system":"http://unitsofmeasure.org","code":"Cel"}}`,
		`{"resourceType":"Observation","id":"o3","status":"final","code":{"coding":[{"code":"local-1"}]},"subject":{"reference":"Patient/pa"},"effectiveDateTime":"2022","valueQuantity":{"value":100,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}`,
		`{"resourceType":"ValueSet","id":"vs","url":"http://example.org/fhir/ValueSet/a/b","status":"active"}`,
	}
	for _, r := range resources {
		id := strings.SplitN(strings.SplitN(r, `"id":"`, 2)[1], `"`, 2)[0]
		typ := strings.SplitN(strings.SplitN(r, `"resourceType":"`, 2)[1], `"`, 2)[0]
		want(t, do(t, ts, "PUT", "/fhir/"+typ+"/"+id, r), 201, "put "+id)
	}
	cases := []struct {
		query string
		ids   string
	}{
		// string: prefix, accent- and case-insensitive; :exact; :contains
		{"Patient?family=chalmers", "pa,pc"},
		{"Patient?family=muller", "pb"},
		{"Patient?name=zoe", "pb"},
		{"Patient?family:exact=Chalmers", "pa"},
		{"Patient?family:contains=alm", "pa,pc"},
		{"Patient?address-city=pleasant", "pa"},
		// token
		{"Patient?gender=female", "pb,pc"},
		{"Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|12345", "pa"},
		{"Patient?identifier=12345", "pa"},
		{"Patient?identifier=http://hospital.example/mrn|", "pb"},
		{"Patient?gender:not=female", "pa"},
		{"Observation?code=http://loinc.org|8867-4,http://loinc.org|8310-5", "o1,o2"},
		{"Observation?code=|local-1", "o3"},
		{"Observation?code:text=heart", "o1"},
		{"Patient?active=true", "pb"},
		{"Patient?active:missing=true", "pa,pc"},
		// date with precision and prefixes
		{"Patient?birthdate=1974", "pa,pc"},
		{"Patient?birthdate=1974-12-25", "pa"},
		{"Patient?birthdate=lt1975-01-01", "pa,pc"},
		{"Patient?birthdate=ge1980", "pb"},
		{"Patient?birthdate=gt1974-12-31", "pb"},
		{"Observation?date=2021-03-04", "o1"},
		{"Observation?date=ge2021-03-05&date=le2021-03-31", "o2"},
		{"Observation?date=sa2021-12-31", "o3"},
		{"Observation?date=eb2021-03-02", ""},
		// reference
		{"Observation?subject=Patient/pa", "o1,o3"},
		{"Observation?subject=pb", "o2"},
		{"Observation?subject:Patient=pa", "o1,o3"},
		{"Observation?patient=Patient/pb", "o2"},
		// quantity and prefixes
		{"Observation?value-quantity=72", "o1"},
		{"Observation?value-quantity=gt50", "o1,o3"},
		{"Observation?value-quantity=37.5|http://unitsofmeasure.org|Cel", "o2"},
		{"Observation?value-quantity=le100|http://unitsofmeasure.org|mg", "o3"},
		{"Observation?value-quantity=ap98", "o3"},
		// uri
		{"ValueSet?url=http://example.org/fhir/ValueSet/a/b", "vs"},
		{"ValueSet?url:below=http://example.org/fhir", "vs"},
		{"ValueSet?url:above=http://example.org/fhir/ValueSet/a/b/c", "vs"},
		// _id, _lastUpdated, combined AND
		{"Patient?_id=pa,pb&gender=female", "pb"},
		{"Observation?status=final&subject=Patient/pa&code=http://loinc.org|8867-4", "o1"},
		{"Patient?_lastUpdated=gt2000-01-01", "pa,pb,pc"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := do(t, ts, "GET", "/fhir/"+c.query+"&_count=50", "", "Prefer", "handling=strict")
			want(t, r, 200, c.query)
			var got []string
			entries, _ := r.body["entry"].([]any)
			for _, e := range entries {
				res := e.(map[string]any)["resource"].(map[string]any)
				got = append(got, res["id"].(string))
			}
			sort.Strings(got)
			if strings.Join(got, ",") != c.ids {
				t.Errorf("GET %s = [%s], want [%s]", c.query, strings.Join(got, ","), c.ids)
			}
		})
	}
	// A malformed value is a client error, always.
	want(t, do(t, ts, "GET", "/fhir/Patient?birthdate="+url.QueryEscape("not-a-date"), ""), 400, "bad date")
	// Unknown parameters are listed in lenient mode and refused in strict.
	r := do(t, ts, "GET", "/fhir/Patient?foo=bar", "")
	want(t, r, 200, "lenient")
	if !strings.Contains(r.raw, "not applied: foo") {
		t.Errorf("lenient search does not list the ignored parameter: %s", r.raw)
	}
	want(t, do(t, ts, "GET", "/fhir/Patient?foo=bar", "", "Prefer", "handling=strict"), 400, "strict")
}
