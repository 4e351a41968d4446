package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fhirseal/fhirseal/server"
)

// seed stores resources given as JSON with their ids.
func seed(t *testing.T, ts *testServer, resources ...string) {
	t.Helper()
	for _, r := range resources {
		id := strings.SplitN(strings.SplitN(r, `"id":"`, 2)[1], `"`, 2)[0]
		typ := strings.SplitN(strings.SplitN(r, `"resourceType":"`, 2)[1], `"`, 2)[0]
		want(t, do(t, ts, "PUT", "/fhir/"+typ+"/"+id, r), 201, "put "+typ+"/"+id)
	}
}

// entries lists a searchset's entries as "mode:Type/id" in Bundle order
// (outcomes as "outcome").
func entries(r resp) []string {
	var out []string
	list, _ := r.body["entry"].([]any)
	for _, e := range list {
		em := e.(map[string]any)
		mode := ""
		if s, ok := em["search"].(map[string]any); ok {
			mode, _ = s["mode"].(string)
		}
		res := em["resource"].(map[string]any)
		if mode == "outcome" {
			out = append(out, "outcome")
			continue
		}
		out = append(out, fmt.Sprintf("%s:%s/%s", mode, res["resourceType"], res["id"]))
	}
	return out
}

func link(r resp, rel string) string {
	links, _ := r.body["link"].([]any)
	for _, l := range links {
		lm := l.(map[string]any)
		if lm["relation"] == rel {
			return lm["url"].(string)
		}
	}
	return ""
}

var searchGraph = []string{
	`{"resourceType":"Organization","id":"org1","name":"Acme Health"}`,
	`{"resourceType":"PractitionerRole","id":"role1","organization":{"reference":"Organization/org1"}}`,
	`{"resourceType":"Patient","id":"pa","name":[{"family":"Alpha"}],"birthDate":"1990","generalPractitioner":[{"reference":"PractitionerRole/role1"}]}`,
	`{"resourceType":"Patient","id":"pb","name":[{"family":"Beta"}],"birthDate":"1980"}`,
	`{"resourceType":"Patient","id":"pc","birthDate":"2000"}`,
	`{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1234"}]},"subject":{"reference":"Patient/pa"}}`,
	`{"resourceType":"Observation","id":"o2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"5678"}]},"subject":{"reference":"Patient/pa"}}`,
	`{"resourceType":"Observation","id":"o3","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1234"}]},"subject":{"reference":"Patient/pb"}}`,
	`{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/pb"}}`,
}

