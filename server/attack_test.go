package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirseal/fhirseal/auth"
)

// attack is one attempt to reach data the caller may not have.
type attack struct {
	name   string
	caller string // a key of callers, or a raw token
	method string
	path   string
	body   string
	hdr    []string
	status int
	// allowed are the patients whose data may appear in the response;
	// nil for a caller not pinned to a patient, whose response must not
	// hold restricted (R-labelled) data.
	allowed []string
	// total, when not -1, is the exact Bundle total expected.
	total int
}

// kinds are the kinds of caller the attacker suite acts as.
var kinds = []string{"patient", "guardian", "clinician", "ehr", "hie", "research"}

func pinned(kind string) bool { return kind == "patient" || kind == "guardian" }

// TestAttacks runs the attacker suite: every case states the exact status
// expected and is checked for data of patients the caller may not see.
func TestAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("attacker suite")
	}
	w := newWorld(t, worldOpts{})
	var cases []attack
	cases = append(cases, tokenAttacks(t, w)...)
	cases = append(cases, readAttacks(w)...)
	cases = append(cases, searchAttacks(w)...)
	cases = append(cases, writeAttacks()...)
	n := 0
	for _, c := range cases {
		n++
		t.Run(c.caller+"/"+c.name, func(t *testing.T) { runAttack(t, w, c) })
	}
	// Paging links, revocation and consent semantics change state; they
	// run after the cases above.
	n += pagingAttacks(t, w)
	n += consentAttacks(t)
	t.Logf("%d attack cases", n)
	if n < 150 {
		t.Errorf("only %d attack cases, want at least 150", n)
	}
}

func runAttack(t *testing.T, w *world, c attack) {
	t.Helper()
	tok := c.caller
	if k, ok := w.tokens[c.caller]; ok {
		tok = k
	}
	hdr := append([]string{"Authorization", "Bearer " + tok}, c.hdr...)
	if tok == "" {
		hdr = []string{"Authorization", ""}
	}
	r := do(t, w.testServer, c.method, c.path, c.body, hdr...)
	if r.status != c.status {
		t.Fatalf("%s %s = %d, want %d: %.300s", c.method, c.path, r.status, c.status, r.raw)
	}
	if r.status >= 400 && r.body["resourceType"] != "OperationOutcome" {
		t.Errorf("error without OperationOutcome: %.200s", r.raw)
	}
	pl := payload(r)
	if c.allowed != nil {
		if l := leaks(pl, c.allowed...); len(l) > 0 {
			t.Errorf("data of %v in the response: %.400s", l, pl)
		}
	}
	if strings.Contains(pl, "p3-secret") || strings.Contains(pl, "social-history") {
		t.Errorf("restricted data in the response: %.400s", pl)
	}
	if c.total != -1 && total(r) != c.total {
		t.Errorf("total = %d, want %d: %.300s", total(r), c.total, pl)
	}
}

