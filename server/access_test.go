package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/server"
	"github.com/fhirseal/fhirseal/store"
	"github.com/fhirseal/fhirseal/store/sqlite"
)

// world is a server holding the data of three patients, and tokens for
// each kind of caller. Every resource id starts with its patient's id
// ("p1-", "p2-", "p3-"), and each patient has a unique family name, so a
// response can be searched for data it must not hold.
type world struct {
	*testServer
	srv     *server.Server
	revoked *auth.MemoryRevocations
	tokens  map[string]string
}

const vitalSigns = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"

// Family names: finding one in a body means that patient's data leaked.
var family = map[string]string{"p1": "Alphason", "p2": "Betasdottir", "p3": "Gammaworth"}

// worldOpts change the server configuration of newWorld.
type worldOpts struct {
	consentDefault auth.Effect
	audit          bool
	wrap           func(store.Store) store.Store
}

func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "db"), sqlite.Options{Indexer: search.Extract})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hs := httptest.NewUnstartedServer(nil)
	w := &world{testServer: &testServer{Server: hs, base: "http://" + hs.Listener.Addr().String() + "/fhir"}, tokens: map[string]string{}}
	w.issuer, err = auth.LoadOrCreateIssuer(dir, w.base)
	if err != nil {
		t.Fatal(err)
	}
	w.revoked = auth.NewMemoryRevocations(nil)
	v, err := auth.NewVerifier(auth.VerifierConfig{Audience: w.base, Local: w.issuer, Revocations: w.revoked})
	if err != nil {
		t.Fatal(err)
	}
	w.token = w.mint(t, auth.MintRequest{Subject: "admin", Scope: "system/*.cruds", Admin: true})
	var s store.Store = st
	if o.wrap != nil {
		s = o.wrap(st)
	}
	w.srv = server.New(server.Config{Store: s, Auth: v, BaseURL: w.base, Version: "test", Issuer: w.issuer,
		ConsentDefault: o.consentDefault, Audit: o.audit, DefaultCount: 50, Ledger: st})
	hs.Config.Handler = w.srv
	hs.Start()
	t.Cleanup(hs.Close)

	for _, pid := range []string{"p1", "p2", "p3"} {
		w.put(t, "Patient/"+pid, `{"resourceType":"Patient","id":"`+pid+`","name":[{"family":"`+family[pid]+`"}]}`)
		w.put(t, "Observation/"+pid+"-vital", obsJSON(pid+"-vital", pid, "vital-signs", ""))
		w.put(t, "Observation/"+pid+"-lab", obsJSON(pid+"-lab", pid, "laboratory", ""))
		w.put(t, "Condition/"+pid+"-cond", `{"resourceType":"Condition","id":"`+pid+`-cond","subject":{"reference":"Patient/`+pid+`"},"code":{"text":"`+family[pid]+` condition"}}`)
	}
	// p3 also has restricted (R) data.
	w.put(t, "Observation/p3-secret", obsJSON("p3-secret", "p3", "social-history", `"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]},`))
	w.put(t, "Practitioner/dr1", `{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Doctor"}]}`)
	w.put(t, "Practitioner/dr2", `{"resourceType":"Practitioner","id":"dr2","name":[{"family":"Other"}]}`)
	w.put(t, "RelatedPerson/rp1", `{"resourceType":"RelatedPerson","id":"rp1","patient":{"reference":"Patient/p1"},"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"GUARD"}]}]}`)
	w.put(t, "RelatedPerson/rp2", `{"resourceType":"RelatedPerson","id":"rp2","patient":{"reference":"Patient/p2"},"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"FRND"}]}]}`)

	for name, r := range callers {
		w.tokens[name] = w.mint(t, r)
	}
	return w
}