// TestSearchResults checks the searchset Bundle over HTTP: order under
// _sort, include entries, chains, _has, compartments and _type, in Bundle
// order with their search modes.
func TestSearchResults(t *testing.T) {
	ts := newServer(t)
	seed(t, ts, searchGraph...)
	cases := []struct {
		path string
		want string
	}{
		{"/fhir/Patient?_sort=family", "match:Patient/pa,match:Patient/pb,match:Patient/pc"},
		{"/fhir/Patient?_sort=-family", "match:Patient/pb,match:Patient/pa,match:Patient/pc"},
		{"/fhir/Patient?_sort=-birthdate,_id", "match:Patient/pc,match:Patient/pa,match:Patient/pb"},
		{"/fhir/Observation?_sort=-_id&code=1234&_include=Observation:subject", "match:Observation/o3,match:Observation/o1,include:Patient/pa,include:Patient/pb"},
		{"/fhir/Patient?_id=pb&_revinclude=Observation:subject&_revinclude=Encounter:patient", "match:Patient/pb,include:Encounter/e1,include:Observation/o3"},
		{"/fhir/Observation?_id=o1&_include=Observation:patient&_include:iterate=Patient:general-practitioner&_include:iterate=PractitionerRole:organization",
			"match:Observation/o1,include:Organization/org1,include:Patient/pa,include:PractitionerRole/role1"},
		{"/fhir/Observation?subject:Patient.name=beta", "match:Observation/o3"},
		{"/fhir/Observation?subject.general-practitioner.organization.name=acme&_sort=_id", "match:Observation/o1,match:Observation/o2"},
		{"/fhir/Patient?_has:Observation:patient:code=5678", "match:Patient/pa"},
		{"/fhir/Patient?_has:Observation:patient:code=1234&_sort=_id", "match:Patient/pa,match:Patient/pb"},
		{"/fhir/Patient/pa/Observation?_sort=_id", "match:Observation/o1,match:Observation/o2"},
		{"/fhir/Patient/pa/Observation?code=5678", "match:Observation/o2"},
		{"/fhir/Patient/pb/*?_sort=_id", "match:Encounter/e1,match:Observation/o3,match:Patient/pb"},
		{"/fhir/Patient/pb/Encounter", "match:Encounter/e1"},
		{"/fhir?_type=Encounter,Organization&_sort=_id", "match:Encounter/e1,match:Organization/org1"},
		{"/fhir?_type=Observation&code=5678", "match:Observation/o2"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := do(t, ts, "GET", c.path, "", "Prefer", "handling=strict")
			want(t, r, 200, c.path)
			if got := strings.Join(entries(r), ","); got != c.want {
				t.Errorf("GET %s = %s, want %s", c.path, got, c.want)
			}
		})
	}
	// POST _search in a compartment takes the same parameters as a form.
	r := doForm(t, ts, "/fhir/Patient/pa/Observation/_search", "code=1234")
	want(t, r, 200, "compartment _search")
	if got := strings.Join(entries(r), ","); got != "match:Observation/o1" {
		t.Errorf("POST Patient/pa/Observation/_search code=1234 = %s, want match:Observation/o1", got)
	}
	want(t, do(t, ts, "GET", "/fhir/Patient/pa/Organization", ""), 404, "type outside the compartment")
}

// TestSearchPagingSorted pages through a sorted search with next links.
func TestSearchPagingSorted(t *testing.T) {
	ts := newServer(t)
	var res []string
	for i := 0; i < 7; i++ {
		res = append(res, fmt.Sprintf(`{"resourceType":"Patient","id":"p%d","name":[{"family":"F%d"}]}`, i, (i*3)%7))
	}
	seed(t, ts, res...)
	var got []string
	path := "/fhir/Patient?_sort=-family&_count=3"
	for pages := 0; path != "" && pages < 5; pages++ {
		r := do(t, ts, "GET", path, "")
		want(t, r, 200, path)
		for _, e := range entries(r) {
			got = append(got, strings.TrimPrefix(e, "match:Patient/"))
		}
		path = ""
		if next := link(r, "next"); next != "" {
			u, err := url.Parse(next)
			if err != nil {
				t.Fatal(err)
			}
			path = u.RequestURI()
		}
	}
	// family F(i*3 mod 7): p0 F0, p1 F3, p2 F6, p3 F2, p4 F5, p5 F1, p6 F4.
	if strings.Join(got, ",") != "p2,p4,p6,p1,p3,p5,p0" {
		t.Errorf("sorted pages = %v, want p2,p4,p6,p1,p3,p5,p0", got)
	}
}

// TestSearchIncludeCap checks that a capped include says so, with a link
// that fetches the rest, instead of truncating silently.
func TestSearchIncludeCap(t *testing.T) {
	ts := newServerWith(t, func(c *server.Config) { c.MaxIncluded = 2 })
	seed(t, ts, searchGraph...)
	r := do(t, ts, "GET", "/fhir/Patient?_id=pa,pb&_revinclude=Observation:subject", "")
	want(t, r, 200, "capped")
	got := entries(r)
	includes := 0
	for _, e := range got {
		if strings.HasPrefix(e, "include:") {
			includes++
		}
	}
	if includes != 2 || got[len(got)-1] != "outcome" {
		t.Fatalf("capped search = %v, want 2 includes and an outcome entry last", got)
	}
	if !strings.Contains(r.raw, "the 2 included") || !strings.Contains(r.raw, "/Observation?subject=Patient%2Fpa%2CPatient%2Fpb") {
		t.Errorf("cap outcome does not say how to get the rest: %s", r.raw)
	}
	// The suggested search returns every observation the cap left out.
	r = do(t, ts, "GET", "/fhir/Observation?subject=Patient/pa,Patient/pb", "")
	if n := len(entries(r)); n != 3 {
		t.Errorf("direct search found %d observations, want 3", n)
	}
	// Under the cap there is no outcome.
	r = do(t, ts, "GET", "/fhir/Patient?_id=pb&_revinclude=Observation:subject", "")
	if got := strings.Join(entries(r), ","); got != "match:Patient/pb,include:Observation/o3" {
		t.Errorf("uncapped search = %s", got)
	}
}

