package server_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir/normalize"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// TestExamplesThroughAPI creates every valid R4 example through the API and
// reads it back. The server sets meta.versionId, meta.lastUpdated and
// meta.source (the default source and the request id); apart from those
// the content must equal what was sent, unless the default profile
// normalised it: then the server recorded exactly one Provenance for the
// version, and the content equals what $normalize shows.
func TestExamplesThroughAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: creates every R4 example")
	}
	ts := newServer(t)
	// Some example Consents deny access to the example patients, and some
	// examples carry sensitive labels: the round trips are made as an
	// emergency (break-glass) caller, which the server audits.
	ts.token = ts.mint(t, auth.MintRequest{Subject: "admin", Scope: "system/*.cruds", Admin: true, Purposes: []string{"BTG"}})
	var created, normalized, skipped int
	for _, f := range corpus.Examples(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 8<<20 {
			skipped++
			continue
		}
		name := filepath.Base(f)
		sent := decodeExact(t, data)
		typ, _ := sent["resourceType"].(string)
		id, _ := sent["id"].(string)
		var r resp
		if id != "" {
			r = do(t, ts, "PUT", "/fhir/"+typ+"/"+id, string(data))
		} else {
			r = do(t, ts, "POST", "/fhir/"+typ, string(data))
		}
		if typ == "AuditEvent" {
			// AuditEvents are written by the server only.
			if r.status != 403 {
				t.Errorf("%s: status %d, want 403", name, r.status)
			}
			skipped++
			continue
		}
		if r.status == 400 || r.status == 422 {
			// Examples that break the rules are refused (see fhir's known-invalid list).
			skipped++
			continue
		}
		if r.status != 201 && r.status != 200 {
			t.Errorf("%s: status %d: %.300s", name, r.status, r.raw)
			continue
		}
		id = r.body["id"].(string)
		reqID := r.header.Get("X-Request-Id")
		got := do(t, ts, "GET", "/fhir/"+typ+"/"+id, "")
		if got.status != 200 {
			t.Errorf("%s: read status %d", name, got.status)
			continue
		}
		back := decodeExact(t, []byte(got.raw))
		if src := metaSource(back); src != normalize.DefaultSource+"#"+reqID {
			t.Errorf("%s: meta.source = %q, want %q", name, src, normalize.DefaultSource+"#"+reqID)
		}
		provs := provenancesOf(t, ts, typ+"/"+id, ts.base+"#"+reqID)
		switch len(provs) {
		case 0:
			if !sameApartFromMeta(sent, back, id) {
				t.Errorf("%s: read back differs from what was sent, and no Provenance says why", name)
				continue
			}
		case 1:
			normalized++
			preview := do(t, ts, "POST", "/fhir/"+typ+"/$normalize", string(data))
			want(t, preview, 200, name+" $normalize")
			params := decodeExact(t, []byte(preview.raw))["parameter"].([]any)
			wantRes := params[0].(map[string]any)["resource"].(map[string]any)
			issues := params[1].(map[string]any)["resource"].(map[string]any)["issue"].([]any)
			if sameApartFromMeta(decodeExact(t, data), back, id) {
				t.Errorf("%s: a Provenance was written, but the content was stored as sent", name)
			}
			if !sameApartFromMeta(wantRes, back, id) {
				t.Errorf("%s: read back differs from the $normalize preview", name)
			}
			if n := len(changePaths(provs[0])); n != len(issues) {
				t.Errorf("%s: the Provenance lists %d changes, $normalize %d", name, n, len(issues))
			}
		default:
			t.Errorf("%s: %d Provenances for one write, want at most 1", name, len(provs))
		}
		created++
	}
	t.Logf("%d examples created and read back (%d normalised by the default profile); %d refused or skipped", created, normalized, skipped)
	if created < 700 {
		t.Errorf("only %d examples round-tripped through the API", created)
	}
	// Only spellings that hide data from searches are rewritten for a
	// client without a profile: a few unit codes, not one in ten resources.
	if normalized == 0 || normalized > created/20 {
		t.Errorf("the default profile normalised %d of %d examples, want a few", normalized, created)
	}
}

// decodeExact decodes JSON keeping number literals (1.50 stays "1.50").
func decodeExact(t *testing.T, data []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sameApartFromMeta(sent, got map[string]any, id string) bool {
	strip := func(m map[string]any) {
		if meta, ok := m["meta"].(map[string]any); ok {
			delete(meta, "versionId")
			delete(meta, "lastUpdated")
			delete(meta, "source")
			if len(meta) == 0 {
				delete(m, "meta")
			}
		}
	}
	sent["id"] = id
	strip(sent)
	strip(got)
	return reflect.DeepEqual(sent, got)
}
