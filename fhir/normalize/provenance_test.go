package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
)

func TestProvenanceFor(t *testing.T) {
	received := []byte(`{"resourceType":"Patient","id":"p1","gender":"M"}`)
	res := mustParse(t, []byte(`{"resourceType":"Patient","id":"p1","meta":{"versionId":"3"},"gender":"male"}`))
	changes := []Change{
		{Path: "Patient.gender", Before: "M", After: "male", Rule: RuleValueMap},
		{Path: "Patient.extension[0]", Before: "http://vendor.example/x", Rule: RuleExtension},
	}
	at := time.Date(2024, 5, 6, 7, 8, 9, 120_000_000, time.FixedZone("", 3600))
	b, err := ProvenanceFor(res, received, changes, "https://ehr.acme.example/fhir", at)
	if err != nil {
		t.Fatalf("ProvenanceFor: %v", err)
	}
	n, out := fhir.Parse(b, fhir.Limits{})
	if n == nil || out.HasErrors() {
		t.Fatalf("ProvenanceFor output does not validate: %s\n%s", out, b)
	}
	var p struct {
		Target    []struct{ Reference string }
		Recorded  string
		Extension []struct {
			URL       string
			Extension []struct {
				URL         string
				ValueString string
				ValueCode   string
			}
		}
		Agent []struct {
			Who struct {
				Identifier struct{ System, Value string }
				Display    string
			}
		}
		Entity []struct {
			Role string
			What struct {
				Identifier struct{ System, Value string }
			}
		}
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Target) != 1 || p.Target[0].Reference != "Patient/p1/_history/3" {
		t.Errorf("target = %+v, want Patient/p1/_history/3", p.Target)
	}
	if p.Recorded != "2024-05-06T06:08:09.12Z" {
		t.Errorf("recorded = %q, want 2024-05-06T06:08:09.12Z", p.Recorded)
	}
	if len(p.Agent) != 1 || p.Agent[0].Who.Identifier.Value != "https://ehr.acme.example/fhir" || p.Agent[0].Who.Display != "https://ehr.acme.example/fhir" {
		t.Errorf("agent = %+v", p.Agent)
	}
	sum := sha256.Sum256(received)
	hash := "sha256:" + hex.EncodeToString(sum[:])
	if len(p.Entity) != 1 || p.Entity[0].Role != "source" || p.Entity[0].What.Identifier.Value != hash || p.Entity[0].What.Identifier.System != ReceivedHashSystem {
		t.Errorf("entity = %+v", p.Entity)
	}
	if len(p.Extension) != 2 || p.Extension[0].URL != ChangeExtension {
		t.Fatalf("extensions = %+v, want 2 change extensions", p.Extension)
	}
	sub := map[string]string{}
	for _, x := range p.Extension[0].Extension {
		sub[x.URL] = x.ValueString + x.ValueCode
	}
	if sub["path"] != "Patient.gender" || sub["rule"] != RuleValueMap || sub["before"] != "M" || sub["after"] != "male" {
		t.Errorf("first change extension = %v", sub)
	}
	if len(p.Extension[1].Extension) != 3 {
		t.Errorf("second change extension = %+v, want no after", p.Extension[1].Extension)
	}
}

func TestProvenanceForErrors(t *testing.T) {
	noID := mustParse(t, []byte(`{"resourceType":"Patient"}`))
	if _, err := ProvenanceFor(noID, nil, nil, "urn:x:y", time.Now()); err == nil {
		t.Errorf("ProvenanceFor(no id) = nil error")
	}
	res := mustParse(t, []byte(`{"resourceType":"Patient","id":"a"}`))
	if _, err := ProvenanceFor(res, nil, nil, "not a uri", time.Now()); err == nil {
		t.Errorf("ProvenanceFor(bad source) = nil error")
	}
	if b, err := ProvenanceFor(res, nil, nil, "urn:x:y", time.Now()); err != nil || !strings.Contains(string(b), `"code":"CREATE"`) {
		t.Errorf("ProvenanceFor(no changes) = %s, %v", b, err)
	}
}

func TestSetSource(t *testing.T) {
	res := mustParse(t, []byte(`{"resourceType":"Patient","id":"a","active":true}`))
	SetSource(res, "https://ehr.acme.example/fhir", "req-42")
	want := `{"resourceType":"Patient","id":"a","meta":{"source":"https://ehr.acme.example/fhir#req-42"},"active":true}`
	if got := string(fhir.Marshal(res)); got != want {
		t.Errorf("SetSource = %s, want %s", got, want)
	}
	SetSource(res, "urn:x:y", "2")
	if got := res.First("meta").String("source"); got != "urn:x:y#2" {
		t.Errorf("SetSource again: meta.source = %q", got)
	}
	if _, out := fhir.Parse(fhir.Marshal(res), fhir.Limits{}); out.HasErrors() {
		t.Errorf("SetSource output does not validate: %s", out)
	}
}

func TestOutcomeFor(t *testing.T) {
	out := OutcomeFor([]Change{
		{Path: "Patient.gender", Before: "M", After: "male", Rule: RuleValueMap},
		{Path: "Patient.extension[0]", Before: "http://x.example/y", Rule: RuleExtension},
	})
	want := []fhir.Issue{
		{Severity: fhir.Information, Code: "informational", Diagnostics: `value-map: "M" -> "male"`, Expression: "Patient.gender"},
		{Severity: fhir.Information, Code: "informational", Diagnostics: `extension: "http://x.example/y" -> (absent)`, Expression: "Patient.extension[0]"},
	}
	if len(out.Issues) != len(want) {
		t.Fatalf("OutcomeFor = %v, want %v", out.Issues, want)
	}
	for i := range want {
		if out.Issues[i] != want[i] {
			t.Errorf("OutcomeFor issue %d = %+v, want %+v", i, out.Issues[i], want[i])
		}
	}
	if n, o := fhir.Parse(out.JSON(), fhir.Limits{}); n == nil || o.HasErrors() {
		t.Errorf("OutcomeFor JSON does not validate: %s", o)
	}
}