// TestSearchHandling checks strict and lenient handling, the self link,
// _total and _summary=count.
func TestSearchHandling(t *testing.T) {
	ts := newServer(t)
	seed(t, ts, searchGraph...)
	lenient := []struct {
		path    string
		ignored string // listed in the outcome entry
		self    string // query of the self link
	}{
		{"/fhir/Patient?foo=bar&family=alpha", "foo", "family=alpha"},
		{"/fhir/Patient?_sort=nope&family=alpha", "_sort", "family=alpha"},
		{"/fhir/Patient?_include=Patient:nope&_sort=family", "_include", "_sort=family"},
		{"/fhir/Patient?subject.name=x", "subject.name", ""},
		{"/fhir/Patient?_has:Observation:nope:code=1&_count=5", "_has:Observation:nope:code", "_count=5"},
		{"/fhir/Patient?family:fuzzy=x&_total=accurate", "family:fuzzy", "_total=accurate"},
		{"/fhir?_has:Observation:patient:code=1234&_type=Patient,Encounter", "_has:Observation:patient:code", "_type=Patient%2CEncounter"},
	}
	for _, c := range lenient {
		t.Run(c.path, func(t *testing.T) {
			r := do(t, ts, "GET", c.path, "")
			want(t, r, 200, "lenient "+c.path)
			if !strings.Contains(r.raw, "not applied: "+c.ignored) {
				t.Errorf("lenient %s does not list %s: %s", c.path, c.ignored, r.raw)
			}
			u, err := url.Parse(link(r, "self"))
			if err != nil || u.RawQuery != c.self {
				t.Errorf("self link of %s = %s, want query %q", c.path, link(r, "self"), c.self)
			}
			want(t, do(t, ts, "GET", c.path, "", "Prefer", "handling=strict"), 400, "strict "+c.path)
		})
	}
	totals := []struct {
		path    string
		total   float64 // -1: absent
		entries int
	}{
		{"/fhir/Observation?code=1234&_total=accurate&_count=1", 2, 1},
		{"/fhir/Observation?code=1234&_total=estimate&_count=1", 2, 1},
		{"/fhir/Observation?code=1234&_total=none", -1, 2},
		{"/fhir/Observation?code=1234&_count=1", -1, 1},
		{"/fhir/Observation?code=1234&_summary=count", 2, 0},
		{"/fhir/Observation?_summary=count&_include=Observation:subject", 3, 0},
	}
	for _, c := range totals {
		r := do(t, ts, "GET", c.path, "", "Prefer", "handling=strict")
		want(t, r, 200, c.path)
		total, ok := r.body["total"].(float64)
		if !ok {
			total = -1
		}
		if total != c.total || len(entries(r)) != c.entries {
			t.Errorf("GET %s: total %v, %d entries; want %v, %d", c.path, total, len(entries(r)), c.total, c.entries)
		}
	}
	want(t, do(t, ts, "GET", "/fhir/Patient?_total=all", ""), 400, "bad _total")
	want(t, do(t, ts, "GET", "/fhir/Patient?_include=Nope:x", ""), 400, "bad _include type")
}

// doForm posts a form body with the administrator token.
func doForm(t *testing.T, ts *testServer, path, form string) resp {
	t.Helper()
	req, err := http.NewRequest("POST", ts.URL+path, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+ts.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("POST %s: body is not JSON: %s", path, raw)
	}
	return r
}