// callers are the kinds of caller the tests act as.
var callers = map[string]auth.MintRequest{
	"patient":     {Subject: "p1-app", Scope: "patient/*.rs", Patient: "p1", FHIRUser: "Patient/p1", ClientID: "patient-app"},
	"patient2":    {Subject: "p2-app", Scope: "patient/*.rs", Patient: "p2", FHIRUser: "Patient/p2", ClientID: "patient-app"},
	"vitals":      {Subject: "p1-vitals", Scope: "patient/Observation.rs?category=" + vitalSigns, Patient: "p1", FHIRUser: "Patient/p1", ClientID: "vitals-app"},
	"patientw":    {Subject: "p1-writer", Scope: "patient/*.cruds", Patient: "p1", FHIRUser: "Patient/p1", ClientID: "patient-app"},
	"guardian":    {Subject: "rp1", Scope: "patient/*.rs", Patient: "p1", FHIRUser: "RelatedPerson/rp1", ClientID: "guardian-app"},
	"clinician":   {Subject: "dr1", Scope: "user/*.rs user/Observation.cu", FHIRUser: "Practitioner/dr1", ClientID: "ehr-ui", Purposes: []string{"TREAT"}},
	"clinician2":  {Subject: "dr2", Scope: "user/*.rs", FHIRUser: "Practitioner/dr2", ClientID: "ehr-ui", Purposes: []string{"TREAT"}},
	"emergency":   {Subject: "dr2-btg", Scope: "user/*.rs", FHIRUser: "Practitioner/dr2", ClientID: "ehr-ui", Purposes: []string{"BTG"}},
	"ehr":         {Subject: "ehr-backend", Scope: "system/*.cruds", ClientID: "ehr"},
	"hie":         {Subject: "hie-backend", Scope: "system/Patient.rs system/Observation.rs", ClientID: "hie"},
	"research":    {Subject: "research", Scope: "system/Observation.rs", ClientID: "research", Purposes: []string{"HRESCH"}},
	"nopatient":   {Subject: "broken", Scope: "patient/*.rs", ClientID: "broken"},
	"nofhiruser":  {Subject: "broken-user", Scope: "user/*.rs", ClientID: "broken"},
	"patientread": {Subject: "p1-reader", Scope: "patient/Observation.r", Patient: "p1", FHIRUser: "Patient/p1", ClientID: "patient-app"},
}

func obsJSON(id, pid, category, extra string) string {
	return `{"resourceType":"Observation","id":"` + id + `",` + extra + `"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"` + category + `"}]}],"code":{"text":"` + family[pid] + ` ` + category + `"},"subject":{"reference":"Patient/` + pid + `"}}`
}

func (w *world) put(t *testing.T, path, body string) {
	t.Helper()
	r := do(t, w.testServer, "PUT", "/fhir/"+path, body)
	if r.status != 200 && r.status != 201 {
		t.Fatalf("seed PUT %s: %d %s", path, r.status, r.raw)
	}
}

// as sends a request with the named caller's token.
func (w *world) as(t *testing.T, caller, method, path, body string, hdr ...string) resp {
	t.Helper()
	tok, ok := w.tokens[caller]
	if !ok {
		tok = caller // a raw token
	}
	return do(t, w.testServer, method, path, body, append([]string{"Authorization", "Bearer " + tok}, hdr...)...)
}

