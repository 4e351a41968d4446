package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/internal/corpus"
)

// testScriptSkips lists the scripts of ../shared/data/testscripts that
// cannot pass against fhirseal, each with the reason. Every other script
// must pass.
var testScriptSkips = map[string]string{
	"hl7-r4-examples/TestScript-testscript-example-multisystem.json": "XML only (accept and contentType xml), and reads from a second server (destination 2)",
	"hl7-r4-examples/TestScript-testscript-example-readtest.json":    "XML only: asserts an application/fhir+xml response; fhirseal speaks JSON only",
	"hl7-r4-examples/TestScript-testscript-example-search.json":      "XML only: creates and searches with application/fhir+xml",
	"hl7-r4-examples/TestScript-testscript-example-update.json":      "XML only: updates with application/fhir+xml",

	"crucible-testscript-engine/TestScripts/read_testscript.json":   "XML only: asserts an application/fhir+xml response; fhirseal speaks JSON only",
	"crucible-testscript-engine/TestScripts/search_testscript.json": "XML only: creates and searches with application/fhir+xml",
	"crucible-testscript-engine/TestScripts/update_testscript.json": "XML only: updates with application/fhir+xml",

	"crucible-testscript-engine/TestScripts/TestScript-us-mcode-profile-search-from-patient-subtest.json":   "needs the Crucible assert-subtest extension and an mCODE patient record (Observations with mCODE codes) on the server",
	"crucible-testscript-engine/TestScripts/multipleMCODE/UsMCODESearchAndReadProfilesFromRootPatient.json": "needs the Crucible assert-subtest extension and an mCODE patient record (Conditions, Observations, Procedures with mCODE categories) on the server",
}

// testScriptErrata are assertions that are wrong in the script itself
// (they contradict the FHIR specification, or their fixture is invalid),
// named "section/label" (see tsConfig.Errata); their failures are reported
// as warnings. Each must still fail: one that passes means the server
// changed and the entry needs a look.
var testScriptErrata = map[string]map[string]string{
	"crucible-testscript-engine/TestScripts/general_testscript.json": {
		"setup/01-ConfirmResponse201": errUpdateCreates,
	},
	"crucible-testscript-engine/TestScripts/history_testscript.json": {
		"setup/01-Response200": errInvalidExample2,
	},
}

// Reasons shared by several errata.
const (
	errUpdateCreates   = "asserts responseCode 200 for an update that creates Patient/example; its own label says 201, which FHIR requires (http.html#update)"
	errInvalidExample2 = "the fixture fixtures/Patient/example2.json is not valid FHIR (birthDate \"1978-3-1\"), so a conformant server rejects the update with 400"
	errCapitalsID      = "expects 400 for the id \"ID-may-not-contain-CAPITALS\", but R4 ids may hold capitals ([A-Za-z0-9\\-\\.]{1,64}), so the read answers 404"
	errNavigation      = "asks for first and last links (the Crucible engine also wants next) on a search with no match; R4 makes every paging link but self optional (http.html#paging) and fhirseal sends self, plus next when there is one"
)

// mcodeExamples are minimal resources with the id "example" that the
// mCODE read-profile scripts expect the server to hold (their variables
// carry only a hint, "[resource.id]", with "example" as default). Their
// validateProfileId assertions are reported as skipped, so these scripts
// check the read, its status and the resource type.
var mcodeExamples = []string{
	`{"resourceType":"Patient","id":"example","name":[{"family":"Example"}]}`,
	`{"resourceType":"Observation","id":"example","status":"final","code":{"text":"example"},"subject":{"reference":"Patient/example"}}`,
	`{"resourceType":"Condition","id":"example","subject":{"reference":"Patient/example"}}`,
	`{"resourceType":"Procedure","id":"example","status":"completed","subject":{"reference":"Patient/example"}}`,
	`{"resourceType":"MedicationRequest","id":"example","status":"active","intent":"order","medicationCodeableConcept":{"text":"example"},"subject":{"reference":"Patient/example"}}`,
	`{"resourceType":"MedicationAdministration","id":"example","status":"completed","medicationCodeableConcept":{"text":"example"},"subject":{"reference":"Patient/example"},"effectiveDateTime":"2020-01-01"}`,
	`{"resourceType":"DiagnosticReport","id":"example","status":"final","code":{"text":"example"},"subject":{"reference":"Patient/example"}}`,
	`{"resourceType":"Specimen","id":"example","subject":{"reference":"Patient/example"}}`,
	`{"resourceType":"BodyStructure","id":"example","patient":{"reference":"Patient/example"}}`,
	`{"resourceType":"Group","id":"example","type":"person","actual":true}`,
	`{"resourceType":"Bundle","id":"example","type":"collection"}`,
}

