package storetest

import (
	"context"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/store"
)

// searchFixture is a small graph of resources that the search cases
// below query: patients with and without names and birth dates, their
// observations, a practitioner role in an organisation, an encounter and a
// provenance record.
var searchFixture = []string{
	`{"resourceType":"Organization","id":"org1","name":"Acme Health"}`,
	`{"resourceType":"Organization","id":"org2","name":"Beta Clinic"}`,
	`{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Who"}]}`,
	`{"resourceType":"PractitionerRole","id":"role1","practitioner":{"reference":"Practitioner/dr1"},"organization":{"reference":"Organization/org1"}}`,
	`{"resourceType":"Patient","id":"p1","name":[{"family":"Alpha"}],"birthDate":"1990-01-01","generalPractitioner":[{"reference":"PractitionerRole/role1"}],"managingOrganization":{"reference":"Organization/org1"}}`,
	`{"resourceType":"Patient","id":"p2","name":[{"family":"Beta"}],"birthDate":"1980-05-05","generalPractitioner":[{"reference":"Practitioner/dr1"}],"managingOrganization":{"reference":"Organization/org2"},"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}}`,
	`{"resourceType":"Patient","id":"p3","birthDate":"2000"}`,
	`{"resourceType":"Patient","id":"p4","name":[{"family":"Alpha"}]}`,
	`{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1234"}]},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":5}}`,
	`{"resourceType":"Observation","id":"o2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"5678"}]},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":10}}`,
	`{"resourceType":"Observation","id":"o3","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1234"}]},"subject":{"reference":"Patient/p2"},"encounter":{"reference":"Encounter/e1"},"valueQuantity":{"value":7}}`,
	`{"resourceType":"Observation","id":"o4","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"9999"}]},"subject":{"reference":"Patient/p3"}}`,
	`{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p2"}}`,
	`{"resourceType":"Provenance","id":"prov1","target":[{"reference":"Observation/o3"}],"recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/dr1"}}]}`,
}

func loadFixture(t *testing.T, s store.Store) {
	t.Helper()
	for _, raw := range searchFixture {
		n, out := fhir.Parse([]byte(raw), fhir.Limits{})
		if out.HasErrors() {
			t.Fatalf("parse fixture %s: %s", raw, out)
		}
		if _, err := put(t, s, n, 0); err != nil {
			t.Fatalf("put fixture: %v", err)
		}
	}
}

// query turns "Type?name=value&..." into a store query the way a server
// would: criteria by search.Parse, _sort, _include and _revinclude.
func query(t *testing.T, s string) *store.Query {
	t.Helper()
	typ, raw, _ := strings.Cut(s, "?")
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := &store.Query{Count: 50, Total: true}
	if typ != "" {
		q.Types = []string{typ}
	}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, val := range v[name] {
			switch base, _, _ := strings.Cut(name, ":"); base {
			case "_sort":
				keys, err := search.ParseSort(typ, val)
				if err != nil {
					t.Fatalf("ParseSort(%q): %v", val, err)
				}
				q.Sort = append(q.Sort, keys...)
			case "_include", "_revinclude":
				inc, err := search.ParseInclude(name, val)
				if err != nil {
					t.Fatalf("ParseInclude(%q, %q): %v", name, val, err)
				}
				q.Includes = append(q.Includes, inc)
			default:
				c, err := search.Parse(typ, name, val)
				if err != nil {
					t.Fatalf("Parse(%q, %q, %q): %v", typ, name, val, err)
				}
				q.Criteria = append(q.Criteria, c)
			}
		}
	}
	return q
}

func refs(vs []store.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Type + "/" + v.ID
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// testSearchSort checks _sort orders, missing values last in both
// directions and ties broken by id.
func testSearchSort(t *testing.T, s store.Store) {
	loadFixture(t, s)
	cases := []struct {
		query string
		want  string // in order
	}{
		{"Patient?_sort=family", "p1,p4,p2,p3"},
		{"Patient?_sort=-family", "p2,p1,p4,p3"},
		{"Patient?_sort=birthdate", "p2,p1,p3,p4"},
		{"Patient?_sort=-birthdate", "p3,p1,p2,p4"},
		{"Patient?_sort=family,-birthdate", "p1,p4,p2,p3"},
		{"Patient?_sort=family,birthdate", "p1,p4,p2,p3"},
		{"Patient?_sort=-_id", "p4,p3,p2,p1"},
		{"Observation?_sort=-value-quantity", "o2,o3,o1,o4"},
		{"Observation?_sort=code,-_id", "o3,o1,o2,o4"},
		{"Observation?_sort=subject,_id", "o1,o2,o3,o4"},
		{"Observation?_sort=-subject,_id", "o4,o3,o1,o2"},
		{"Patient?_sort=organization,_id", "p1,p2,p3,p4"},
		{"Patient?family=alpha&_sort=-_lastUpdated", "p4,p1"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			p, err := s.Search(context.Background(), query(t, c.query))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range p.Matches {
				got = append(got, m.ID)
			}
			if strings.Join(got, ",") != c.want {
				t.Errorf("Search(%s) = %v, want %s", c.query, got, c.want)
			}
		})
	}
	// Paging through a sorted result yields the same order.
	q := query(t, "Patient?_sort=family,-birthdate")
	var all []string
	for off := 0; off < 4; off += 2 {
		q.Count, q.Offset = 2, off
		p, err := s.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Matches {
			all = append(all, m.ID)
		}
	}
	if strings.Join(all, ",") != "p1,p4,p2,p3" {
		t.Errorf("sorted pages of 2 = %v, want p1,p4,p2,p3", all)
	}
}