// leaks returns the names of the patients other than allowed whose data
// appears in the body.
func leaks(raw string, allowed ...string) []string {
	var out []string
	for pid, fam := range family {
		if contains(allowed, pid) {
			continue
		}
		if strings.Contains(raw, fam) || strings.Contains(raw, pid+"-") || strings.Contains(raw, "Patient/"+pid+`"`) {
			out = append(out, pid)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func consentJSON(id, pid, provision string, extra string) string {
	return `{"resourceType":"Consent","id":"` + id + `","status":"active",` + extra +
		`"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},` +
		`"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],` +
		`"patient":{"reference":"Patient/` + pid + `"},"dateTime":"2024-01-01",` +
		`"policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTIN"}]},` +
		`"provision":` + provision + `}`
}

const (
	actorDr1      = `"actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/dr1"}}]`
	classObs      = `"class":[{"system":"http://hl7.org/fhir/resource-types","code":"Observation"}]`
	classCond     = `"class":[{"system":"http://hl7.org/fhir/resource-types","code":"Condition"}]`
	denyDr1Obs    = `{"type":"permit","provision":[{"type":"deny",` + actorDr1 + `,` + classObs + `}]}`
	actionAccess  = `"action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"access"}]}]`
	permitDr1Only = `{"type":"deny","provision":[{"type":"permit",` + actorDr1 + `,` + classObs + `,` + actionAccess + `}]}`
)

func entryIDs(r resp) []string {
	var out []string
	entries, _ := r.body["entry"].([]any)
	for _, e := range entries {
		em, _ := e.(map[string]any)
		res, _ := em["resource"].(map[string]any)
		if res == nil {
			continue
		}
		if s, _ := em["search"].(map[string]any); s != nil && s["mode"] == "outcome" {
			continue
		}
		id, _ := res["id"].(string)
		out = append(out, res["resourceType"].(string)+"/"+id)
	}
	return out
}

// payload is what a response discloses: a Bundle's entries, or the body
// (links echo the request and say nothing about stored data).
func payload(r resp) string {
	if r.body["resourceType"] == "Bundle" {
		return mustJSON(r.body["entry"])
	}
	return r.raw
}

func total(r resp) int {
	f, ok := r.body["total"].(float64)
	if !ok {
		return -1
	}
	return int(f)
}

func TestPatientSearchIsPinned(t *testing.T) {
	w := newWorld(t, worldOpts{})
	cases := []struct {
		path  string
		want  []string
		total int
	}{
		{"/fhir/Observation", []string{"Observation/p1-lab", "Observation/p1-vital"}, 2},
		{"/fhir/Observation?subject=Patient/p2", nil, 0},
		{"/fhir/Observation?_id=p2-vital,p1-lab", []string{"Observation/p1-lab"}, 1},
		{"/fhir/Observation?_summary=count", nil, 2},
		{"/fhir/Observation?_total=accurate&_count=1", []string{"Observation/p1-vital"}, 2},
		{"/fhir/Patient", []string{"Patient/p1"}, 1},
		{"/fhir?_type=Observation,Condition", []string{"Condition/p1-cond", "Observation/p1-lab", "Observation/p1-vital"}, 3},
		{"/fhir/Observation?_include=Observation:subject", []string{"Observation/p1-lab", "Observation/p1-vital", "Patient/p1"}, 2},
		{"/fhir/Patient?_revinclude=Observation:subject&_id=p1,p2", []string{"Observation/p1-lab", "Observation/p1-vital", "Patient/p1"}, 1},
		{"/fhir/Observation?subject:Patient.name=" + family["p2"], nil, 0},
		{"/fhir/Observation?subject:Patient.name=" + family["p1"], []string{"Observation/p1-lab", "Observation/p1-vital"}, 2},
		{"/fhir/Patient?_has:Observation:subject:code:text=" + family["p2"], nil, 0},
		{"/fhir/Patient/p2/Observation", nil, 0},
		{"/fhir/Patient/p1/Observation", []string{"Observation/p1-lab", "Observation/p1-vital"}, 2},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := w.as(t, "patient", "GET", c.path, "")
			want(t, r, 200, c.path)
			got := entryIDs(r)
			if strings.Join(sorted(got), " ") != strings.Join(c.want, " ") {
				t.Errorf("entries = %v, want %v", sorted(got), c.want)
			}
			if c.total >= 0 && total(r) >= 0 && total(r) != c.total {
				t.Errorf("total = %d, want %d", total(r), c.total)
			}
			if l := leaks(payload(r), "p1"); len(l) > 0 {
				t.Errorf("data of %v in %s", l, r.raw)
			}
		})
	}
}

func TestGranularScopeSearch(t *testing.T) {
	w := newWorld(t, worldOpts{})
	r := w.as(t, "vitals", "GET", "/fhir/Observation", "")
	want(t, r, 200, "vitals search")
	if got := entryIDs(r); strings.Join(got, " ") != "Observation/p1-vital" {
		t.Errorf("entries = %v, want only Observation/p1-vital", got)
	}
	want(t, w.as(t, "vitals", "GET", "/fhir/Observation/p1-vital", ""), 200, "read own vital sign")
	want(t, w.as(t, "vitals", "GET", "/fhir/Observation/p1-lab", ""), 404, "read own lab result")
	r = w.as(t, "vitals", "GET", "/fhir/Observation?category=laboratory&_summary=count", "")
	want(t, r, 200, "count of labs")
	if total(r) != 0 {
		t.Errorf("count of labs = %d, want 0", total(r))
	}
	want(t, w.as(t, "vitals", "GET", "/fhir/Condition", ""), 403, "search another type")
}

func TestPagingLinkIsBoundToTheCaller(t *testing.T) {
	w := newWorld(t, worldOpts{})
	r := w.as(t, "clinician", "GET", "/fhir/Observation?_count=2", "")
	want(t, r, 200, "first page")
	next := link(r, "next")
	if next == "" {
		t.Fatal("no next link")
	}
	path := strings.TrimPrefix(next, w.URL)
	want(t, w.as(t, "clinician", "GET", path, ""), 200, "next page, same caller")
	r = w.as(t, "patient", "GET", path, "")
	want(t, r, 403, "next page replayed by another caller")
	if l := leaks(r.raw); len(l) > 0 {
		t.Errorf("replayed page shows data of %v", l)
	}
	// After revocation the link is dead too.
	w.revoked.RevokeSubject(context.Background(), w.issuer.URL(), "dr1", time.Now().Add(time.Second), time.Now().Add(time.Hour))
	want(t, w.as(t, "clinician", "GET", path, ""), 401, "next page after revocation")
}

func TestConsentEnforcement(t *testing.T) {
	w := newWorld(t, worldOpts{})
	// p1 denies dr1 Observations.
	w.put(t, "Consent/p1-consent", consentJSON("p1-consent", "p1", denyDr1Obs, ""))
	want(t, w.as(t, "clinician", "GET", "/fhir/Observation/p1-vital", ""), 404, "denied read")
	want(t, w.as(t, "clinician", "GET", "/fhir/Observation/p2-vital", ""), 200, "other patient's read")
	want(t, w.as(t, "clinician", "GET", "/fhir/Condition/p1-cond", ""), 200, "permitted type")
	want(t, w.as(t, "clinician2", "GET", "/fhir/Observation/p1-vital", ""), 200, "another practitioner")
	want(t, w.as(t, "patient", "GET", "/fhir/Observation/p1-vital", ""), 200, "the patient")
	r := w.as(t, "clinician", "GET", "/fhir/Observation?_total=accurate", "")
	want(t, r, 200, "search")
	for _, id := range entryIDs(r) {
		if strings.HasPrefix(id, "Observation/p1-") || id == "Observation/p3-secret" {
			t.Errorf("search returned %s", id)
		}
	}
	if total(r) != 4 { // p2's two, p3's two (not the restricted one)
		t.Errorf("total = %d, want 4: %v", total(r), entryIDs(r))
	}
	// Revocation: inactivating the Consent lifts the deny at once.
	w.put(t, "Consent/p1-consent", strings.Replace(consentJSON("p1-consent", "p1", denyDr1Obs, ""), `"active"`, `"inactive"`, 1))
	want(t, w.as(t, "clinician", "GET", "/fhir/Observation/p1-vital", ""), 200, "after inactivation")

	// Restricted data needs an explicit permit.
	want(t, w.as(t, "clinician", "GET", "/fhir/Observation/p3-secret", ""), 404, "restricted data")
	w.put(t, "Consent/p3-consent", consentJSON("p3-consent", "p3", `{"type":"permit","provision":[{"type":"permit",`+actorDr1+`,"securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}]}`, ""))
	want(t, w.as(t, "clinician", "GET", "/fhir/Observation/p3-secret", ""), 200, "restricted data with permit")
	want(t, w.as(t, "clinician2", "GET", "/fhir/Observation/p3-secret", ""), 404, "restricted data, someone else")
}

func TestConsentDefaultDeny(t *testing.T) {
	w := newWorld(t, worldOpts{consentDefault: auth.Deny})
	want(t, w.as(t, "clinician", "GET", "/fhir/Observation/p1-vital", ""), 404, "no consent, default deny")
	want(t, w.as(t, "clinician", "GET", "/fhir/Practitioner/dr2", ""), 200, "not patient data")
	want(t, w.as(t, "patient", "GET", "/fhir/Observation/p1-vital", ""), 200, "the patient's own")
	w.put(t, "Consent/p1-consent", consentJSON("p1-consent", "p1", permitDr1Only, ""))
	want(t, w.as(t, "clinician", "GET", "/fhir/Observation/p1-vital", ""), 200, "permitted")
	want(t, w.as(t, "clinician", "GET", "/fhir/Condition/p1-cond", ""), 404, "class not permitted")
	r := w.as(t, "clinician", "GET", "/fhir?_type=Observation,Condition,Practitioner&_total=accurate", "")
	want(t, r, 200, "search")
	got := sorted(entryIDs(r))
	wantIDs := []string{"Observation/p1-lab", "Observation/p1-vital", "Practitioner/dr1", "Practitioner/dr2"}
	if strings.Join(got, " ") != strings.Join(wantIDs, " ") || total(r) != 4 {
		t.Errorf("search = %v (total %d), want %v", got, total(r), wantIDs)
	}
}

func TestConsentToken(t *testing.T) {
	w := newWorld(t, worldOpts{consentDefault: auth.Deny})
	w.put(t, "Consent/p1-consent", consentJSON("p1-consent", "p1", permitDr1Only, ""))
	want(t, w.as(t, "clinician2", "POST", "/fhir/Consent/p1-consent/$token", ""), 404, "someone else asks")
	want(t, w.as(t, "patient2", "POST", "/fhir/Consent/p1-consent/$token", ""), 404, "another patient asks")
	r := w.as(t, "patient", "POST", "/fhir/Consent/p1-consent/$token", "")
	want(t, r, 200, "the patient asks")
	tok, scope := "", ""
	for _, p := range r.body["parameter"].([]any) {
		pm := p.(map[string]any)
		switch pm["name"] {
		case "access_token":
			tok = pm["valueString"].(string)
		case "scope":
			scope = pm["valueString"].(string)
		}
	}
	if scope != "patient/Observation.rs" {
		t.Errorf("scope = %q, want patient/Observation.rs", scope)
	}
	want(t, w.as(t, tok, "GET", "/fhir/Observation/p1-vital", ""), 200, "consent token reads")
	want(t, w.as(t, tok, "GET", "/fhir/Condition/p1-cond", ""), 403, "consent token, other type")
	want(t, w.as(t, tok, "GET", "/fhir/Observation/p2-vital", ""), 404, "consent token, other patient")
	want(t, w.as(t, tok, "PUT", "/fhir/Observation/p1-vital", obsJSON("p1-vital", "p1", "vital-signs", "")), 403, "consent token writes")
	want(t, w.as(t, tok, "POST", "/fhir/Consent/p1-consent/$token", ""), 403, "consent token mints")
	want(t, w.as(t, "guardian", "POST", "/fhir/Consent/p1-consent/$token", ""), 200, "guardian asks")
	// The patient revokes the Consent: the token stops at once.
	want(t, w.as(t, "patientw", "PUT", "/fhir/Consent/p1-consent", strings.Replace(consentJSON("p1-consent", "p1", permitDr1Only, ""), `"active"`, `"inactive"`, 1)), 200, "patient revokes")
	want(t, w.as(t, tok, "GET", "/fhir/Observation/p1-vital", ""), 401, "after revocation")
}

// failingAudit refuses to store AuditEvents.
type failingAudit struct{ store.Store }

func (s failingAudit) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(failingAuditTx{tx}) })
}