// testScriptPreloads are the resources scripts expect the server to hold
// before they start (read tests of a "known" resource): JSON text, or
// "@" and a file of the corpus.
var testScriptPreloads = map[string][]string{
	"hl7-r4-examples/TestScript-testscript-example-readtest.json": {"@hl7-r4-examples/fixtures/Patient-example.json"},
	"crucible-testscript-engine/TestScripts/read_testscript.json": {"@crucible-testscript-engine/TestScripts/fixtures/Patient/example.json"},
}

// testScriptPreload returns the resources the script rel expects on the
// server before it starts.
func testScriptPreload(t *testing.T, root, rel string) []string {
	t.Helper()
	if strings.HasPrefix(rel, "crucible-testscript-engine/TestScripts/multipleMCODE/") {
		return mcodeExamples
	}
	var out []string
	for _, p := range testScriptPreloads[rel] {
		if name, ok := strings.CutPrefix(p, "@"); ok {
			b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
			if err != nil {
				t.Fatal(err)
			}
			p = string(b)
		}
		out = append(out, p)
	}
	return out
}

// testScriptJSONVariants are XML-only scripts (skipped above) whose use of
// XML is only the wire format: they run a second time with JSON in place
// of XML, reported apart as "as JSON". The configuration gives values to
// hint-only variables and lists the errata of each.
var testScriptJSONVariants = map[string]tsConfig{
	"hl7-r4-examples/TestScript-testscript-example-readtest.json": {Errata: map[string]string{
		"Sprinkler Read Test R004/#2": errCapitalsID,
	}},
	"hl7-r4-examples/TestScript-testscript-example-search.json": {
		Inputs: map[string]string{"PatientSearchFamilyName": "Chalmers", "PatientSearchGivenName": "Peter"},
		Errata: map[string]string{"setup/#5": errNavigation},
	},
	"hl7-r4-examples/TestScript-testscript-example-update.json": {},
	"crucible-testscript-engine/TestScripts/read_testscript.json": {Errata: map[string]string{
		"Sprinkler Read Test R004/01-Response400": errCapitalsID,
	}},
	"crucible-testscript-engine/TestScripts/search_testscript.json": {
		Inputs: map[string]string{"PatientSearchFamilyName": "Chalmers", "PatientSearchGivenName": "Peter"},
		Errata: map[string]string{"setup/04-ResponseNavigationLink": errNavigation},
	},
	"crucible-testscript-engine/TestScripts/update_testscript.json": {Errata: map[string]string{
		"Update Patient/01-Response200": errInvalidExample2,
	}},
}