// testSearchInclude checks _include, _revinclude, :iterate, wildcards,
// the include cap and that Restrict applies to included resources.
func testSearchInclude(t *testing.T, s store.Store) {
	loadFixture(t, s)
	cases := []struct {
		query    string
		matches  string // sorted
		included string // sorted
	}{
		{"Observation?code=1234&_include=Observation:subject", "Observation/o1,Observation/o3", "Patient/p1,Patient/p2"},
		{"Observation?code=1234&_include=Observation:subject:Patient", "Observation/o1,Observation/o3", "Patient/p1,Patient/p2"},
		{"Observation?code=1234&_include=Observation:subject:Group", "Observation/o1,Observation/o3", ""},
		{"Observation?code=1234&_include=Observation:encounter", "Observation/o1,Observation/o3", "Encounter/e1"},
		{"Observation?_id=o3&_include=*", "Observation/o3", "Encounter/e1,Patient/p2"},
		{"Observation?_id=o3&_include=Observation:*", "Observation/o3", "Encounter/e1,Patient/p2"},
		{"Patient?_id=p1&_revinclude=Observation:subject", "Patient/p1", "Observation/o1,Observation/o2"},
		{"Patient?_id=p2&_revinclude=*", "Patient/p2", "Encounter/e1,Observation/o3"},
		{"Patient?_id=p1,p2&_revinclude=Observation:patient&_revinclude=Encounter:subject", "Patient/p1,Patient/p2", "Encounter/e1,Observation/o1,Observation/o2,Observation/o3"},
		// Matches are never repeated as included resources.
		{"Patient?_id=p1,p2&_include=Patient:general-practitioner&_revinclude=Observation:subject&_include=Observation:subject", "Patient/p1,Patient/p2",
			"Observation/o1,Observation/o2,Observation/o3,Practitioner/dr1,PractitionerRole/role1"},
		// Without :iterate, includes apply to the matches only.
		{"Observation?_id=o1&_include=Observation:subject&_include=Patient:general-practitioner", "Observation/o1", "Patient/p1"},
		{"Observation?_id=o1&_include=Observation:subject&_include:iterate=Patient:general-practitioner", "Observation/o1", "Patient/p1,PractitionerRole/role1"},
		{"Observation?_id=o1&_include=Observation:subject&_include:iterate=Patient:general-practitioner&_include:iterate=PractitionerRole:organization",
			"Observation/o1", "Organization/org1,Patient/p1,PractitionerRole/role1"},
		{"Encounter?_id=e1&_revinclude=Observation:encounter&_revinclude:iterate=Provenance:target", "Encounter/e1", "Observation/o3,Provenance/prov1"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			p, err := s.Search(context.Background(), query(t, c.query))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(sorted(refs(p.Matches)), ","); got != c.matches {
				t.Errorf("matches = %s, want %s", got, c.matches)
			}
			if got := strings.Join(sorted(refs(p.Included)), ","); got != c.included {
				t.Errorf("included = %s, want %s", got, c.included)
			}
			if p.IncludedCapped {
				t.Errorf("IncludedCapped with %d included", len(p.Included))
			}
		})
	}
	t.Run("cap", func(t *testing.T) {
		q := query(t, "Patient?_id=p1,p2&_revinclude=Observation:subject")
		for _, max := range []int{1, 2} {
			q.MaxIncluded = max
			p, err := s.Search(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Included) != max || !p.IncludedCapped {
				t.Errorf("MaxIncluded %d: %d included, capped %v; want %d, true", max, len(p.Included), p.IncludedCapped, max)
			}
		}
		// Exactly at the cap nothing is left out.
		for _, max := range []int{3, 4} {
			q.MaxIncluded = max
			p, err := s.Search(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Included) != 3 || p.IncludedCapped {
				t.Errorf("MaxIncluded %d: %d included, capped %v; want 3, false", max, len(p.Included), p.IncludedCapped)
			}
		}
	})
	t.Run("restrict", func(t *testing.T) {
		// A restriction to p1's compartment keeps p2's observation out of
		// the includes as well as the matches.
		q := query(t, "Observation?code=1234&_include=Observation:subject")
		q.Restrict = []*search.Criterion{search.Compartment("Patient", "p1")}
		p, err := s.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(refs(p.Matches), ","); got != "Observation/o1" || p.Total != 1 {
			t.Errorf("restricted matches = %s (total %d), want Observation/o1 (1)", got, p.Total)
		}
		if got := strings.Join(refs(p.Included), ","); got != "Patient/p1" {
			t.Errorf("restricted included = %s, want Patient/p1", got)
		}
		sec, err := search.Parse("Resource", "_security:not", "http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R")
		if err != nil {
			t.Fatal(err)
		}
		q = query(t, "Observation?code=1234&_include=Observation:subject")
		q.Restrict = []*search.Criterion{sec}
		p, err = s.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(sorted(refs(p.Included)), ","); got != "Patient/p1" {
			t.Errorf("included without restricted labels = %s, want Patient/p1", got)
		}
	})
}