type failingAuditTx struct{ store.Tx }

func (tx failingAuditTx) Put(res *fhir.Node, ifMatch int64) (*store.Version, error) {
	if res.Type == "AuditEvent" {
		return nil, errAuditDown
	}
	return tx.Tx.Put(res, ifMatch)
}

func TestBreakGlass(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.put(t, "Consent/p1-consent", consentJSON("p1-consent", "p1", `{"type":"deny"}`, ""))
	want(t, w.as(t, "clinician2", "GET", "/fhir/Observation/p1-vital", ""), 404, "denied")
	want(t, w.as(t, "emergency", "GET", "/fhir/Observation/p1-vital", ""), 200, "break-glass read")
	r := w.as(t, "emergency", "GET", "/fhir/Observation?subject=Patient/p1", "")
	want(t, r, 200, "break-glass search")
	if len(entryIDs(r)) != 2 {
		t.Errorf("break-glass search = %v, want p1's two Observations", entryIDs(r))
	}
	// Each use left a security alert about p1, which the patient can read.
	r = w.as(t, "patient", "GET", "/fhir/AuditEvent?patient=Patient/p1&type=http://dicom.nema.org/resources/ontology/DCM|110113", "")
	want(t, r, 200, "patient reads the alerts")
	if n := len(entryIDs(r)); n != 2 {
		t.Errorf("%d security alerts, want 2: %s", n, r.raw)
	}
	want(t, w.as(t, "patient2", "GET", "/fhir/AuditEvent?patient=Patient/p1", ""), 200, "another patient")
	if n := len(entryIDs(w.as(t, "patient2", "GET", "/fhir/AuditEvent?patient=Patient/p1", ""))); n != 0 {
		t.Errorf("another patient sees %d of p1's audit events", n)
	}

	// If the alert cannot be stored, the read fails.
	w2 := newWorld(t, worldOpts{wrap: func(s store.Store) store.Store { return failingAudit{s} }})
	w2.put(t, "Consent/p1-consent", consentJSON("p1-consent", "p1", `{"type":"deny"}`, ""))
	r = w2.as(t, "emergency", "GET", "/fhir/Observation/p1-vital", "")
	want(t, r, 500, "break-glass without audit")
	if l := leaks(r.raw); len(l) > 0 {
		t.Errorf("failed break-glass read shows data of %v", l)
	}
}

func TestAccessAuditTrail(t *testing.T) {
	w := newWorld(t, worldOpts{audit: true})
	want(t, w.as(t, "clinician", "GET", "/fhir/Observation/p1-vital", ""), 200, "read")
	want(t, w.as(t, "clinician", "GET", "/fhir/Observation?subject=Patient/p1", ""), 200, "search")
	w.srv.FlushAudit()
	r := w.as(t, "patient", "GET", "/fhir/AuditEvent", "")
	want(t, r, 200, "patient's audit trail")
	who := 0
	for _, res := range entriesOf(r) {
		if strings.Contains(mustJSON(res), "Practitioner/dr1") {
			who++
		}
	}
	if who < 2 {
		t.Errorf("the patient sees %d events naming the clinician, want at least 2: %s", who, r.raw)
	}
	r = w.as(t, "patient2", "GET", "/fhir/AuditEvent", "")
	want(t, r, 200, "another patient's trail")
	if l := leaks(payload(r), "p2"); len(l) > 0 {
		t.Errorf("p2's audit trail shows %v", l)
	}
}

var errAuditDown = errors.New("audit store down")

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
