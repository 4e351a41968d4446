package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/normalize"
	"github.com/fhirseal/fhirseal/server"
	"github.com/fhirseal/fhirseal/store"
)

// The example source profiles of fhir/normalize.
const profileDir = "../fhir/normalize/testdata/profiles"

// Sources as the example profiles name them (meta.source, Provenance.agent).
const (
	acmeSource      = "https://ehr.acme.example/fhir"
	northwindSource = "http://fhir.northwind.example/r4"
	harbourSource   = "https://fhir.harbour.example/R4"
)

// newProfileServer is newServer with the example source profiles loaded.
// It returns the store too, for what the API does not show (ledger
// indices of resources the server wrote itself).
func newProfileServer(t *testing.T, wrap func(store.Store) store.Store) (*testServer, store.Store) {
	t.Helper()
	profiles, err := normalize.LoadProfiles(profileDir)
	if err != nil {
		t.Fatal(err)
	}
	var st store.Store
	ts := newServerWith(t, func(cfg *server.Config) {
		if wrap != nil {
			cfg.Store = wrap(cfg.Store)
		}
		st = cfg.Store
		cfg.Normalizer = normalize.NewNormalizer(profiles)
	})
	return ts, st
}

// clientToken mints a non-administrator system token for a client_id.
func clientToken(t *testing.T, ts *testServer, clientID string) string {
	t.Helper()
	return "Bearer " + ts.mint(t, auth.MintRequest{Subject: clientID + "-feed", Scope: "system/*.cruds", ClientID: clientID})
}

func metaSource(res map[string]any) string {
	meta, _ := res["meta"].(map[string]any)
	s, _ := meta["source"].(string)
	return s
}

// provenancesOf returns the Provenances targeting ref (any version) whose
// meta.source is source.
func provenancesOf(t *testing.T, ts *testServer, ref, source string) []map[string]any {
	t.Helper()
	r := do(t, ts, "GET", "/fhir/Provenance?_count=100&target="+url.QueryEscape(ref), "", "Prefer", "handling=strict")
	want(t, r, 200, "search Provenance")
	var out []map[string]any
	for _, e := range entriesOf(r) {
		if metaSource(e) == source {
			out = append(out, e)
		}
	}
	return out
}

func entriesOf(r resp) []map[string]any {
	var out []map[string]any
	entries, _ := r.body["entry"].([]any)
	for _, e := range entries {
		if res, ok := e.(map[string]any)["resource"].(map[string]any); ok {
			out = append(out, res)
		}
	}
	return out
}

// changePaths lists the paths of a normalisation Provenance's changes.
func changePaths(prov map[string]any) []string {
	var paths []string
	exts, _ := prov["extension"].([]any)
	for _, x := range exts {
		x := x.(map[string]any)
		if x["url"] != normalize.ChangeExtension {
			continue
		}
		for _, sub := range x["extension"].([]any) {
			sub := sub.(map[string]any)
			if sub["url"] == "path" {
				paths = append(paths, sub["valueString"].(string))
			}
		}
	}
	return paths
}