// testSearchChain checks chained parameters and _has, several levels
// deep, composites, and compartments.
func testSearchChain(t *testing.T, s store.Store) {
	loadFixture(t, s)
	cases := []struct {
		query string
		want  string // sorted ids
	}{
		{"Observation?subject:Patient.name=alpha", "o1,o2"},
		{"Observation?subject.name=beta", "o3"},
		{"Observation?subject:Patient.birthdate=lt1995", "o1,o2,o3"},
		{"Observation?subject.organization.name=beta", "o3"},
		{"Observation?subject:Patient.organization:Organization.name:exact=Acme Health", "o1,o2"},
		{"Patient?general-practitioner.organization.name=acme", "p1"},
		{"Patient?general-practitioner:Practitioner.name=who", "p2"},
		{"Observation?subject.general-practitioner.organization.name=acme", "o1,o2"},
		{"Observation?subject.name=alpha,beta&code=1234", "o1,o3"},
		{"Observation?subject._id=p3", "o4"},
		{"Patient?_has:Observation:patient:code=1234", "p1,p2"},
		{"Patient?_has:Observation:patient:code=5678", "p1"},
		{"Patient?_has:Observation:subject:code=9999,5678", "p1,p3"},
		{"Patient?_has:Observation:patient:code=1234&_has:Observation:patient:code=5678", "p1"},
		{"Patient?_has:Observation:subject:_has:Provenance:target:agent=Practitioner/dr1", "p2"},
		{"Practitioner?_has:PractitionerRole:practitioner:organization.name=acme", "dr1"},
		{"Organization?_has:Patient:organization:_has:Observation:subject:code=5678", "org1"},
		{"Patient?_has:Observation:patient:code=0000", ""},
		// Composites on the resource itself: components AND, values OR.
		{"Observation?code-value-quantity=http://loinc.org|1234$gt6", "o3"},
		{"Observation?code-value-quantity=1234$lt6,5678$gt9", "o1,o2"},
		{"Observation?code-value-quantity=5678$lt6", ""},
		{"Patient?_has:Observation:subject:code-value-quantity=1234$gt6", "p2"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			q := query(t, c.query)
			p, err := s.Search(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range p.Matches {
				got = append(got, m.ID)
			}
			if g := strings.Join(sorted(got), ","); g != c.want || p.Total != len(got) {
				t.Errorf("Search(%s) = [%s] (total %d), want [%s]", c.query, g, p.Total, c.want)
			}
		})
	}
	comp := []struct {
		types []string
		id    string
		want  string
	}{
		{[]string{"Observation"}, "p1", "Observation/o1,Observation/o2"},
		{[]string{"Observation", "Encounter"}, "p2", "Encounter/e1,Observation/o3"},
		{nil, "p2", "Encounter/e1,Observation/o3,Patient/p2"},
		{[]string{"Organization"}, "p1", ""},
	}
	for _, c := range comp {
		q := &store.Query{Types: c.types, Count: 50, Criteria: []*search.Criterion{search.Compartment("Patient", c.id)}}
		p, err := s.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(sorted(refs(p.Matches)), ","); got != c.want {
			t.Errorf("Patient/%s/%v = %s, want %s", c.id, c.types, got, c.want)
		}
	}
}
