package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/server"
	"github.com/fhirseal/fhirseal/store/sqlite"
)

// testServer is a server on loopback with fhirseal's own issuer, and an
// administrator token that do sends unless the call names another.
type testServer struct {
	*httptest.Server
	base   string
	issuer *auth.Issuer
	token  string
}

func newServer(t *testing.T) *testServer {
	return newServerWith(t, nil)
}

// newServerB is newServer for benchmarks, with Patient/p1 stored.
func newServerB(b *testing.B) *testServer {
	ts := newServerWith(b, nil)
	req, _ := http.NewRequest("PUT", ts.URL+"/fhir/Patient/p1", strings.NewReader(patientJSON[:len(patientJSON)-1]+`,"id":"p1"}`))
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+ts.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		b.Fatalf("seed: %v %v", err, res)
	}
	res.Body.Close()
	return ts
}

// newServerWith starts a server; edit may change its configuration (the
// store is already set).
func newServerWith(t testing.TB, edit func(*server.Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "db"), sqlite.Options{Indexer: search.Extract})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hs := httptest.NewUnstartedServer(nil)
	ts := &testServer{Server: hs, base: "http://" + hs.Listener.Addr().String() + "/fhir"}
	ts.issuer, err = auth.LoadOrCreateIssuer(dir, ts.base)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Audience: ts.base, Local: ts.issuer})
	if err != nil {
		t.Fatal(err)
	}
	ts.token = ts.mint(t, auth.MintRequest{Subject: "admin", Scope: "system/*.cruds", Admin: true})
	cfg := server.Config{Store: st, Auth: v, BaseURL: ts.base, Version: "test"}
	if edit != nil {
		edit(&cfg)
	}
	hs.Config.Handler = server.New(cfg)
	hs.Start()
	t.Cleanup(hs.Close)
	return ts
}

func (ts *testServer) mint(t testing.TB, r auth.MintRequest) string {
	t.Helper()
	r.Audience = ts.base
	m, err := ts.issuer.Mint(r, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m.Token
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request with the administrator token; a header pair
// "Authorization", value replaces it ("" sends none).
func do(t *testing.T, ts *testServer, method, path, body string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("Authorization", "Bearer "+ts.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
		if hdr[i] == "Authorization" && hdr[i+1] == "" {
			req.Header.Del("Authorization")
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, raw)
		}
	}
	return r
}

func want(t *testing.T, r resp, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.raw)
	}
	if r.status >= 400 {
		if r.body["resourceType"] != "OperationOutcome" {
			t.Fatalf("%s: error body is not an OperationOutcome: %s", what, r.raw)
		}
	}
}

const patientJSON = `{"resourceType":"Patient","name":[{"family":"Chalmers","given":["Peter","James"]}],"birthDate":"1974-12-25","multipleBirthInteger":1}`

func TestCRUD(t *testing.T) {
	ts := newServer(t)
	r := do(t, ts, "POST", "/fhir/Patient", patientJSON)
	want(t, r, 201, "create")
	loc := r.header.Get("Location")
	if !strings.Contains(loc, "/fhir/Patient/") || !strings.HasSuffix(loc, "/_history/1") {
		t.Fatalf("Location = %q", loc)
	}
	if r.header.Get("ETag") != `W/"1"` || r.header.Get("Last-Modified") == "" || r.header.Get("X-Ledger-Index") == "" {
		t.Errorf("create headers = %v", r.header)
	}
	id := r.body["id"].(string)
	meta := r.body["meta"].(map[string]any)
	if meta["versionId"] != "1" || meta["lastUpdated"] == nil {
		t.Errorf("meta = %v", meta)
	}

	r = do(t, ts, "GET", "/fhir/Patient/"+id, "")
	want(t, r, 200, "read")
	if r.body["birthDate"] != "1974-12-25" {
		t.Errorf("read body = %s", r.raw)
	}
	r = do(t, ts, "GET", "/fhir/Patient/"+id, "", "If-None-Match", `W/"1"`)
	want(t, r, 304, "read If-None-Match")

	upd := strings.Replace(patientJSON, `{"resourceType":"Patient",`, `{"resourceType":"Patient","id":"`+id+`",`, 1)
	upd = strings.Replace(upd, "1974", "1975", 1)
	want(t, do(t, ts, "PUT", "/fhir/Patient/"+id, upd, "If-Match", `W/"7"`), 412, "update with stale If-Match")
	r = do(t, ts, "PUT", "/fhir/Patient/"+id, upd, "If-Match", `W/"1"`)
	want(t, r, 200, "update")
	if r.header.Get("ETag") != `W/"2"` {
		t.Errorf("update ETag = %q", r.header.Get("ETag"))
	}
	r = do(t, ts, "GET", "/fhir/Patient/"+id+"/_history/1", "")
	want(t, r, 200, "vread 1")
	if r.body["birthDate"] != "1974-12-25" {
		t.Errorf("vread 1 body = %s", r.raw)
	}
	want(t, do(t, ts, "PUT", "/fhir/Patient/other", upd), 400, "update with mismatched id")

	want(t, do(t, ts, "DELETE", "/fhir/Patient/"+id, ""), 200, "delete")
	want(t, do(t, ts, "GET", "/fhir/Patient/"+id, ""), 410, "read deleted")
	r = do(t, ts, "GET", "/fhir/Patient/"+id+"/_history", "")
	want(t, r, 200, "history")
	if r.body["type"] != "history" || len(r.body["entry"].([]any)) != 3 {
		t.Errorf("history = %s", r.raw)
	}
	want(t, do(t, ts, "GET", "/fhir/Patient/nope", ""), 404, "read missing")
	// Update as create.
	r = do(t, ts, "PUT", "/fhir/Patient/new1", `{"resourceType":"Patient","id":"new1"}`)
	want(t, r, 201, "update as create")
}