// tokenAttacks are forged, broken and stale tokens carrying each caller's
// claims: all answer 401 and show nothing.
func tokenAttacks(t *testing.T, w *world) []attack {
	other, err := auth.LoadOrCreateIssuer(t.TempDir(), w.base)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := auth.LoadOrCreateIssuer(t.TempDir(), "https://evil.example/issuer")
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var out []attack
	for _, kind := range kinds {
		r := callers[kind]
		r.Audience = w.base
		mint := func(iss *auth.Issuer, r auth.MintRequest, now time.Time) string {
			m, err := iss.Mint(r, now)
			if err != nil {
				t.Fatal(err)
			}
			return m.Token
		}
		valid := mint(w.issuer, r, time.Now())
		head, payloadPart, _ := strings.Cut(valid, ".")
		payloadPart, sig, _ := strings.Cut(payloadPart, ".")
		claims, _ := base64.RawURLEncoding.DecodeString(payloadPart)
		widened := strings.Replace(string(claims), `"scope":"`, `"scope":"system/*.cruds `, 1)
		widened = strings.Replace(widened, `"patient":"p1"`, `"patient":"p2"`, 1)
		tampered := head + "." + base64.RawURLEncoding.EncodeToString([]byte(widened)) + "." + sig
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + payloadPart + "."
		hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": w.issuer.URL(), "sub": r.Subject, "aud": w.base,
			"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "jti": "hs", "scope": "system/*.cruds"})
		hs.Header["kid"] = w.issuer.KeyID()
		hsTok, _ := hs.SignedString([]byte(w.issuer.PublicKey()))
		es := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": w.issuer.URL(), "sub": r.Subject, "aud": w.base,
			"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "jti": "es", "scope": r.Scope, "patient": r.Patient})
		es.Header["kid"] = w.issuer.KeyID()
		esTok, _ := es.SignedString(ec)
		wrongAud := r
		wrongAud.Audience = "https://other.example/fhir"
		revokedM, err := w.issuer.Mint(r, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		w.revoked.RevokeToken(context.Background(), w.issuer.URL(), revokedM.JTI, time.Now().Add(time.Hour))
		expired := r
		expired.Lifetime = time.Hour
		big := r
		big.Scope = r.Scope + strings.Repeat(" launch/patient", 1200)
		path := "/fhir/Observation/p1-vital"
		for _, f := range []struct{ name, tok string }{
			{"tampered claims", tampered},
			{"alg none", none},
			{"HS256 with the public key", hsTok},
			{"ES256 with a key of its own", esTok},
			{"signed by another key of the same issuer URL", mint(other, r, time.Now())},
			{"wrong issuer", mint(stranger, func() auth.MintRequest { x := r; return x }(), time.Now())},
			{"wrong audience", mint(w.issuer, wrongAud, time.Now())},
			{"expired", mint(w.issuer, expired, time.Now().Add(-3*time.Hour))},
			{"not yet valid", mint(w.issuer, expired, time.Now().Add(2*time.Hour))},
			{"revoked", revokedM.Token},
			{"oversized", mint(w.issuer, big, time.Now())},
		} {
			out = append(out, attack{name: "token " + f.name + " (" + kind + ")", caller: f.tok, method: "GET", path: path, status: 401, allowed: []string{}, total: -1})
		}
	}
	for _, f := range []struct{ name, hdr string }{
		{"no token", ""}, {"empty bearer", "Bearer "}, {"basic scheme", "Basic YWRtaW46YWRtaW4="},
		{"lower-case scheme", "bearer " + w.token}, {"one segment", "Bearer abc"}, {"two segments", "Bearer a.b"},
		{"four segments", "Bearer a.b.c.d"}, {"garbage base64", "Bearer !!!.???.***"},
	} {
		out = append(out, attack{name: f.name, caller: "none", method: "GET", path: "/fhir/Patient/p1", hdr: []string{"Authorization", f.hdr}, status: 401, allowed: []string{}, total: -1})
	}
	return out
}

// readAttacks aim direct reads, vreads, histories and ledger proofs at
// other patients' and restricted data.
func readAttacks(w *world) []attack {
	var out []attack
	for _, kind := range kinds {
		var allowed []string
		if pinned(kind) {
			allowed = []string{"p1"}
		}
		status := func(typ, pid string) int {
			switch {
			case (kind == "hie" && typ != "Patient" && typ != "Observation") || (kind == "research" && typ != "Observation"):
				return 403
			case pinned(kind) && pid != "p1":
				return 404
			}
			return 200
		}
		for _, tc := range []struct{ typ, id, pid string }{
			{"Patient", "p2", "p2"}, {"Observation", "p2-vital", "p2"}, {"Condition", "p2-cond", "p2"}, {"Observation", "p1-lab", "p1"},
		} {
			a := allowed
			ok := status(tc.typ, tc.pid)
			out = append(out,
				attack{name: "read " + tc.typ + "/" + tc.id, caller: kind, method: "GET", path: "/fhir/" + tc.typ + "/" + tc.id, status: ok, allowed: a, total: -1},
				attack{name: "vread " + tc.typ + "/" + tc.id, caller: kind, method: "GET", path: "/fhir/" + tc.typ + "/" + tc.id + "/_history/1", status: ok, allowed: a, total: -1},
				attack{name: "history " + tc.typ + "/" + tc.id, caller: kind, method: "GET", path: "/fhir/" + tc.typ + "/" + tc.id + "/_history", status: ok, allowed: a, total: -1})
		}
		// Restricted data: nobody here has a permit naming the label.
		const secret = 404
		out = append(out,
			attack{name: "read restricted", caller: kind, method: "GET", path: "/fhir/Observation/p3-secret", status: secret, allowed: allowed, total: -1},
			attack{name: "vread restricted", caller: kind, method: "GET", path: "/fhir/Observation/p3-secret/_history/1", status: secret, allowed: allowed, total: -1},
			attack{name: "ledger proof of restricted", caller: kind, method: "GET", path: "/fhir/Observation/p3-secret/_history/1/$ledger-proof", status: secret, allowed: allowed, total: -1},
		)
		if pinned(kind) {
			out = append(out, attack{name: "ledger proof of another patient", caller: kind, method: "GET", path: "/fhir/Observation/p2-vital/_history/1/$ledger-proof", status: 404, allowed: allowed, total: -1})
		}
	}
	return out
}

// searchAttacks try to find other patients' data, or its existence,
// through searches.
func searchAttacks(w *world) []attack {
	abs := url.QueryEscape(w.base + "/Patient/p2")
	var out []attack
	for _, kind := range []string{"patient", "guardian"} {
		a := []string{"p1"}
		for _, c := range []struct {
			name, method, path, body string
			status, total            int
		}{
			{"subject=Patient/p2", "GET", "/fhir/Observation?subject=Patient/p2", "", 200, 0},
			{"subject=p2", "GET", "/fhir/Observation?subject=p2", "", 200, 0},
			{"patient=p2", "GET", "/fhir/Observation?patient=p2", "", 200, 0},
			{"subject:Patient=p2", "GET", "/fhir/Observation?subject:Patient=p2", "", 200, 0},
			{"absolute subject", "GET", "/fhir/Observation?subject=" + abs, "", 200, 0},
			{"subject=p1,p2", "GET", "/fhir/Observation?subject=p1,p2", "", 200, 2},
			{"_id of another's", "GET", "/fhir/Observation?_id=p2-vital", "", 200, 0},
			{"_id:not", "GET", "/fhir/Observation?_id:not=p1-vital", "", 200, 1},
			{"code text oracle", "GET", "/fhir/Observation?code:text=" + family["p2"], "", 200, 0},
			{"no patient parameter", "GET", "/fhir/Observation", "", 200, 2},
			{"Condition without parameter", "GET", "/fhir/Condition", "", 200, 1},
			{"Patient without parameter", "GET", "/fhir/Patient", "", 200, 1},
			{"Patient by name", "GET", "/fhir/Patient?name=" + family["p2"], "", 200, 0},
			{"Patient by _id", "GET", "/fhir/Patient?_id=p2,p3", "", 200, 0},
			{"system search _type", "GET", "/fhir?_type=Observation,Condition,Patient", "", 200, 4},
			{"system search without _type", "GET", "/fhir?_count=100", "", 200, -1},
			{"compartment of another", "GET", "/fhir/Patient/p2/Observation", "", 200, 0},
			{"whole compartment of another", "GET", "/fhir/Patient/p2/*", "", 200, 0},
			{"POST _search", "POST", "/fhir/Observation/_search", "subject=Patient/p2", 200, 0},
			{"POST _search contradicting the URL", "POST", "/fhir/Observation/_search?subject=Patient/p1", "subject=Patient/p2", 200, 0},
			{"POST _search without parameters", "POST", "/fhir/Observation/_search", "", 200, 2},
			{"chain to another's name", "GET", "/fhir/Observation?subject:Patient.name=" + family["p2"], "", 200, 0},
			{"chain without type", "GET", "/fhir/Observation?subject.name=" + family["p2"], "", 200, 0},
			{"_has on another's data", "GET", "/fhir/Patient?_has:Observation:subject:code:text=" + family["p2"], "", 200, 0},
			{"_has on restricted data", "GET", "/fhir/Patient?_has:Observation:subject:code:text=social-history", "", 200, 0},
			{"_include subject of another's", "GET", "/fhir/Observation?_include=Observation:subject&subject=p2", "", 200, 0},
			{"_include all", "GET", "/fhir/Observation?_include=*", "", 200, 2},
			{"_include:iterate", "GET", "/fhir/Observation?_include:iterate=Observation:subject&_include=Observation:subject", "", 200, 2},
			{"_revinclude from another patient", "GET", "/fhir/Patient?_revinclude=Observation:subject&_id=p2", "", 200, 0},
			{"_revinclude:iterate", "GET", "/fhir/Patient?_revinclude:iterate=Observation:subject&_revinclude=Condition:subject", "", 200, 1},
			{"_summary=count oracle", "GET", "/fhir/Observation?subject=p2&_summary=count", "", 200, 0},
			{"_summary=count of everything", "GET", "/fhir/Observation?_summary=count", "", 200, 2},
			{"_total oracle", "GET", "/fhir/Condition?_total=accurate&subject=p2", "", 200, 0},
			{"AuditEvents of another", "GET", "/fhir/AuditEvent?patient=Patient/p2", "", 200, 0},
			{"_security oracle", "GET", "/fhir/Observation?_security=R", "", 200, 0},
			{"sort by subject", "GET", "/fhir/Observation?_sort=subject", "", 200, 2},
			{"type history", "GET", "/fhir/Observation/_history", "", 403, -1},
			{"system history", "GET", "/fhir/_history", "", 403, -1},
			{"batch read of another's", "POST", "/fhir", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation/p2-vital"}}]}`, 403, -1},
			{"batch search", "POST", "/fhir", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation?subject=p2"}}]}`, 403, -1},
		} {
			at := attack{name: c.name, caller: kind, method: c.method, path: c.path, body: c.body, status: c.status, allowed: a, total: c.total}
			if c.method == "POST" && strings.HasSuffix(strings.Split(c.path, "?")[0], "_search") {
				at.hdr = []string{"Content-Type", "application/x-www-form-urlencoded"}
			}
			out = append(out, at)
		}
	}
	// Callers not pinned to a patient: restricted data and scope limits.
	for _, kind := range []string{"clinician", "ehr"} {
		for _, c := range []struct {
			name, path    string
			status, total int
		}{
			{"restricted data by label", "/fhir/Observation?_security=R", 200, 0},
			{"count of p3's Observations", "/fhir/Observation?subject=p3&_summary=count", 200, 2},
			{"total of all Observations", "/fhir/Observation?_total=accurate", 200, 6},
			{"_has on restricted data", "/fhir/Patient?_has:Observation:subject:code:text=social-history", 200, 0},
			{"chain on restricted data", "/fhir/Patient?_has:Observation:subject:category=social-history", 200, 0},
			{"_revinclude restricted", "/fhir/Patient?_id=p3&_revinclude=Observation:subject", 200, 1},
			{"compartment of p3", "/fhir/Patient/p3/Observation", 200, 2},
			{"system search", "/fhir?_type=Observation&_total=accurate", 200, 6},
		} {
			out = append(out, attack{name: c.name, caller: kind, method: "GET", path: c.path, status: c.status, total: c.total})
		}
	}
	for _, c := range []struct {
		kind, name, path string
		status, total    int
	}{
		{"hie", "search a type out of scope", "/fhir/Condition", 403, -1},
		{"hie", "_type out of scope", "/fhir?_type=Condition", 403, -1},
		{"hie", "system search sees only its types", "/fhir?_total=accurate", 200, 9},
		{"hie", "_revinclude of a type out of scope", "/fhir/Patient?_id=p1&_revinclude=Condition:subject", 200, 1},
		{"hie", "_has on a type out of scope", "/fhir/Patient?_has:Condition:subject:code:text=condition", 200, 0},
		{"hie", "chain through a type out of scope", "/fhir/Observation?subject:Patient._has:Condition:subject:code:text=condition", 200, 0},
		{"hie", "type history", "/fhir/Condition/_history", 403, -1},
		{"research", "include a Patient", "/fhir/Observation?_include=Observation:subject&_total=accurate", 200, 6},
		{"research", "search Patients", "/fhir/Patient", 403, -1},
		{"research", "chain to Patient names", "/fhir/Observation?subject:Patient.name=" + family["p1"], 200, 0},
		{"research", "system search", "/fhir?_total=accurate", 200, 6},
	} {
		out = append(out, attack{name: c.name, caller: c.kind, method: "GET", path: c.path, status: c.status, total: c.total})
	}
	return out
}

// writeAttacks try to move data between patients and to write what
// only the server writes.
func writeAttacks() []attack {
	p2obs := obsJSON("p2-vital", "p2", "vital-signs", "")
	moved := obsJSON("p1-vital", "p2", "vital-signs", "")
	newForP2 := `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p2"}}`
	forged := consentJSON("forged", "p2", `{"type":"permit"}`, "")
	audit := `{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}}`
	var out []attack
	for _, c := range []struct {
		caller, name, method, path, body string
		status                           int
	}{
		{"patientw", "patch own Observation to another (JSON Patch)", "PATCH", "/fhir/Observation/p1-vital", `[{"op":"replace","path":"/subject/reference","value":"Patient/p2"}]`, 403},
		{"patientw", "overwrite another's Observation", "PUT", "/fhir/Observation/p2-vital", p2obs, 403},
		{"patientw", "move own Observation to another", "PUT", "/fhir/Observation/p1-vital", moved, 403},
		{"patientw", "create for another", "POST", "/fhir/Observation", newForP2, 403},
		{"patientw", "delete another's", "DELETE", "/fhir/Observation/p2-vital", "", 404},
		{"patientw", "forge a Consent for another", "POST", "/fhir/Consent", forged, 403},
		{"patientw", "forge a Consent for another by PUT", "PUT", "/fhir/Consent/forged", forged, 403},
		{"patientw", "write an AuditEvent", "POST", "/fhir/AuditEvent", audit, 403},
		{"patientw", "transaction writing for another", "POST", "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + newForP2 + `,"request":{"method":"POST","url":"Observation"}}]}`, 403},
		{"patientw", "conditional update", "PUT", "/fhir/Observation?subject=p2", p2obs, 403},
		{"patient", "read-only token writes", "PUT", "/fhir/Observation/p1-vital", obsJSON("p1-vital", "p1", "vital-signs", ""), 403},
		{"guardian", "guardian writes", "POST", "/fhir/Observation", newForP2, 403},
		{"hie", "HIE writes", "PUT", "/fhir/Observation/p2-vital", p2obs, 403},
		{"research", "research client writes", "DELETE", "/fhir/Observation/p2-vital", "", 403},
		{"ehr", "EHR writes an AuditEvent", "POST", "/fhir/AuditEvent", audit, 403},
		{"ehr", "EHR writes an AuditEvent in a transaction", "POST", "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + audit + `,"request":{"method":"POST","url":"AuditEvent"}}]}`, 403},
		{"clinician", "clinician deletes", "DELETE", "/fhir/Observation/p2-vital", "", 403},
		{"nopatient", "patient scope without patient claim", "GET", "/fhir/Observation", "", 403},
		{"nofhiruser", "user scope without fhirUser", "GET", "/fhir/Observation", "", 403},
		{"patientread", "read scope searches", "GET", "/fhir/Observation", "", 403},
	} {
		at := attack{name: c.name, caller: c.caller, method: c.method, path: c.path, body: c.body, status: c.status, allowed: []string{"p1"}, total: -1}
		if c.method == "PATCH" {
			at.hdr = []string{"Content-Type", "application/json-patch+json"}
		}
		out = append(out, at)
	}
	return out
}

// pagingAttacks replay paging links with other tokens and after
// revocation. It returns the number of cases.
func pagingAttacks(t *testing.T, w *world) int {
	n := 0
	for _, issuer := range []string{"clinician", "ehr", "patient"} {
		r := w.as(t, issuer, "GET", "/fhir/Observation?_count=1", "")
		next := strings.TrimPrefix(link(r, "next"), w.URL)
		if next == "" {
			t.Fatalf("%s: no next link", issuer)
		}
		for _, replayer := range kinds {
			if replayer == issuer {
				continue
			}
			n++
			t.Run("paging/"+issuer+"-link-replayed-by-"+replayer, func(t *testing.T) {
				runAttack(t, w, attack{name: "replay", caller: replayer, method: "GET", path: next, status: 403, allowed: []string{}, total: -1})
			})
		}
		n++
		t.Run("paging/"+issuer+"-link-forged-offset", func(t *testing.T) {
			u, _ := url.Parse(next)
			q := u.Query()
			tok := q.Get("_page")
			q.Set("_page", base64.RawURLEncoding.EncodeToString([]byte("s:0:0"))+tok[strings.Index(tok, "."):])
			runAttack(t, w, attack{name: "forged", caller: issuer, method: "GET", path: u.Path + "?" + q.Encode(), status: 403, allowed: []string{}, total: -1})
		})
	}
	// After revocation, the issuer's own link fails too.
	r := w.as(t, "clinician2", "GET", "/fhir/Observation?_count=1", "")
	next := strings.TrimPrefix(link(r, "next"), w.URL)
	w.revoked.RevokeSubject(context.Background(), w.issuer.URL(), callers["clinician2"].Subject, time.Now().Add(time.Second), time.Now().Add(time.Hour))
	n++
	t.Run("paging/link-after-revocation", func(t *testing.T) {
		runAttack(t, w, attack{name: "revoked", caller: "clinician2", method: "GET", path: next, status: 401, allowed: []string{}, total: -1})
	})
	return n
}

// consentAttacks check consent semantics end to end. It returns the
// number of cases.
func consentAttacks(t *testing.T) int {
	w := newWorld(t, worldOpts{})
	past := `"period":{"start":"2000-01-01","end":"2001-01-01"},`
	// p1: deny dr1 Observations, beside a permit of everything to dr1:
	// deny overrides permit.
	w.put(t, "Consent/p1-c", consentJSON("p1-c", "p1", `{"type":"permit","provision":[{"type":"permit",`+actorDr1+`},{"type":"deny",`+actorDr1+`,`+classObs+`}]}`, ""))
	// p2: deny everything, except dr1 may read (access only) Conditions.
	w.put(t, "Consent/p2-c", consentJSON("p2-c", "p2", `{"type":"deny","provision":[{"type":"permit",`+actorDr1+`,`+classCond+`,`+actionAccess+`}]}`, ""))
	// p3: a deny-all that expired, and an inactive deny-all.
	w.put(t, "Consent/p3-c", consentJSON("p3-c", "p3", strings.Replace(`{"type":"deny"}`, `{`, `{`+past, 1), ""))
	w.put(t, "Consent/p3-d", strings.Replace(consentJSON("p3-d", "p3", `{"type":"deny"}`, ""), `"active"`, `"inactive"`, 1))
	cases := []attack{
		{name: "deny overrides permit", caller: "clinician", method: "GET", path: "/fhir/Observation/p1-vital", status: 404, allowed: []string{}, total: -1},
		{name: "permitted sibling", caller: "clinician", method: "GET", path: "/fhir/Condition/p1-cond", status: 200, allowed: []string{"p1"}, total: -1},
		{name: "deny overrides permit in search", caller: "clinician", method: "GET", path: "/fhir/Observation?subject=p1&_total=accurate", status: 200, allowed: []string{}, total: 0},
		{name: "nested exception permits", caller: "clinician", method: "GET", path: "/fhir/Condition/p2-cond", status: 200, allowed: []string{"p2"}, total: -1},
		{name: "consent-denied data in a batch search", caller: "clinician", method: "POST", path: "/fhir", body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation?subject=p1"}},{"request":{"method":"GET","url":"Observation/p1-vital"}}]}`, status: 200, allowed: []string{}, total: -1},
		{name: "nested exception is narrow", caller: "clinician", method: "GET", path: "/fhir/Observation/p2-vital", status: 404, allowed: []string{}, total: -1},
		{name: "nested exception in search", caller: "clinician", method: "GET", path: "/fhir/Condition?subject=p2&_total=accurate", status: 200, allowed: []string{"p2"}, total: 1},
		{name: "nested exception in search, other type", caller: "clinician", method: "GET", path: "/fhir/Observation?subject=p2&_total=accurate", status: 200, allowed: []string{}, total: 0},
		{name: "consent-denied data in a system search", caller: "clinician", method: "GET", path: "/fhir?_type=Condition,Observation&_total=accurate", status: 200, allowed: []string{"p1", "p2", "p3"}, total: 5},
		{name: "exception names one actor", caller: "clinician2", method: "GET", path: "/fhir/Condition/p2-cond", status: 404, allowed: []string{}, total: -1},
		{name: "read-only grant attempting a write", caller: "clinician", method: "POST", path: "/fhir/Observation", body: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p2"}}`, status: 403, allowed: []string{}, total: -1},
		{name: "expired consent does not apply", caller: "clinician2", method: "GET", path: "/fhir/Observation/p3-vital", status: 200, allowed: []string{"p3"}, total: -1},
		{name: "inactive consent does not apply", caller: "clinician2", method: "GET", path: "/fhir/Condition/p3-cond", status: 200, allowed: []string{"p3"}, total: -1},
		{name: "patient is never restricted", caller: "patient2", method: "GET", path: "/fhir/Observation/p2-vital", status: 200, allowed: []string{"p2"}, total: -1},
		{name: "break-glass overrides", caller: "emergency", method: "GET", path: "/fhir/Observation/p2-vital", status: 200, allowed: []string{"p2"}, total: -1},
		{name: "patient cannot write another's Consent", caller: "patientw", method: "PUT", path: "/fhir/Consent/p2-c", body: consentJSON("p2-c", "p2", `{"type":"permit"}`, ""), status: 403, allowed: []string{"p1"}, total: -1},
		{name: "EHR cannot lift a consent deny", caller: "ehr", method: "PUT", path: "/fhir/Consent/p2-c", body: consentJSON("p2-c", "p2", `{"type":"permit"}`, ""), status: 403, allowed: []string{}, total: -1},
		{name: "consent token for another's Consent", caller: "patient", method: "POST", path: "/fhir/Consent/p2-c/$token", status: 404, allowed: []string{}, total: -1},
		{name: "guardian of another patient", caller: "guardian", method: "POST", path: "/fhir/Consent/p2-c/$token", status: 404, allowed: []string{}, total: -1},
	}
	for _, c := range cases {
		t.Run("consent/"+c.name, func(t *testing.T) { runAttack(t, w, c) })
	}
	return len(cases)
}
