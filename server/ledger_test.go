package server_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/ledger"
	"github.com/fhirseal/fhirseal/server"
	"github.com/fhirseal/fhirseal/store/sqlite"
)

// newLedgerServer starts a test server whose store seals writes with a
// signing key and signs checkpoints every 10 ms.
func newLedgerServer(t testing.TB) (*testServer, *ledger.Key) {
	ts, key, _ := newLedgerStore(t)
	return ts, key
}

// newLedgerStore is newLedgerServer that also returns the store, for
// writing to it directly.
func newLedgerStore(t testing.TB) (*testServer, *ledger.Key, *sqlite.Store) {
	var key *ledger.Key
	var st *sqlite.Store
	ts := newServerWith(t, func(cfg *server.Config) {
		origin, err := ledger.Origin(cfg.BaseURL)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		key, err = ledger.LoadOrCreateKey(filepath.Join(dir, "ledger.key"), origin)
		if err != nil {
			t.Fatal(err)
		}
		st, err = sqlite.Open(filepath.Join(dir, "db"), sqlite.Options{LedgerKey: key, CheckpointEvery: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg.Store, cfg.Ledger, cfg.LedgerKey = st, st, key.VerifierKey
	})
	return ts, key, st
}

// TestLedgerProofAccess checks who gets a version's proof: a proof opens
// the version's commitment, so it follows read access to that version.
func TestLedgerProofAccess(t *testing.T) {
	ts, _ := newLedgerServer(t)
	want(t, do(t, ts, "PUT", "/fhir/Patient/mine", `{"resourceType":"Patient","id":"mine"}`), 201, "put")
	want(t, do(t, ts, "PUT", "/fhir/Patient/theirs", `{"resourceType":"Patient","id":"theirs"}`), 201, "put")
	want(t, do(t, ts, "PUT", "/fhir/Patient/gone", `{"resourceType":"Patient","id":"gone"}`), 201, "put")
	want(t, do(t, ts, "DELETE", "/fhir/Patient/gone", ""), 200, "delete")
	want(t, do(t, ts, "PUT", "/fhir/Patient/erased", `{"resourceType":"Patient","id":"erased"}`), 201, "put")
	want(t, do(t, ts, "POST", "/fhir/Patient/erased/$erase", ""), 200, "erase")
	patient := ts.mint(t, auth.MintRequest{Subject: "mine", Scope: "patient/Patient.rs", Patient: "mine"})
	cases := []struct {
		path, token string
		status      int
	}{
		{"/fhir/Patient/mine/_history/1/$ledger-proof", "", 200},
		{"/fhir/Patient/gone/_history/2/$ledger-proof", "", 200}, // a deletion is sealed too
		{"/fhir/Patient/erased/_history/1/$ledger-proof", "", 410},
		{"/fhir/Patient/nobody/_history/1/$ledger-proof", "", 404},
		{"/fhir/Patient/mine/_history/9/$ledger-proof", "", 404},
		{"/fhir/Patient/mine/_history/1/$ledger-proof", patient, 200},
		{"/fhir/Patient/theirs/_history/1/$ledger-proof", patient, 404},
		{"/fhir/Patient/gone/_history/2/$ledger-proof", patient, 404},
		{"/fhir/Patient/mine/_history/1/$ledger-proof", "not-a-token", 401},
	}
	for _, c := range cases {
		var hdr []string
		if c.token != "" {
			hdr = []string{"Authorization", "Bearer " + c.token}
		}
		r := do(t, ts, "GET", c.path, "", hdr...)
		who := "admin"
		if c.token == patient {
			who = "patient"
		}
		want(t, r, c.status, who+" GET "+c.path)
		if c.status == 200 && !strings.Contains(r.raw, `"name":"checkpoint"`) {
			t.Errorf("%s GET %s: no checkpoint in %s", who, c.path, r.raw)
		}
	}
}

// TestLedgerProofVerifiesOffline writes versions, fetches a $ledger-proof
// and checks it with the client-side verifier, as an outside party would.
func TestLedgerProofVerifiesOffline(t *testing.T) {
	ts, key := newLedgerServer(t)
	for i := 0; i < 5; i++ {
		want(t, do(t, ts, "PUT", "/fhir/Patient/a", `{"resourceType":"Patient","id":"a","active":`+strconv.FormatBool(i%2 == 0)+`}`), map[bool]int{true: 201, false: 200}[i == 0], "put")
	}
	r := do(t, ts, "PUT", "/fhir/Patient/b", `{"resourceType":"Patient","id":"b"}`, "Prefer", "ledger-proof")
	want(t, r, 201, "put with Prefer: ledger-proof")
	if r.header.Get("Preference-Applied") != "ledger-proof" {
		t.Errorf("Preference-Applied = %q", r.header.Get("Preference-Applied"))
	}
	res, err := http.Get(ts.URL + "/ledger/key")
	if err != nil {
		t.Fatal(err)
	}
	vkey, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.TrimSpace(string(vkey)) != key.VerifierKey {
		t.Fatalf("/ledger/key = %q, want %q", vkey, key.VerifierKey)
	}
	for vid := 1; vid <= 5; vid++ {
		ver := do(t, ts, "GET", "/fhir/Patient/a/_history/"+strconv.Itoa(vid), "")
		p := do(t, ts, "GET", "/fhir/Patient/a/_history/"+strconv.Itoa(vid)+"/$ledger-proof", "")
		want(t, p, 200, "$ledger-proof")
		vp := ledger.VersionProof{Type: "Patient", ID: "a", VersionID: strconv.Itoa(vid), Body: []byte(ver.raw)}
		for _, prm := range p.body["parameter"].([]any) {
			m := prm.(map[string]any)
			str, _ := m["valueString"].(string)
			b64, _ := m["valueBase64Binary"].(string)
			raw, _ := base64.StdEncoding.DecodeString(b64)
			switch m["name"] {
			case "index":
				vp.Index, _ = strconv.ParseUint(str, 10, 64)
			case "treeSize":
				vp.TreeSize, _ = strconv.ParseUint(str, 10, 64)
			case "leaf":
				vp.Leaf = raw
			case "key":
				vp.Key = raw
			case "prev":
				vp.Prev, _ = ledger.ParsePrev(str)
			case "proof":
				vp.Proof = append(vp.Proof, raw)
			case "checkpoint":
				vp.Checkpoint = []byte(str)
			}
		}
		if _, err := vp.Verify(key.Verifier); err != nil {
			t.Errorf("version %d: proof does not verify: %v", vid, err)
		}
		// A proof for another body must fail.
		vp.Body = append([]byte(nil), vp.Body...)
		vp.Body[len(vp.Body)-2] ^= 1
		if _, err := vp.Verify(key.Verifier); err == nil {
			t.Errorf("version %d: proof verified an altered body", vid)
		}
	}
}

func TestEraseCompartment(t *testing.T) {
	ts := newServer(t)
	want(t, do(t, ts, "PUT", "/fhir/Patient/e1", `{"resourceType":"Patient","id":"e1","name":[{"family":"Erasable"}]}`), 201, "patient")
	want(t, do(t, ts, "PUT", "/fhir/Observation/eo", `{"resourceType":"Observation","id":"eo","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/e1"}}`), 201, "observation")
	want(t, do(t, ts, "PUT", "/fhir/Observation/other", `{"resourceType":"Observation","id":"other","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/zz"}}`), 201, "other observation")
	reader := ts.mint(t, auth.MintRequest{Subject: "app", Scope: "system/*.cruds"})
	want(t, do(t, ts, "POST", "/fhir/Patient/e1/$erase?scope=compartment", "", "Authorization", "Bearer "+reader), 403, "erase without admin")
	r := do(t, ts, "POST", "/fhir/Patient/e1/$erase?scope=compartment", "")
	want(t, r, 200, "erase")
	if !strings.Contains(r.raw, "erased 2 versions") {
		t.Errorf("erase outcome = %s", r.raw)
	}
	want(t, do(t, ts, "GET", "/fhir/Patient/e1", ""), 410, "read erased patient")
	want(t, do(t, ts, "GET", "/fhir/Observation/eo/_history/1", ""), 410, "vread erased observation")
	want(t, do(t, ts, "GET", "/fhir/Observation/other", ""), 200, "another patient's data stays")
	r = do(t, ts, "GET", "/fhir/Observation?subject=Patient/e1", "")
	if _, ok := r.body["entry"]; ok {
		t.Errorf("erased data still found by search: %s", r.raw)
	}
}