func TestBadInputChangesNothing(t *testing.T) {
	ts := newServer(t)
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
	}{
		{"malformed JSON", "POST", "/fhir/Patient", `{"resourceType":"Patient",`, nil, 400},
		{"unknown element", "POST", "/fhir/Patient", `{"resourceType":"Patient","foo":1}`, nil, 400},
		{"wrong type for URL", "POST", "/fhir/Patient", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, nil, 400},
		{"bad date", "POST", "/fhir/Patient", `{"resourceType":"Patient","birthDate":"1974-13-01"}`, nil, 400},
		{"duplicate key", "POST", "/fhir/Patient", `{"resourceType":"Patient","active":true,"active":false}`, nil, 400},
		{"bad code", "POST", "/fhir/Patient", `{"resourceType":"Patient","gender":"robot"}`, nil, 400},
		{"wrong content type", "POST", "/fhir/Patient", `{"resourceType":"Patient"}`, []string{"Content-Type", "text/plain"}, 415},
		{"not acceptable", "GET", "/fhir/Patient/x", "", []string{"Accept", "application/fhir+xml"}, 406},
		{"unknown type", "GET", "/fhir/Robot/1", "", nil, 404},
		{"unknown path", "GET", "/nothing/here", "", nil, 404},
		{"too large", "POST", "/fhir/Patient", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` + strings.Repeat("x", 17<<20) + `</div>"}}`, nil, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want(t, do(t, ts, c.method, c.path, c.body, c.hdr...), c.status, c.name)
		})
	}
	r := do(t, ts, "GET", "/fhir/_history", "")
	want(t, r, 200, "system history")
	if _, ok := r.body["entry"]; ok {
		t.Errorf("bad input wrote something: %s", r.raw)
	}
}

func TestTransaction(t *testing.T) {
	ts := newServer(t)
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Patient","active":true},"request":{"method":"POST","url":"Patient"}},
	 {"resource":{"resourceType":"Observation","status":"final","code":{"text":"hr"},"subject":{"reference":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},"request":{"method":"POST","url":"Observation"}}]}`
	r := do(t, ts, "POST", "/fhir", bundle)
	want(t, r, 200, "transaction")
	entries := r.body["entry"].([]any)
	if len(entries) != 2 {
		t.Fatalf("entries = %s", r.raw)
	}
	obs := entries[1].(map[string]any)["resource"].(map[string]any)
	ref := obs["subject"].(map[string]any)["reference"].(string)
	if !strings.HasPrefix(ref, "Patient/") {
		t.Errorf("reference not rewritten: %q", ref)
	}
	want(t, do(t, ts, "GET", "/fhir/"+ref, ""), 200, "read referenced patient")

	// A failing entry rolls back the whole transaction.
	bad := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":{"resourceType":"Patient","id":"tx1"},"request":{"method":"PUT","url":"Patient/tx1"}},
	 {"resource":{"resourceType":"Patient","id":"tx2"},"request":{"method":"PUT","url":"Patient/tx2","ifMatch":"W/\"9\""}}]}`
	r = do(t, ts, "POST", "/fhir", bad)
	if r.status < 400 {
		t.Fatalf("failing transaction status %d", r.status)
	}
	want(t, do(t, ts, "GET", "/fhir/Patient/tx1", ""), 404, "entry of a failed transaction")

	// A batch's entries are independent.
	batch := strings.Replace(bad, `"transaction"`, `"batch"`, 1)
	r = do(t, ts, "POST", "/fhir", batch)
	want(t, r, 200, "batch")
	want(t, do(t, ts, "GET", "/fhir/Patient/tx1", ""), 200, "batch entry that succeeded")
}