func provenanceCount(t *testing.T, ts *testServer) int {
	t.Helper()
	r := do(t, ts, "GET", "/fhir/Provenance?_summary=count", "")
	want(t, r, 200, "count Provenance")
	return int(r.body["total"].(float64))
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func sameStrings(a, b []string) bool {
	return strings.Join(sorted(a), "\n") == strings.Join(sorted(b), "\n")
}

// An ACME laboratory result: its LOINC compendium OID, a free-text unit
// code without a system, a reference back to ACME's server, a local time
// and an instant with an offset.
const acmeGlucose = `{"resourceType":"Observation","status":"final",
 "code":{"coding":[{"system":"urn:oid:2.16.840.1.113883.3.9999.1","code":"2339-0","display":"Glucose"}]},
 "subject":{"reference":"https://ehr.acme.example/fhir/Patient/p1"},
 "effectiveDateTime":"2024-01-15T08:30:00","issued":"2024-01-15T09:00:00.120-06:00",
 "valueQuantity":{"value":95,"unit":"mg/dl","code":"mg/dl"}}`

// acmeGlucoseCanonical is acmeGlucose as the exchange stores it.
const acmeGlucoseCanonical = `{"resourceType":"Observation","status":"final",
 "code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose"}]},
 "subject":{"reference":"Patient/p1"},
 "effectiveDateTime":"2024-01-15T08:30:00-06:00","issued":"2024-01-15T15:00:00.120Z",
 "valueQuantity":{"value":95,"unit":"mg/dl","system":"http://unitsofmeasure.org","code":"mg/dL"}}`

var acmeGlucoseChanges = []string{
	"Observation.code.coding[0].system",
	"Observation.value.ofType(Quantity).system",
	"Observation.value.ofType(Quantity).code",
	"Observation.subject.reference",
	"Observation.effective.ofType(dateTime)",
	"Observation.issued",
}

// TestCreateNormalizesDialect posts a resource in ACME's dialect with
// ACME's client_id: it is stored canonical, meta.source names ACME and the
// request, and exactly one Provenance of the version lists exactly the
// changed paths, written in the same store transaction (the next ledger
// leaf).
func TestCreateNormalizesDialect(t *testing.T) {
	ts, st := newProfileServer(t, nil)
	acme := clientToken(t, ts, "acme-ehr")
	r := do(t, ts, "POST", "/fhir/Observation", acmeGlucose, "Authorization", acme)
	want(t, r, 201, "create")
	id := r.body["id"].(string)
	reqID := r.header.Get("X-Request-Id")
	obsIndex, err := strconv.ParseInt(r.header.Get("X-Ledger-Index"), 10, 64)
	if err != nil {
		t.Fatalf("X-Ledger-Index = %q", r.header.Get("X-Ledger-Index"))
	}

	got := do(t, ts, "GET", "/fhir/Observation/"+id, "")
	want(t, got, 200, "read")
	back := decodeExact(t, []byte(got.raw))
	if src := metaSource(back); src != acmeSource+"#"+reqID {
		t.Errorf("meta.source = %q, want %q", src, acmeSource+"#"+reqID)
	}
	if !sameApartFromMeta(decodeExact(t, []byte(acmeGlucoseCanonical)), back, id) {
		t.Errorf("stored %s\nwant the canonical form %s", got.raw, acmeGlucoseCanonical)
	}

	provs := provenancesOf(t, ts, "Observation/"+id, ts.base+"#"+reqID)
	if len(provs) != 1 || provenanceCount(t, ts) != 1 {
		t.Fatalf("%d Provenances of the write (%d in all), want 1", len(provs), provenanceCount(t, ts))
	}
	p := provs[0]
	if tgt := p["target"].([]any)[0].(map[string]any)["reference"]; tgt != "Observation/"+id+"/_history/1" {
		t.Errorf("Provenance.target = %v, want the written version", tgt)
	}
	who := p["agent"].([]any)[0].(map[string]any)["who"].(map[string]any)["identifier"].(map[string]any)["value"]
	if who != acmeSource {
		t.Errorf("Provenance.agent.who = %v, want %s", who, acmeSource)
	}
	sum := sha256.Sum256([]byte(acmeGlucose))
	what := p["entity"].([]any)[0].(map[string]any)["what"].(map[string]any)["identifier"].(map[string]any)["value"]
	if what != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("Provenance.entity = %v, want the hash of the bytes sent", what)
	}
	if paths := changePaths(p); !sameStrings(paths, acmeGlucoseChanges) {
		t.Errorf("Provenance lists %q, want %q", paths, acmeGlucoseChanges)
	}

	// Both versions are sealed, one right after the other: the same
	// transaction wrote them.
	pv, err := st.Read(context.Background(), "Provenance", p["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if pv.LedgerIndex != obsIndex+1 {
		t.Errorf("ledger indices: Observation %d, Provenance %d; want consecutive leaves", obsIndex, pv.LedgerIndex)
	}
}

// TestCanonicalWriteRecordsNoProvenance: a resource that is already
// canonical for its source is stored as sent (with meta.source), and no
// Provenance is written; so is the canonical form read back and written
// again.
func TestCanonicalWriteRecordsNoProvenance(t *testing.T) {
	ts, _ := newProfileServer(t, nil)
	acme := clientToken(t, ts, "acme-ehr")
	r := do(t, ts, "POST", "/fhir/Observation", acmeGlucoseCanonical, "Authorization", acme)
	want(t, r, 201, "create canonical")
	id := r.body["id"].(string)
	if src := metaSource(r.body); src != acmeSource+"#"+r.header.Get("X-Request-Id") {
		t.Errorf("meta.source = %q", src)
	}
	if !sameApartFromMeta(decodeExact(t, []byte(acmeGlucoseCanonical)), decodeExact(t, []byte(r.raw)), id) {
		t.Errorf("a canonical resource was changed: %s", r.raw)
	}
	if n := provenanceCount(t, ts); n != 0 {
		t.Fatalf("%d Provenances after a canonical write, want 0", n)
	}

	// A dialect write makes one; writing back what was stored makes none.
	r = do(t, ts, "POST", "/fhir/Observation", acmeGlucose, "Authorization", acme)
	want(t, r, 201, "create dialect")
	if n := provenanceCount(t, ts); n != 1 {
		t.Fatalf("%d Provenances after a dialect write, want 1", n)
	}
	id = r.body["id"].(string)
	r = do(t, ts, "PUT", "/fhir/Observation/"+id, r.raw, "Authorization", acme)
	want(t, r, 200, "update with the stored form")
	if n := provenanceCount(t, ts); n != 1 {
		t.Errorf("%d Provenances after writing the canonical form back, want still 1", n)
	}
	// A client without a profile gets the default one.
	r = do(t, ts, "POST", "/fhir/Patient", patientJSON)
	want(t, r, 201, "create without a profile")
	if src := metaSource(r.body); src != normalize.DefaultSource+"#"+r.header.Get("X-Request-Id") {
		t.Errorf("meta.source = %q, want the default source", src)
	}
	if n := provenanceCount(t, ts); n != 1 {
		t.Errorf("%d Provenances, want still 1", n)
	}
}

// TestSourceHeader: administrators may name the profile of a write;
// anyone else naming one, or a name without a profile, is refused.
func TestSourceHeader(t *testing.T) {
	ts, _ := newProfileServer(t, nil)
	acme := clientToken(t, ts, "acme-ehr")
	const nw = `{"resourceType":"Patient","gender":"M","birthDate":"1970-01-01"}`
	want(t, do(t, ts, "POST", "/fhir/Patient", nw, "Authorization", acme, server.SourceHeader, "northwind-clinic"), 403, "header from a non-administrator")
	want(t, do(t, ts, "POST", "/fhir/Patient", nw, server.SourceHeader, "no-such-source"), 400, "unknown source")
	// Without the header, "M" is no gender for the default profile.
	want(t, do(t, ts, "POST", "/fhir/Patient", nw), 400, "gender M without a profile")
	r := do(t, ts, "POST", "/fhir/Patient", nw, server.SourceHeader, "northwind-clinic")
	want(t, r, 201, "administrator naming northwind-clinic")
	if r.body["gender"] != "male" || metaSource(r.body) != northwindSource+"#"+r.header.Get("X-Request-Id") {
		t.Errorf("stored %s", r.raw)
	}
	// The preview takes the header too.
	r = do(t, ts, "POST", "/fhir/Patient/$normalize", nw, server.SourceHeader, "northwind-clinic")
	want(t, r, 200, "$normalize with the header")
	if !strings.Contains(r.raw, `"gender":"male"`) {
		t.Errorf("$normalize = %s", r.raw)
	}
	want(t, do(t, ts, "POST", "/fhir/Patient/$normalize?source=northwind-clinic", nw, "Authorization", acme), 403, "?source= from a non-administrator")
}

// TestBundlePatchAndConditionalWritesNormalized: transaction and batch
// entries, conditional creates and updates, and the result of a JSON Patch
// are normalised like a plain create, each with its own Provenance.
func TestBundlePatchAndConditionalWritesNormalized(t *testing.T) {
	ts, _ := newProfileServer(t, nil)
	acme := clientToken(t, ts, "acme-ehr")

	// A transaction: the Patient's fullUrl is an absolute URL at ACME's
	// base, and the Observation refers to it that way; normalisation makes
	// the reference local and the transaction points it at the new id.
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"https://ehr.acme.example/fhir/Patient/local-7","resource":{"resourceType":"Patient","identifier":[{"system":"urn:acme:mrn","value":"MRN-7"}]},"request":{"method":"POST","url":"Patient"}},
	 {"fullUrl":"urn:uuid:0d2a4e6c-3b5f-4f7a-9c1e-2b4d6f8a0c2e","resource":` + acmeGlucose + `,"request":{"method":"POST","url":"Observation"}}]}`
	tx = strings.Replace(tx, "https://ehr.acme.example/fhir/Patient/p1", "https://ehr.acme.example/fhir/Patient/local-7", 1)
	r := do(t, ts, "POST", "/fhir", tx, "Authorization", acme)
	want(t, r, 200, "transaction")
	entries := r.body["entry"].([]any)
	loc := func(i int) string {
		return entries[i].(map[string]any)["response"].(map[string]any)["location"].(string)
	}
	patientRef := strings.Join(strings.Split(loc(0), "/")[:2], "/")
	obsRef := strings.Join(strings.Split(loc(1), "/")[:2], "/")
	pat := do(t, ts, "GET", "/fhir/"+patientRef, "")
	ident := pat.body["identifier"].([]any)[0].(map[string]any)
	if ident["system"] != "urn:oid:1.2.36.146.595.217.0.1" || ident["type"] == nil {
		t.Errorf("transaction Patient stored as %s", pat.raw)
	}
	obs := do(t, ts, "GET", "/fhir/"+obsRef, "")
	if ref := obs.body["subject"].(map[string]any)["reference"]; ref != patientRef {
		t.Errorf("Observation.subject = %v, want %s", ref, patientRef)
	}
	txReq := r.header.Get("X-Request-Id")
	for _, c := range []struct {
		ref   string
		paths []string
	}{
		{patientRef, []string{"Patient.identifier[0].system", "Patient.identifier[0].type"}},
		{obsRef, acmeGlucoseChanges},
	} {
		provs := provenancesOf(t, ts, c.ref, ts.base+"#"+txReq)
		if len(provs) != 1 {
			t.Errorf("%s: %d Provenances, want 1", c.ref, len(provs))
			continue
		}
		if got := changePaths(provs[0]); !sameStrings(got, c.paths) {
			t.Errorf("%s: Provenance lists %q, want %q", c.ref, got, c.paths)
		}
		if src := metaSource(do(t, ts, "GET", "/fhir/"+c.ref, "").body); src != acmeSource+"#"+txReq {
			t.Errorf("%s: meta.source = %q", c.ref, src)
		}
	}

	// A batch: each entry on its own.
	batch := `{"resourceType":"Bundle","type":"batch","entry":[
	 {"resource":{"resourceType":"Patient","identifier":[{"system":"urn:acme:legacy-mrn","value":"L-1"}]},"request":{"method":"PUT","url":"Patient/batch-1"}},
	 {"resource":` + acmeGlucoseCanonical + `,"request":{"method":"POST","url":"Observation"}}]}`
	r = do(t, ts, "POST", "/fhir", batch, "Authorization", acme)
	want(t, r, 200, "batch")
	b1 := do(t, ts, "GET", "/fhir/Patient/batch-1", "")
	if sys := b1.body["identifier"].([]any)[0].(map[string]any)["system"]; sys != "http://acmehealthcare/org/mrns" {
		t.Errorf("batch Patient identifier system = %v", sys)
	}
	if n := len(provenancesOf(t, ts, "Patient/batch-1", ts.base+"#"+r.header.Get("X-Request-Id"))); n != 1 {
		t.Errorf("batch Patient: %d Provenances, want 1", n)
	}
	if n := provenanceCount(t, ts); n != 3 {
		t.Errorf("%d Provenances after the batch, want 3 (its canonical Observation needs none)", n)
	}

	// JSON Patch: the patched result is normalised.
	patch := `[{"op":"add","path":"/code/coding/-","value":{"system":"urn:oid:2.16.840.1.113883.6.96","code":"33747003"}}]`
	r = doPatch(t, ts, "/fhir/"+obsRef, patch, acme)
	want(t, r, 200, "patch")
	codings := r.body["code"].(map[string]any)["coding"].([]any)
	if sys := codings[len(codings)-1].(map[string]any)["system"]; sys != "http://snomed.info/sct" {
		t.Errorf("patched coding system = %v", sys)
	}
	provs := provenancesOf(t, ts, obsRef, ts.base+"#"+r.header.Get("X-Request-Id"))
	if len(provs) != 1 || !sameStrings(changePaths(provs[0]), []string{"Observation.code.coding[1].system"}) {
		t.Errorf("patch Provenances = %v", provs)
	} else if tgt := provs[0]["target"].([]any)[0].(map[string]any)["reference"]; tgt != obsRef+"/_history/2" {
		t.Errorf("patch Provenance.target = %v", tgt)
	}

	// Conditional create (no match) and conditional update.
	pat2 := `{"resourceType":"Patient","identifier":[{"system":"urn:acme:mrn","value":"MRN-8"}]}`
	r = do(t, ts, "POST", "/fhir/Patient", pat2, "If-None-Exist", "identifier=urn:oid:1.2.36.146.595.217.0.1|MRN-8")
	want(t, r, 201, "conditional create")
	// The administrator names ACME's profile; a second conditional create
	// finds the canonical identifier and writes nothing.
	r = do(t, ts, "POST", "/fhir/Patient", pat2, server.SourceHeader, "acme-ehr", "If-None-Exist", "identifier=urn:oid:1.2.36.146.595.217.0.1|MRN-8")
	want(t, r, 201, "conditional create with ACME's profile")
	id8 := r.body["id"].(string)
	r = do(t, ts, "POST", "/fhir/Patient", pat2, server.SourceHeader, "acme-ehr", "If-None-Exist", "identifier=urn:oid:1.2.36.146.595.217.0.1|MRN-8")
	want(t, r, 200, "conditional create that matches")
	upd := `{"resourceType":"Patient","identifier":[{"system":"urn:acme:mrn","value":"MRN-8"}],"gender":"female"}`
	r = do(t, ts, "PUT", "/fhir/Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|MRN-8", upd, "Authorization", acme)
	want(t, r, 200, "conditional update")
	if r.body["id"] != id8 || r.body["identifier"].([]any)[0].(map[string]any)["system"] != "urn:oid:1.2.36.146.595.217.0.1" {
		t.Errorf("conditional update stored %s", r.raw)
	}
	if n := len(provenancesOf(t, ts, "Patient/"+id8, ts.base+"#"+r.header.Get("X-Request-Id"))); n != 1 {
		t.Errorf("conditional update: %d Provenances, want 1", n)
	}
}

func doPatch(t *testing.T, ts *testServer, path, patch, token string) resp {
	t.Helper()
	r := do(t, ts, "PATCH", path, patch, "Authorization", token, "Content-Type", "application/json-patch+json")
	return r
}

// TestProvenanceCommitsWithTheWrite: when the Provenance cannot be
// stored, the normalised resource is not stored either.
func TestProvenanceCommitsWithTheWrite(t *testing.T) {
	ts, _ := newProfileServer(t, func(s store.Store) store.Store { return noProvenance{s} })
	acme := clientToken(t, ts, "acme-ehr")
	want(t, do(t, ts, "POST", "/fhir/Observation", acmeGlucose, "Authorization", acme), 500, "create whose Provenance fails")
	r := do(t, ts, "GET", "/fhir/Observation?_summary=count", "")
	if r.body["total"].(float64) != 0 {
		t.Errorf("the Observation was stored without its Provenance: %s", r.raw)
	}
	// A canonical write needs no Provenance and succeeds.
	want(t, do(t, ts, "POST", "/fhir/Observation", acmeGlucoseCanonical, "Authorization", acme), 201, "canonical create")
}

// noProvenance is a store whose transactions refuse to store Provenances.
type noProvenance struct{ store.Store }

func (s noProvenance) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(noProvenanceTx{tx}) })
}

type noProvenanceTx struct{ store.Tx }

func (tx noProvenanceTx) Put(res *fhir.Node, ifMatch int64) (*store.Version, error) {
	if res.Type == "Provenance" {
		return nil, errors.New("no room for Provenance")
	}
	return tx.Tx.Put(res, ifMatch)
}

// TestSearchFindsEveryDialect sends the same kinds of data in the dialect
// of each example source (ACME through a transaction and creates,
// Northwind through a batch, Harbour Health through updates by an
// administrator naming its profile), then searches by the canonical code,
// unit and identifier: every source's data is found, and nothing is found
// under the dialect spellings.
func TestSearchFindsEveryDialect(t *testing.T) {
	ts, _ := newProfileServer(t, nil)
	acme := clientToken(t, ts, "acme-ehr")
	northwind := clientToken(t, ts, "northwind-clinic")

	// ACME: MRNs in its own namespace, LOINC under its compendium OID and
	// the LOINC OID, unit codes without a system, weights in pounds.
	want(t, do(t, ts, "POST", "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":{"resourceType":"Patient","id":"acme-1","identifier":[{"system":"urn:acme:mrn","value":"MRN-A"}]},"request":{"method":"PUT","url":"Patient/acme-1"}}]}`,
		"Authorization", acme), 200, "ACME transaction")
	want(t, do(t, ts, "POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final",
	 "code":{"coding":[{"system":"urn:oid:2.16.840.1.113883.3.9999.1","code":"2339-0"}]},
	 "subject":{"reference":"https://ehr.acme.example/fhir/Patient/acme-1"},"effectiveDateTime":"2024-01-15T08:30:00",
	 "valueQuantity":{"value":95,"unit":"mg/dl","code":"mg/dl"}}`, "Authorization", acme), 201, "ACME glucose")
	want(t, do(t, ts, "POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final",
	 "code":{"coding":[{"system":"urn:oid:2.16.840.1.113883.6.1","code":"29463-7"}]},
	 "subject":{"reference":"https://ehr.acme.example/fhir/Patient/acme-1"},
	 "valueQuantity":{"value":154.32,"unit":"lb","system":"http://unitsofmeasure.org","code":"[lb_av]"}}`, "Authorization", acme), 201, "ACME weight")

	// Northwind: bare code system names, units as free text, upper-case
	// statuses, one-letter genders, vendor extensions.
	r := do(t, ts, "POST", "/fhir", `{"resourceType":"Bundle","type":"batch","entry":[
	 {"resource":{"resourceType":"Patient","id":"nw-1","gender":"F","identifier":[{"system":"urn:oid:1.2.36.146.595.217.0.1","value":"MRN-N"}],
	   "extension":[{"url":"http://northwind.example/fhir/StructureDefinition/portal-user","valueBoolean":true}]},"request":{"method":"PUT","url":"Patient/nw-1"}},
	 {"resource":{"resourceType":"Observation","status":"FINAL","code":{"coding":[{"system":"LN","code":"2339-0"}]},
	   "subject":{"reference":"http://fhir.northwind.example/r4/Patient/nw-1"},"valueQuantity":{"value":101,"unit":"mg/dl"}},"request":{"method":"POST","url":"Observation"}},
	 {"resource":{"resourceType":"Observation","status":"FINAL","code":{"coding":[{"system":"NWLAB","code":"29463-7"}]},
	   "subject":{"reference":"http://fhir.northwind.example/r4/Patient/nw-1"},"valueQuantity":{"value":90,"unit":"kg"}},"request":{"method":"POST","url":"Observation"}}]}`,
		"Authorization", northwind)
	want(t, r, 200, "Northwind batch")
	for i, e := range r.body["entry"].([]any) {
		if st := e.(map[string]any)["response"].(map[string]any)["status"].(string); !strings.HasPrefix(st, "201") {
			t.Fatalf("Northwind batch entry %d: %s: %s", i, st, r.raw)
		}
	}

	// Harbour Health, loaded by an administrator: variant LOINC URLs, UCUM
	// codes in the wrong case, local times in Sydney, its own patient
	// number namespace.
	hh := []string{server.SourceHeader, "harbour-health"}
	want(t, do(t, ts, "PUT", "/fhir/Patient/harbour-1", `{"resourceType":"Patient","id":"harbour-1","identifier":[{"system":"urn:harbour:urn","value":"MRN-H"}]}`, hh...), 201, "Harbour patient")
	want(t, do(t, ts, "PUT", "/fhir/Observation/harbour-glucose", `{"resourceType":"Observation","id":"harbour-glucose","status":"final",
	 "code":{"coding":[{"system":"http://loinc.org/","code":"2339-0"}]},
	 "subject":{"reference":"https://fhir.harbour.example/R4/Patient/harbour-1"},"effectiveDateTime":"2024-01-15T08:30:00",
	 "valueQuantity":{"value":110,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dl"}}`, hh...), 201, "Harbour glucose")
	want(t, do(t, ts, "PUT", "/fhir/Observation/harbour-weight", `{"resourceType":"Observation","id":"harbour-weight","status":"final",
	 "code":{"coding":[{"system":"https://loinc.org","code":"29463-7"}]},
	 "subject":{"reference":"https://fhir.harbour.example/R4/Patient/harbour-1"},
	 "valueQuantity":{"value":81,"unit":"kg","code":"kg"}}`, hh...), 201, "Harbour weight")

	all := "Patient/acme-1,Patient/harbour-1,Patient/nw-1"
	cases := []struct {
		query string
		want  string // subjects of the Observations found, or ids of the Patients
	}{
		{"Observation?code=http://loinc.org|2339-0", all},
		{"Observation?code=http://loinc.org|2339-0&value-quantity=ge90|http://unitsofmeasure.org|mg/dL", all},
		{"Observation?value-quantity=ge90|http://unitsofmeasure.org|mg/dL", all},
		// ACME's 154.32 lb were converted: 69.99... kg.
		{"Observation?code=http://loinc.org|29463-7&value-quantity=gt60|http://unitsofmeasure.org|kg", all},
		{"Observation?value-quantity=ap70|http://unitsofmeasure.org|kg", "Patient/acme-1"},
		{"Observation?code=http://loinc.org|2339-0&status=final", all},
		{"Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|", "acme-1,harbour-1,nw-1"},
		{"Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|MRN-A", "acme-1"},
		{"Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|MRN-H", "harbour-1"},
		{"Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|MRN-N", "nw-1"},
		{"Patient?gender=female", "nw-1"},
		{"Observation?subject=Patient/harbour-1&code=http://loinc.org|2339-0", "Patient/harbour-1"},
		// Nothing is stored under the dialect spellings.
		{"Observation?code=urn:oid:2.16.840.1.113883.6.1|2339-0", ""},
		{"Observation?code=LN|2339-0", ""},
		{"Observation?code=http://loinc.org/|2339-0", ""},
		{"Observation?value-quantity=ge0|http://unitsofmeasure.org|[lb_av]", ""},
		{"Observation?value-quantity=ge0|http://unitsofmeasure.org|mg/dl", ""},
		{"Patient?identifier=urn:acme:mrn|", ""},
		{"Patient?identifier=urn:harbour:urn|", ""},
	}
	for _, c := range cases {
		r := do(t, ts, "GET", "/fhir/"+c.query+"&_count=50", "", "Prefer", "handling=strict")
		want(t, r, 200, c.query)
		var got []string
		for _, res := range entriesOf(r) {
			if res["resourceType"] == "Observation" {
				got = append(got, res["subject"].(map[string]any)["reference"].(string))
			} else {
				got = append(got, res["id"].(string))
			}
		}
		if g := strings.Join(sorted(got), ","); g != c.want {
			t.Errorf("GET %s = [%s], want [%s]", c.query, g, c.want)
		}
	}
}