// TestTestScripts runs every TestScript of ../shared/data/testscripts
// against a fresh server per script and reports each action. Scripts in
// testScriptSkips are skipped with their reason; all others must pass, and
// so must the JSON variants of testScriptJSONVariants.
func TestTestScripts(t *testing.T) {
	needBinary(t)
	root := corpus.Shared(t, "testscripts")
	scripts := findTestScripts(t, root)
	if len(scripts) == 0 {
		t.Fatalf("no TestScripts under %s", root)
	}
	for _, m := range []map[string]string{testScriptSkips, keysOf(testScriptJSONVariants), keysOf(testScriptErrata)} {
		for rel := range m {
			if !slices.Contains(scripts, rel) {
				t.Errorf("%s is named in the configuration but is not under %s", rel, root)
			}
		}
	}

	var summary []tsRow
	for _, rel := range scripts {
		t.Run(rel, func(t *testing.T) {
			if reason, ok := testScriptSkips[rel]; ok {
				summary = append(summary, tsRow{rel, tsSkip, reason})
				t.Skip(reason)
			}
			summary = append(summary, runTestScript(t, root, rel, tsConfig{Errata: testScriptErrata[rel]}))
		})
	}
	var variants []tsRow
	for _, rel := range slices.Sorted(maps.Keys(testScriptJSONVariants)) {
		t.Run("as JSON/"+rel, func(t *testing.T) {
			cfg := testScriptJSONVariants[rel]
			cfg.XMLAsJSON = true
			variants = append(variants, runTestScript(t, root, rel, cfg))
		})
	}
	t.Log(tsSummary("TestScripts", summary))
	t.Log(tsSummary("XML-only TestScripts run as JSON", variants))
}

// tsRow is one line of the summary.
type tsRow struct{ script, outcome, detail string }

func tsSummary(title string, rows []tsRow) string {
	counts := map[string]int{}
	var b strings.Builder
	for _, r := range rows {
		counts[r.outcome]++
		fmt.Fprintf(&b, "\n  %-4s %s: %s", r.outcome, r.script, r.detail)
	}
	return fmt.Sprintf("%s: %d passed, %d failed, %d skipped%s", title, counts[tsPass], counts[tsFail], counts[tsSkip], b.String())
}

func keysOf[V any](m map[string]V) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = ""
	}
	return out
}

// runTestScript runs the script rel under root against a fresh server,
// logs every action and fails t unless the script passes.
func runTestScript(t *testing.T, root, rel string, cfg tsConfig) tsRow {
	p := start(t, t.TempDir())
	defer p.stop()
	client := &http.Client{Timeout: 30 * time.Second}
	for _, body := range testScriptPreload(t, root, rel) {
		preload(t, p, client, body)
	}
	r := &tsRunner{client: client, base: p.base, public: publicBase, token: p.token, cfg: cfg}
	res := r.run(filepath.Join(root, filepath.FromSlash(rel)))
	for _, s := range res.Steps {
		t.Log(s)
	}
	for label := range cfg.Errata {
		if !slices.Contains(res.Errata, label) {
			t.Errorf("erratum %q did not apply: the assertion passed or did not run; check the server's behaviour and the entry", label)
		}
	}
	detail := fmt.Sprintf("%d pass, %d fail, %d warning, %d skip", res.count(tsPass), res.count(tsFail), res.count(tsWarning), res.count(tsSkip))
	switch res.Outcome {
	case tsSkip:
		t.Errorf("the runner skipped the script (%s); add it to testScriptSkips or support what it needs", res.Reason)
		return tsRow{rel, tsSkip, res.Reason}
	case tsFail:
		if res.Reason != "" {
			detail = res.Reason
		}
		var failed []string
		for _, s := range res.Steps {
			if s.Outcome == tsFail {
				failed = append(failed, s.String())
			}
		}
		t.Errorf("TestScript %s failed: %s\n%s", rel, detail, strings.Join(failed, "\n"))
		return tsRow{rel, tsFail, detail}
	}
	return tsRow{rel, tsPass, detail}
}