func TestSearchAndConditional(t *testing.T) {
	ts := newServer(t)
	for _, id := range []string{"a", "b", "c"} {
		want(t, do(t, ts, "PUT", "/fhir/Patient/"+id, `{"resourceType":"Patient","id":"`+id+`"}`), 201, "put "+id)
	}
	r := do(t, ts, "GET", "/fhir/Patient?_id=a,c&_total=accurate", "")
	want(t, r, 200, "search")
	if r.body["total"].(float64) != 2 {
		t.Errorf("total = %v", r.body["total"])
	}
	r = do(t, ts, "GET", "/fhir/Patient?_count=2", "")
	want(t, r, 200, "paged search")
	links := r.body["link"].([]any)
	var next string
	for _, l := range links {
		if m := l.(map[string]any); m["relation"] == "next" {
			next = m["url"].(string)
		}
	}
	if next == "" {
		t.Fatalf("no next link: %s", r.raw)
	}
	want(t, do(t, ts, "GET", "/fhir/Patient?foo=bar", "", "Prefer", "handling=strict"), 400, "strict unknown parameter")
	r = do(t, ts, "POST", "/fhir/Patient", `{"resourceType":"Patient"}`, "If-None-Exist", "_id=b")
	want(t, r, 200, "conditional create that matches")
	if r.body["id"] != "b" {
		t.Errorf("conditional create returned %v", r.body["id"])
	}
}