// TestNormalizationDocumented: the CapabilityStatement (still a valid
// resource) and the OpenAPI document say what writes do and name the
// header.
func TestNormalizationDocumented(t *testing.T) {
	ts := newServer(t)
	r := do(t, ts, "GET", "/fhir/metadata", "")
	want(t, r, 200, "metadata")
	if n, out := fhir.Parse([]byte(r.raw), fhir.Limits{}); n == nil || out.HasErrors() {
		t.Fatalf("the CapabilityStatement does not validate: %s", out)
	}
	rest := r.body["rest"].([]any)[0].(map[string]any)
	if doc, _ := rest["documentation"].(string); !strings.Contains(doc, server.SourceHeader) || !strings.Contains(doc, "Provenance") {
		t.Errorf("rest.documentation = %q", doc)
	}
	ops, _ := rest["resource"].([]any)[0].(map[string]any)["operation"].([]any)
	var names []string
	for _, o := range ops {
		names = append(names, o.(map[string]any)["name"].(string))
	}
	if !strings.Contains(strings.Join(names, ","), "normalize") {
		t.Errorf("operations = %v, want normalize among them", names)
	}
	api := ts.Config.Handler.(*server.Server).OpenAPI()
	for path, ops := range map[string]map[string]bool{
		"/fhir/Observation":      {"post": true, "get": false},
		"/fhir/Observation/{id}": {"put": true, "patch": true, "get": false, "delete": false},
		"/fhir":                  {"post": true},
	} {
		item := api.Paths[path]
		if item == nil {
			t.Errorf("OpenAPI has no %s", path)
			continue
		}
		for method, wantHeader := range ops {
			op := map[string]*huma.Operation{"get": item.Get, "post": item.Post, "put": item.Put, "patch": item.Patch, "delete": item.Delete}[method]
			has := false
			for _, p := range op.Parameters {
				has = has || p.Name == server.SourceHeader && p.In == "header"
			}
			if has != wantHeader {
				t.Errorf("OpenAPI %s %s documents %s: %v, want %v", method, path, server.SourceHeader, has, wantHeader)
			}
		}
	}
}