// findTestScripts returns the JSON TestScripts under root, as paths
// relative to it with forward slashes, sorted.
func findTestScripts(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var probe struct {
			ResourceType string `json:"resourceType"`
		}
		if json.Unmarshal(raw, &probe) != nil || probe.ResourceType != "TestScript" {
			return nil // fixtures, TestReports
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// preload stores a resource with update-as-create.
func preload(t *testing.T, p *proc, c *http.Client, body string) {
	t.Helper()
	var probe struct{ ResourceType, ID string }
	if err := json.Unmarshal([]byte(body), &probe); err != nil {
		t.Fatal(err)
	}
	res, err := p.do(c, "PUT", "/"+probe.ResourceType+"/"+probe.ID, body)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 && res.StatusCode != 201 {
		t.Fatalf("preload %s/%s: status %d: %s", probe.ResourceType, probe.ID, res.StatusCode, out)
	}
}

// The runner's pure parts, checked without a server.

func TestXPathToFHIRPath(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "fhir:Patient/fhir:name/fhir:family/@value", want: "Patient.name.family"},
		{in: "fhir:Bundle/fhir:type/@value", want: "Bundle.type"},
		{in: "Patient/id", want: "Patient.id"},
		{in: "/fhir:Patient/fhir:id/@value", want: "Patient.id"},
		{in: "fhir:Patient/fhir:name[1]/fhir:family/@value", err: true},
		{in: "$.name[0].family", err: true},
	}
	for _, tt := range tests {
		got, err := xpathToFHIRPath(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("xpathToFHIRPath(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestTestScriptCompare(t *testing.T) {
	tests := []struct {
		op, got, want string
		pass          bool
	}{
		{"", "200", "200", true},
		{"equals", "201", "200", false},
		{"notEquals", "201", "200", true},
		{"in", "204", "200,204", true},
		{"in", "404", "200,204", false},
		{"notIn", "404", "200,204", true},
		{"greaterThan", "10", "9", true}, // numerically, not as text
		{"lessThan", "1.50", "1.6", true},
		{"greaterThan", "b", "a", true},
		{"empty", "", "", true},
		{"notEmpty", "", "", false},
		{"contains", "application/fhir+json", "json", true},
		{"notContains", "application/fhir+json", "xml", true},
		{"eval", "x", "y", false},
	}
	for _, tt := range tests {
		outcome, msg := compare(tt.op, tt.got, tt.want, "value")
		if (outcome == tsPass) != tt.pass {
			t.Errorf("compare(%q, %q, %q) = %s (%s), want pass %v", tt.op, tt.got, tt.want, outcome, msg, tt.pass)
		}
	}
}

func TestEncodeQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/example", "/example"},
		{"?family=Chalmers&given=Peter", "?family=Chalmers&given=Peter"},
		{"?patient=Patient%2Fexample&code=http%3A%2F%2Fsnomed.info%2Fsct%7C398192003", "?patient=Patient%2Fexample&code=http%3A%2F%2Fsnomed.info%2Fsct%7C398192003"},
		{"?patient=example&category=http://snomed.info/sct|372087000", "?patient=example&category=http%3A%2F%2Fsnomed.info%2Fsct%7C372087000"},
	}
	for _, tt := range tests {
		if got := encodeQuery(tt.in); got != tt.want {
			t.Errorf("encodeQuery(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestContainsMinimum(t *testing.T) {
	body := `{"resourceType":"Patient","id":"x","meta":{"versionId":"2"},"name":[{"family":"A","given":["B","C"]},{"given":["D"]}],"multipleBirthInteger":2}`
	tests := []struct {
		min string
		ok  bool
	}{
		{`{"resourceType":"Patient","name":[{"given":["D"]}]}`, true},
		{`{"resourceType":"Patient","name":[{"family":"A","given":["C"]}]}`, true},
		{`{"resourceType":"Patient","meta":{"versionId":"1"}}`, true}, // meta is the server's
		{`{"resourceType":"Patient","multipleBirthInteger":2.0}`, true},
		{`{"resourceType":"Patient","name":[{"family":"A","given":["D"]}]}`, false},
		{`{"resourceType":"Patient","gender":"male"}`, false},
	}
	for _, tt := range tests {
		err := containsMinimum([]byte(body), []byte(tt.min))
		if (err == nil) != tt.ok {
			t.Errorf("containsMinimum(body, %s) = %v, want ok %v", tt.min, err, tt.ok)
		}
	}
}