func TestMetadataAndOpenAPI(t *testing.T) {
	ts := newServer(t)
	r := do(t, ts, "GET", "/fhir/metadata", "")
	want(t, r, 200, "metadata")
	if r.body["resourceType"] != "CapabilityStatement" {
		t.Fatalf("metadata = %s", r.raw[:200])
	}
	res, err := http.Get(ts.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	paths := doc["paths"].(map[string]any)
	if _, ok := paths["/fhir/Observation/{id}"]; !ok {
		t.Errorf("openapi has no /fhir/Observation/{id}")
	}
}

func TestJSONPatch(t *testing.T) {
	ts := newServer(t)
	want(t, do(t, ts, "PUT", "/fhir/Patient/p", `{"resourceType":"Patient","id":"p","active":true,"multipleBirthInteger":2}`), 201, "put")
	patch := func(body string, hdr ...string) resp {
		t.Helper()
		return do(t, ts, "PATCH", "/fhir/Patient/p", body, append([]string{"Content-Type", "application/json-patch+json"}, hdr...)...)
	}
	r := patch(`[{"op":"replace","path":"/active","value":false}]`, "If-Match", `W/"1"`)
	want(t, r, 200, "patch")
	if r.body["active"] != false || r.header.Get("ETag") != `W/"2"` {
		t.Errorf("patched = %s (ETag %s)", r.raw, r.header.Get("ETag"))
	}
	want(t, patch(`[{"op":"replace","path":"/active","value":true}]`, "If-Match", `W/"1"`), 412, "patch stale")
	want(t, patch(`[{"op":"add","path":"/gender","value":"robot"}]`), 422, "patch to invalid")
	want(t, patch(`[{"op":"replace","path":"/id","value":"q"}]`), 422, "patch of id")
	want(t, patch(`[{"op":"test","path":"/active","value":true}]`), 422, "failed test op")
	want(t, patch(`not json`), 400, "bad patch document")
	want(t, do(t, ts, "PATCH", "/fhir/Patient/p", `[]`, "Content-Type", "text/plain"), 415, "patch content type")
	want(t, do(t, ts, "PATCH", "/fhir/Patient/p", `[]`), 400, "JSON Patch sent as a FHIRPath Patch")
	r = do(t, ts, "GET", "/fhir/Patient/p", "")
	if r.header.Get("ETag") != `W/"2"` {
		t.Errorf("failed patches changed the resource: ETag %s", r.header.Get("ETag"))
	}
}

func TestTokensAndScopes(t *testing.T) {
	ts := newServer(t)
	want(t, do(t, ts, "PUT", "/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1"}`), 201, "put p1")
	want(t, do(t, ts, "PUT", "/fhir/Patient/p2", `{"resourceType":"Patient","id":"p2"}`), 201, "put p2")
	want(t, do(t, ts, "PUT", "/fhir/Observation/o1", `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}`), 201, "put o1")

	readOnly := ts.mint(t, auth.MintRequest{Subject: "app", Scope: "system/Patient.rs"})
	patient1 := ts.mint(t, auth.MintRequest{Subject: "p1-app", Scope: "patient/*.rs", Patient: "p1"})
	noPatientClaim := ts.mint(t, auth.MintRequest{Subject: "broken", Scope: "patient/*.rs"})
	cases := []struct {
		name, method, path, body, token string
		status                          int
	}{
		{"no token", "GET", "/fhir/Patient/p1", "", "", 401},
		{"garbage token", "GET", "/fhir/Patient/p1", "", "Bearer not.a.jwt", 401},
		{"metadata needs no token", "GET", "/fhir/metadata", "", "", 200},
		{"smart configuration needs no token", "GET", "/fhir/.well-known/smart-configuration", "", "", 200},
		{"read with read scope", "GET", "/fhir/Patient/p1", "", "Bearer " + readOnly, 200},
		{"write with read scope", "PUT", "/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1"}`, "Bearer " + readOnly, 403},
		{"other type with read scope", "GET", "/fhir/Observation/o1", "", "Bearer " + readOnly, 403},
		{"patient reads self", "GET", "/fhir/Patient/p1", "", "Bearer " + patient1, 200},
		{"patient reads other patient", "GET", "/fhir/Patient/p2", "", "Bearer " + patient1, 404},
		{"patient reads other patient's history", "GET", "/fhir/Patient/p2/_history", "", "Bearer " + patient1, 404},
		{"patient reads other patient's version", "GET", "/fhir/Patient/p2/_history/1", "", "Bearer " + patient1, 404},
		{"patient search is pinned to the patient", "GET", "/fhir/Patient?_id=p2", "", "Bearer " + patient1, 200},
		{"patient scope without patient claim", "GET", "/fhir/Patient/p1", "", "Bearer " + noPatientClaim, 403},
		{"patient cannot write", "PUT", "/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1"}`, "Bearer " + patient1, 403},
		{"nobody writes AuditEvents", "POST", "/fhir/AuditEvent", `{"resourceType":"AuditEvent"}`, "Bearer " + ts.token, 403},
		{"transaction needs unrestricted scopes", "POST", "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]}`, "Bearer " + readOnly, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, ts, c.method, c.path, c.body, "Authorization", c.token)
			if r.status != c.status {
				t.Errorf("%s %s = %d, want %d: %.200s", c.method, c.path, r.status, c.status, r.raw)
			}
			if c.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

func TestInvariantViolationIsUnprocessable(t *testing.T) {
	ts := newServer(t)
	// per-1: a period's start must not be after its end.
	r := do(t, ts, "POST", "/fhir/Encounter", `{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"period":{"start":"2024-02-01","end":"2024-01-01"}}`)
	want(t, r, 422, "invariant violation")
	if !strings.Contains(r.raw, "per-1") {
		t.Errorf("outcome does not name the invariant: %s", r.raw)
	}
}

func TestNormalizePreview(t *testing.T) {
	ts := newServer(t)
	in := `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"urn:oid:2.16.840.1.113883.6.1","code":"8867-4"}]},"valueQuantity":{"value":72,"unit":"bpm"}}`
	r := do(t, ts, "POST", "/fhir/Observation/$normalize", in)
	want(t, r, 200, "$normalize")
	if !strings.Contains(r.raw, `"system":"http://loinc.org"`) || !strings.Contains(r.raw, `"OperationOutcome"`) {
		t.Errorf("$normalize = %s", r.raw)
	}
	// Nothing was stored.
	r = do(t, ts, "GET", "/fhir/Observation?_summary=count", "")
	if r.body["total"].(float64) != 0 {
		t.Errorf("$normalize stored something: %s", r.raw)
	}
}
