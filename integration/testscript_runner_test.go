package integration

// A runner for FHIR R4 TestScripts (https://hl7.org/fhir/R4/testscript.html)
// against a running server: fixtures, setup, tests and teardown,
// operations, assertions and variables, JSON only. FHIRPath expressions
// are evaluated with the project's own engine; the simple XPath paths
// that older scripts use (fhir:Patient/fhir:name/fhir:family/@value) are
// read as the FHIRPath they stand for.
//
// Where the specification leaves a choice to the engine, the runner
// chooses so:
//   - an update sends the source resource with its id set to the id in the
//     request URL, as the Crucible engine does (its Ruby fhir_client sets
//     the id it updates);
//   - a path or expression compared with a value compares the first item
//     of the result (the Crucible engine's XPath does the same); one with
//     no value, operator or compareTo must yield true;
//   - the first failed assertion ends its test; a failure in setup skips
//     the tests; teardown always runs;
//   - a variable is evaluated when it is used, so it can name a response
//     received after the script started.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/fhirpath"
)

// testScript is the part of the TestScript resource the runner executes.
type testScript struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Name         string `json:"name"`
	Fixture      []struct {
		ID         string `json:"id"`
		Autocreate bool   `json:"autocreate"`
		Autodelete bool   `json:"autodelete"`
		Resource   *struct {
			Reference string `json:"reference"`
		} `json:"resource"`
	} `json:"fixture"`
	Variable []tsVariable `json:"variable"`
	Setup    *tsSection   `json:"setup"`
	Test     []tsTest     `json:"test"`
	Teardown *tsSection   `json:"teardown"`
}

type tsVariable struct {
	Name         string `json:"name"`
	DefaultValue string `json:"defaultValue"`
	Expression   string `json:"expression"`
	HeaderField  string `json:"headerField"`
	Hint         string `json:"hint"`
	Path         string `json:"path"`
	SourceID     string `json:"sourceId"`
}

type tsSection struct {
	Action []tsAction `json:"action"`
}

type tsTest struct {
	ID     string     `json:"id"`
	Name   string     `json:"name"`
	Action []tsAction `json:"action"`
}

type tsAction struct {
	Operation *tsOperation `json:"operation"`
	Assert    *tsAssert    `json:"assert"`
}

type tsOperation struct {
	Type *struct {
		Code string `json:"code"`
	} `json:"type"`
	Resource         string `json:"resource"`
	Label            string `json:"label"`
	Accept           string `json:"accept"`
	ContentType      string `json:"contentType"`
	Destination      *int   `json:"destination"`
	EncodeRequestURL *bool  `json:"encodeRequestUrl"`
	Method           string `json:"method"`
	Params           string `json:"params"`
	RequestHeader    []struct {
		Field string `json:"field"`
		Value string `json:"value"`
	} `json:"requestHeader"`
	ResponseID string `json:"responseId"`
	SourceID   string `json:"sourceId"`
	TargetID   string `json:"targetId"`
	URL        string `json:"url"`
}

type tsAssert struct {
	Label                     string            `json:"label"`
	Description               string            `json:"description"`
	Direction                 string            `json:"direction"`
	CompareToSourceID         string            `json:"compareToSourceId"`
	CompareToSourceExpression string            `json:"compareToSourceExpression"`
	CompareToSourcePath       string            `json:"compareToSourcePath"`
	ContentType               string            `json:"contentType"`
	Expression                string            `json:"expression"`
	HeaderField               string            `json:"headerField"`
	MinimumID                 string            `json:"minimumId"`
	NavigationLinks           *bool             `json:"navigationLinks"`
	Operator                  string            `json:"operator"`
	Path                      string            `json:"path"`
	RequestMethod             string            `json:"requestMethod"`
	RequestURL                string            `json:"requestURL"`
	Resource                  string            `json:"resource"`
	Response                  string            `json:"response"`
	ResponseCode              string            `json:"responseCode"`
	SourceID                  string            `json:"sourceId"`
	ValidateProfileID         string            `json:"validateProfileId"`
	Value                     string            `json:"value"`
	WarningOnly               bool              `json:"warningOnly"`
	Extension                 []json.RawMessage `json:"extension"`
}

// Outcomes of one action and of one script.
const (
	tsPass    = "pass"
	tsFail    = "fail"
	tsWarning = "warning" // a failed warningOnly assertion, or an erratum
	tsSkip    = "skip"
)

// tsStep is the outcome of one action.
type tsStep struct {
	Section string // "setup", "teardown" or the test's name
	Kind    string // "operation" or "assert"
	Label   string
	Outcome string
	Message string
}

func (s tsStep) String() string {
	msg := ""
	if s.Message != "" {
		msg = ": " + s.Message
	}
	return fmt.Sprintf("%-7s [%s] %s %s%s", s.Outcome, s.Section, s.Kind, s.Label, msg)
}

// tsResult is the outcome of one script: fail when any action failed,
// skip when the script cannot run here (Reason says why), else pass.
type tsResult struct {
	Outcome string
	Reason  string
	Steps   []tsStep
	Errata  []string // names of the assertions excused by tsConfig.Errata
}

// count returns how many steps had the outcome.
func (r *tsResult) count(outcome string) int {
	n := 0
	for _, s := range r.Steps {
		if s.Outcome == outcome {
			n++
		}
	}
	return n
}

// tsConfig is what a script needs beyond its own text.
type tsConfig struct {
	// Inputs give values to variables that only carry a hint for the
	// tester.
	Inputs map[string]string
	// Errata name assertions that are wrong in the script itself, with
	// the reason; their failures are reported as warnings. An assertion
	// is named "section/label": the section is "setup" or the test's
	// name, the label its label or else "#N", its place in the section.
	Errata map[string]string
	// XMLAsJSON runs a script written for XML in JSON: every xml
	// accept, contentType and contentType assertion means JSON instead.
	XMLAsJSON bool
}

// tsRunner runs one TestScript against a server.
type tsRunner struct {
	client *http.Client
	base   string // where requests go, e.g. http://127.0.0.1:PORT/fhir
	public string // the base URL the server announces in Location and links
	token  string
	dir    string // the script's folder: fixture references resolve against it
	cfg    tsConfig

	script    *testScript
	fixtures  map[string][]byte      // fixture id -> JSON
	responses map[string]*tsExchange // responseId -> exchange
	targets   map[string]tsTarget    // fixture id -> resource created from it
	last      *tsExchange            // the latest operation's exchange
	steps     []tsStep
	errata    []string // names of the errata that applied
}

// tsExchange is one HTTP request and its response.
type tsExchange struct {
	method    string
	url       string
	reqHeader http.Header
	status    int
	header    http.Header
	body      []byte
}

// tsTarget names a resource version on the server.
type tsTarget struct{ typ, id, vid string }

// errSkipScript marks a script the runner cannot run here.
type errSkipScript struct{ reason string }

func (e errSkipScript) Error() string { return e.reason }

// run loads the TestScript at path and runs it.
func (r *tsRunner) run(path string) tsResult {
	raw, err := os.ReadFile(path)
	if err != nil {
		return tsResult{Outcome: tsFail, Reason: err.Error()}
	}
	r.script = new(testScript)
	if err := json.Unmarshal(raw, r.script); err != nil {
		return tsResult{Outcome: tsFail, Reason: fmt.Sprintf("not a JSON TestScript: %v", err)}
	}
	if r.script.ResourceType != "TestScript" {
		return tsResult{Outcome: tsFail, Reason: fmt.Sprintf("resourceType is %q, want TestScript", r.script.ResourceType)}
	}
	r.dir = filepath.Dir(path)
	r.fixtures = map[string][]byte{}
	r.responses = map[string]*tsExchange{}
	r.targets = map[string]tsTarget{}
	if err := r.loadFixtures(); err != nil {
		var skip errSkipScript
		if errors.As(err, &skip) {
			return tsResult{Outcome: tsSkip, Reason: skip.reason}
		}
		return tsResult{Outcome: tsFail, Reason: err.Error()}
	}

	setupOK := r.autocreate()
	if setupOK && r.script.Setup != nil {
		setupOK = r.section("setup", r.script.Setup.Action)
	}
	for _, t := range r.script.Test {
		name := t.Name
		if name == "" {
			name = t.ID
		}
		if !setupOK {
			r.record(name, "test", "", tsSkip, "setup failed")
			continue
		}
		r.section(name, t.Action)
	}
	if r.script.Teardown != nil {
		r.section("teardown", r.script.Teardown.Action)
	}
	r.autodelete()

	res := tsResult{Outcome: tsPass, Steps: r.steps, Errata: r.errata}
	if res.count(tsFail) > 0 {
		res.Outcome = tsFail
	}
	return res
}

func (r *tsRunner) record(section, kind, label, outcome, msg string) {
	r.steps = append(r.steps, tsStep{Section: section, Kind: kind, Label: label, Outcome: outcome, Message: msg})
}

// section runs actions in order and reports whether all passed. The
// first failure ends the section, except in teardown, which runs every
// operation.
func (r *tsRunner) section(name string, actions []tsAction) bool {
	ok := true
	for i, a := range actions {
		switch {
		case a.Operation != nil:
			label := a.Operation.Label
			if label == "" {
				label = fmt.Sprintf("#%d %s", i+1, a.Operation.code())
			}
			if err := r.operation(a.Operation); err != nil {
				r.record(name, "operation", label, tsFail, err.Error())
				ok = false
			} else {
				r.record(name, "operation", label, tsPass, r.last.summary())
			}
		case a.Assert != nil:
			label := a.Assert.Label
			if label == "" {
				label = fmt.Sprintf("#%d", i+1)
			}
			outcome, msg := r.assert(a.Assert)
			if outcome == tsFail && a.Assert.WarningOnly {
				outcome = tsWarning
			}
			key := name + "/" + label
			if reason, erratum := r.cfg.Errata[key]; erratum && outcome == tsFail {
				outcome, msg = tsWarning, msg+" (erratum: "+reason+")"
				r.errata = append(r.errata, key)
			}
			r.record(name, "assert", label, outcome, msg)
			if outcome == tsFail {
				ok = false
			}
		}
		if !ok && name != "teardown" {
			if rest := len(actions) - i - 1; rest > 0 {
				r.record(name, "action", "", tsSkip, fmt.Sprintf("%d later action(s) not run after the failure", rest))
			}
			return false
		}
	}
	return ok
}

// summary describes the exchange, with the first diagnostics of an
// OperationOutcome answering an error.
func (e *tsExchange) summary() string {
	s := fmt.Sprintf("%s %s -> %d", e.method, e.url, e.status)
	if e.status >= 400 {
		var oo struct {
			Issue []struct {
				Diagnostics string `json:"diagnostics"`
			} `json:"issue"`
		}
		if json.Unmarshal(e.body, &oo) == nil && len(oo.Issue) > 0 {
			s += " (" + oo.Issue[0].Diagnostics + ")"
		}
	}
	return s
}

// loadFixtures reads every fixture the script references. A fixture only
// available as XML skips the script.
func (r *tsRunner) loadFixtures() error {
	for _, f := range r.script.Fixture {
		if f.Resource == nil || f.Resource.Reference == "" {
			return fmt.Errorf("fixture %s has no resource reference", f.ID)
		}
		ref := f.Resource.Reference
		var candidates []string
		if strings.Contains(ref, ".") {
			// A file: "fixtures/Patient/example.json".
			candidates = append(candidates, filepath.Join(r.dir, filepath.FromSlash(ref)))
		} else {
			// A reference "Patient/example": the example's file in fixtures/.
			candidates = append(candidates, filepath.Join(r.dir, "fixtures", strings.ReplaceAll(ref, "/", "-")+".json"))
		}
		var body []byte
		for _, c := range candidates {
			if strings.HasSuffix(c, ".xml") {
				j := strings.TrimSuffix(c, ".xml") + ".json"
				if _, err := os.Stat(j); err != nil {
					return errSkipScript{fmt.Sprintf("fixture %s is XML only (%s)", f.ID, ref)}
				}
				c = j
			}
			b, err := os.ReadFile(c)
			if err == nil {
				body = b
				break
			}
		}
		if body == nil {
			return fmt.Errorf("fixture %s: no file for %q (looked for %s)", f.ID, ref, strings.Join(candidates, ", "))
		}
		r.fixtures[f.ID] = body
	}
	return nil
}

// autocreate creates the fixtures marked autocreate before setup.
func (r *tsRunner) autocreate() bool {
	ok := true
	for _, f := range r.script.Fixture {
		if !f.Autocreate {
			continue
		}
		op := &tsOperation{SourceID: f.ID}
		op.Type = &struct {
			Code string `json:"code"`
		}{"create"}
		if err := r.operation(op); err != nil {
			r.record("setup", "autocreate", f.ID, tsFail, err.Error())
			ok = false
			continue
		}
		if r.last.status/100 != 2 {
			r.record("setup", "autocreate", f.ID, tsFail, r.last.summary())
			ok = false
			continue
		}
		r.record("setup", "autocreate", f.ID, tsPass, r.last.summary())
	}
	return ok
}

// autodelete deletes the fixtures marked autodelete after teardown.
func (r *tsRunner) autodelete() {
	for _, f := range r.script.Fixture {
		if !f.Autodelete {
			continue
		}
		op := &tsOperation{TargetID: f.ID}
		op.Type = &struct {
			Code string `json:"code"`
		}{"delete"}
		if err := r.operation(op); err != nil {
			r.record("teardown", "autodelete", f.ID, tsFail, err.Error())
			continue
		}
		r.record("teardown", "autodelete", f.ID, tsPass, r.last.summary())
	}
}

func (op *tsOperation) code() string {
	if op.Type == nil {
		return ""
	}
	return op.Type.Code
}

// mediaType expands the short forms json and xml (read as json under
// XMLAsJSON).
func (r *tsRunner) mediaType(s string) string {
	if r.cfg.XMLAsJSON {
		s = strings.NewReplacer("application/fhir+xml", "json", "xml", "json").Replace(s)
	}
	switch s {
	case "", "json":
		return "application/fhir+json"
	case "xml":
		return "application/fhir+xml"
	}
	return s
}

// operation sends one request and records the exchange.
func (r *tsRunner) operation(op *tsOperation) error {
	if op.Destination != nil && *op.Destination != 1 {
		return fmt.Errorf("destination %d: only one server is under test", *op.Destination)
	}
	code := op.code()
	methods := map[string]string{
		"read": "GET", "vread": "GET", "search": "GET", "history": "GET", "capabilities": "GET",
		"create": "POST", "transaction": "POST", "batch": "POST",
		"update": "PUT", "updateCreate": "PUT", "delete": "DELETE", "patch": "PATCH",
	}
	method := methods[code]
	if op.Method != "" {
		method = strings.ToUpper(op.Method)
	}
	if method == "" {
		return fmt.Errorf("operation %q is not supported by the runner", code)
	}

	var body []byte
	if op.SourceID != "" {
		b, err := r.source(op.SourceID)
		if err != nil {
			return err
		}
		body = b
	}
	typ := op.Resource
	if typ == "" && body != nil {
		var probe struct {
			ResourceType string `json:"resourceType"`
		}
		json.Unmarshal(body, &probe)
		if code != "transaction" && code != "batch" {
			typ = probe.ResourceType
		}
	}

	target, err := r.requestPath(op, code, typ, body)
	if err != nil {
		return err
	}
	if (code == "update" || code == "updateCreate") && body != nil {
		if id := idInPath(target); id != "" {
			body, err = withID(body, id)
			if err != nil {
				return err
			}
		}
	}

	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", r.mediaType(op.Accept))
	if body != nil {
		req.Header.Set("Content-Type", r.mediaType(op.ContentType))
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	for _, h := range op.RequestHeader {
		v, err := r.substitute(h.Value)
		if err != nil {
			return err
		}
		req.Header.Set(h.Field, v)
	}
	res, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	resBody, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	ex := &tsExchange{
		method: method, url: target, reqHeader: req.Header,
		status: res.StatusCode, header: res.Header, body: resBody,
	}
	r.last = ex
	if op.ResponseID != "" {
		r.responses[op.ResponseID] = ex
	}
	// Remember what a fixture became, so that targetId finds it.
	if op.SourceID != "" && ex.status/100 == 2 && (code == "create" || code == "update" || code == "updateCreate") {
		if t, ok := targetOf(ex); ok {
			r.targets[op.SourceID] = t
		}
	}
	return nil
}

// requestPath builds the request URL of an operation.
func (r *tsRunner) requestPath(op *tsOperation, code, typ string, body []byte) (string, error) {
	if op.URL != "" {
		u, err := r.substitute(op.URL)
		if err != nil {
			return "", err
		}
		return r.absolute(u), nil
	}
	prefix := r.base
	if typ != "" {
		prefix += "/" + typ
	}
	if op.Params != "" {
		p, err := r.substitute(op.Params)
		if err != nil {
			return "", err
		}
		if op.EncodeRequestURL == nil || *op.EncodeRequestURL {
			p = encodeQuery(p)
		}
		if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "?") {
			p = "/" + p
		}
		return prefix + p, nil
	}
	if op.TargetID != "" {
		t, err := r.target(op.TargetID)
		if err != nil {
			return "", err
		}
		p := r.base + "/" + t.typ + "/" + t.id
		switch code {
		case "vread":
			if t.vid == "" {
				return "", fmt.Errorf("targetId %s has no version for vread", op.TargetID)
			}
			p += "/_history/" + t.vid
		case "history":
			p += "/_history"
		}
		return p, nil
	}
	switch code {
	case "transaction", "batch":
		return r.base, nil
	case "capabilities":
		return r.base + "/metadata", nil
	case "history":
		return prefix + "/_history", nil
	case "update", "updateCreate":
		var probe struct {
			ID string `json:"id"`
		}
		json.Unmarshal(body, &probe)
		if probe.ID == "" || typ == "" {
			return "", errors.New("update: no params, url or targetId, and the source has no id")
		}
		return prefix + "/" + probe.ID, nil
	}
	if typ == "" && code != "search" {
		return "", fmt.Errorf("%s: no resource type", code)
	}
	return prefix, nil
}

// absolute resolves u against the server: relative URLs are relative to
// the base, and absolute ones under the announced base are redirected to
// the address under test.
func (r *tsRunner) absolute(u string) string {
	if strings.HasPrefix(u, r.public) {
		return r.base + strings.TrimPrefix(u, r.public)
	}
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		return u
	}
	return r.base + "/" + strings.TrimPrefix(u, "/")
}

// encodeQuery percent-encodes the values of a query string (already
// encoded parts stay as they are), leaving the path before it alone.
func encodeQuery(p string) string {
	path, query, found := strings.Cut(p, "?")
	if !found {
		return p
	}
	parts := strings.Split(query, "&")
	for i, part := range parts {
		k, v, _ := strings.Cut(part, "=")
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		parts[i] = k + "=" + url.QueryEscape(v)
	}
	return path + "?" + strings.Join(parts, "&")
}

// idInPath returns the logical id of an instance URL ".../Type/id".
func idInPath(u string) string {
	path, _, _ := strings.Cut(u, "?")
	seg := strings.Split(path, "/")
	if len(seg) < 2 || !fhir.ValidID(seg[len(seg)-1]) || fhir.Type(seg[len(seg)-2]) == nil {
		return ""
	}
	return seg[len(seg)-1]
}

// withID returns resource with its id set to id.
func withID(resource []byte, id string) ([]byte, error) {
	n, out := fhir.Parse(resource, fhir.Limits{})
	if n == nil {
		return nil, fmt.Errorf("source resource: %s", out)
	}
	if n.ID() == id {
		return resource, nil
	}
	n.Set("id", id)
	return fhir.Marshal(n), nil
}

// targetOf returns the resource version a write answered with, from its
// Location header or else its body.
func targetOf(ex *tsExchange) (tsTarget, bool) {
	if loc := ex.header.Get("Location"); loc != "" {
		seg := strings.Split(strings.TrimSuffix(loc, "/"), "/")
		for i := len(seg) - 2; i >= 0; i-- {
			if fhir.Type(seg[i]) != nil && fhir.ValidID(seg[i+1]) {
				t := tsTarget{typ: seg[i], id: seg[i+1]}
				if i+3 < len(seg) && seg[i+2] == "_history" {
					t.vid = seg[i+3]
				}
				return t, true
			}
		}
	}
	return bodyTarget(ex.body)
}

func bodyTarget(body []byte) (tsTarget, bool) {
	var probe struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Meta         struct {
			VersionID string `json:"versionId"`
		} `json:"meta"`
	}
	if json.Unmarshal(body, &probe) != nil || probe.ResourceType == "" || probe.ID == "" {
		return tsTarget{}, false
	}
	return tsTarget{typ: probe.ResourceType, id: probe.ID, vid: probe.Meta.VersionID}, true
}

// target resolves a targetId: a fixture the script wrote (as the server
// named it), a response, or else the fixture's own type and id.
func (r *tsRunner) target(id string) (tsTarget, error) {
	if t, ok := r.targets[id]; ok {
		return t, nil
	}
	if ex, ok := r.responses[id]; ok {
		if t, ok := targetOf(ex); ok {
			return t, nil
		}
		return tsTarget{}, fmt.Errorf("targetId %s: the response names no resource", id)
	}
	if b, ok := r.fixtures[id]; ok {
		if t, ok := bodyTarget(b); ok {
			return t, nil
		}
		return tsTarget{}, fmt.Errorf("targetId %s: the fixture has no id", id)
	}
	return tsTarget{}, fmt.Errorf("targetId %s names no fixture or response", id)
}

// source returns the body of a fixture or a stored response.
func (r *tsRunner) source(id string) ([]byte, error) {
	if ex, ok := r.responses[id]; ok {
		return ex.body, nil
	}
	if b, ok := r.fixtures[id]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("sourceId %s names no fixture or response", id)
}

// exchange returns the exchange an assertion looks at: a stored response
// or the latest one.
func (r *tsRunner) exchange(sourceID string) (*tsExchange, error) {
	if sourceID != "" {
		if ex, ok := r.responses[sourceID]; ok {
			return ex, nil
		}
		if _, ok := r.fixtures[sourceID]; ok {
			return nil, nil // a fixture has a body but no HTTP exchange
		}
		return nil, fmt.Errorf("sourceId %s names no fixture or response", sourceID)
	}
	if r.last == nil {
		return nil, errors.New("no operation has run yet")
	}
	return r.last, nil
}

var varRef = regexp.MustCompile(`\$\{([^}]+)\}`)

// substitute replaces every ${name} in s with the variable's value.
func (r *tsRunner) substitute(s string) (string, error) {
	var firstErr error
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, err := r.variable(name)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	})
	return out, firstErr
}

// variable evaluates the script variable name now.
func (r *tsRunner) variable(name string) (string, error) {
	i := slices.IndexFunc(r.script.Variable, func(v tsVariable) bool { return v.Name == name })
	if i < 0 {
		return "", fmt.Errorf("variable %s is not declared", name)
	}
	v := r.script.Variable[i]
	var got string
	switch {
	case v.HeaderField != "":
		ex, err := r.exchange(v.SourceID)
		if err == nil && ex != nil {
			got = ex.header.Get(v.HeaderField)
		}
	case v.Expression != "" || v.Path != "":
		body, err := r.body(v.SourceID)
		if err == nil {
			c, err := evalPath(body, v.Expression, v.Path)
			if err != nil {
				return "", fmt.Errorf("variable %s: %v", name, err)
			}
			if len(c) > 0 {
				got = fhirpath.Format(c[0])
			}
		}
	}
	if got == "" {
		got = v.DefaultValue
	}
	if got == "" {
		got = r.cfg.Inputs[name]
	}
	if got == "" {
		if v.Hint != "" {
			return "", fmt.Errorf("variable %s needs a value from the tester (hint %q)", name, v.Hint)
		}
		return "", fmt.Errorf("variable %s has no value", name)
	}
	return got, nil
}

// body returns the resource an assertion or variable with sourceId looks
// at: a fixture, a stored response or the latest response.
func (r *tsRunner) body(sourceID string) ([]byte, error) {
	if sourceID != "" {
		return r.source(sourceID)
	}
	if r.last == nil {
		return nil, errors.New("no operation has run yet")
	}
	return r.last.body, nil
}

// xpathToFHIRPath reads a simple XPath over the FHIR XML form
// ("fhir:Bundle/fhir:type/@value", "Patient/id") as the FHIRPath it
// stands for. Predicates, axes and functions are not supported.
func xpathToFHIRPath(p string) (string, error) {
	if strings.HasPrefix(p, "$") {
		return "", fmt.Errorf("JSONPath %q is not supported", p)
	}
	var steps []string
	for _, s := range strings.Split(strings.TrimPrefix(strings.TrimSuffix(p, "/@value"), "/"), "/") {
		s = strings.TrimPrefix(s, "fhir:")
		if s == "" || strings.ContainsAny(s, "[]()@*:") {
			return "", fmt.Errorf("XPath %q is not supported", p)
		}
		steps = append(steps, s)
	}
	return strings.Join(steps, "."), nil
}

// evalPath evaluates a FHIRPath expression, or else an XPath path, on a
// JSON resource.
func evalPath(body []byte, expression, path string) (fhirpath.Collection, error) {
	expr := expression
	if expr == "" {
		var err error
		if expr, err = xpathToFHIRPath(path); err != nil {
			return nil, err
		}
	}
	x, err := fhirpath.Compile(expr)
	if err != nil {
		return nil, err
	}
	n, out := fhir.Parse(body, fhir.Limits{})
	if n == nil {
		return nil, fmt.Errorf("the body is not a FHIR resource: %s", out)
	}
	return x.Evaluate(n, &fhirpath.Options{})
}

// responseCodes are the TestScript assertion response codes.
var responseCodes = map[string]int{
	"okay": 200, "created": 201, "noContent": 204, "notModified": 304, "bad": 400,
	"forbidden": 403, "notFound": 404, "methodNotAllowed": 405, "conflict": 409,
	"gone": 410, "preconditionFailed": 412, "unprocessable": 422,
}

// assert evaluates one assertion and returns its outcome and a message.
func (r *tsRunner) assert(a *tsAssert) (string, string) {
	if len(a.Extension) > 0 && a.hasNoCheck() {
		return tsFail, "only an extension (such as a Crucible subtest), which the runner does not support"
	}
	if a.ValidateProfileID != "" {
		return tsSkip, "profile validation (" + a.ValidateProfileID + ") is not checked by the runner"
	}
	request := a.Direction == "request"
	ex, err := r.exchange(a.SourceID)
	if err != nil {
		return tsFail, err.Error()
	}
	needExchange := func() (string, string, bool) {
		if ex == nil {
			return tsFail, "sourceId " + a.SourceID + " is a fixture: it has no HTTP response", false
		}
		return "", "", true
	}
	switch {
	case a.Response != "":
		if o, m, ok := needExchange(); !ok {
			return o, m
		}
		want, ok := responseCodes[a.Response]
		if !ok {
			return tsFail, "unknown response code " + a.Response
		}
		return compare(a.Operator, strconv.Itoa(ex.status), strconv.Itoa(want), "response status")
	case a.ResponseCode != "":
		if o, m, ok := needExchange(); !ok {
			return o, m
		}
		return compare(a.Operator, strconv.Itoa(ex.status), a.ResponseCode, "response status")
	case a.RequestMethod != "":
		if o, m, ok := needExchange(); !ok {
			return o, m
		}
		return compare(a.Operator, strings.ToLower(ex.method), strings.ToLower(a.RequestMethod), "request method")
	case a.RequestURL != "":
		if o, m, ok := needExchange(); !ok {
			return o, m
		}
		want, err := r.substitute(a.RequestURL)
		if err != nil {
			return tsFail, err.Error()
		}
		return compare(a.Operator, ex.url, want, "request URL")
	case a.HeaderField != "":
		if o, m, ok := needExchange(); !ok {
			return o, m
		}
		h := ex.header
		if request {
			h = ex.reqHeader
		}
		want, err := r.substitute(a.Value)
		if err != nil {
			return tsFail, err.Error()
		}
		return compare(a.Operator, h.Get(a.HeaderField), want, a.HeaderField+" header")
	case a.ContentType != "":
		if o, m, ok := needExchange(); !ok {
			return o, m
		}
		h := ex.header
		if request {
			h = ex.reqHeader
		}
		got, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
		return compare(a.Operator, got, r.mediaType(a.ContentType), "Content-Type")
	case a.Resource != "":
		body, err := r.body(a.SourceID)
		if err != nil {
			return tsFail, err.Error()
		}
		var probe struct {
			ResourceType string `json:"resourceType"`
		}
		json.Unmarshal(body, &probe)
		return compare(a.Operator, probe.ResourceType, a.Resource, "resource type")
	case a.MinimumID != "":
		min, ok := r.fixtures[a.MinimumID]
		if !ok {
			return tsFail, "minimumId " + a.MinimumID + " names no fixture"
		}
		body, err := r.body(a.SourceID)
		if err != nil {
			return tsFail, err.Error()
		}
		if err := containsMinimum(body, min); err != nil {
			return tsFail, err.Error()
		}
		return tsPass, "holds every element of " + a.MinimumID
	case a.NavigationLinks != nil:
		body, err := r.body(a.SourceID)
		if err != nil {
			return tsFail, err.Error()
		}
		return navigationLinks(body, *a.NavigationLinks)
	case a.CompareToSourceID != "":
		return r.compareToSource(a)
	case a.Expression != "" || a.Path != "":
		body, err := r.body(a.SourceID)
		if err != nil {
			return tsFail, err.Error()
		}
		c, err := evalPath(body, a.Expression, a.Path)
		if err != nil {
			return tsFail, err.Error()
		}
		what := a.Expression
		if what == "" {
			what = a.Path
		}
		switch {
		case a.Operator == "empty" || a.Operator == "notEmpty":
			return compareCollection(a.Operator, c, what)
		case a.Value == "" && a.Operator == "":
			if len(c) == 1 && fhirpath.Format(c[0]) == "true" {
				return tsPass, what + " is true"
			}
			return tsFail, fmt.Sprintf("%s = %s, want true", what, formatCollection(c))
		}
		want, err := r.substitute(a.Value)
		if err != nil {
			return tsFail, err.Error()
		}
		return compare(a.Operator, first(c), want, what)
	}
	return tsFail, "the assertion checks nothing the runner understands"
}

// hasNoCheck reports whether the assertion has no element the runner
// checks (only extensions, labels and the like).
func (a *tsAssert) hasNoCheck() bool {
	return a.Response == "" && a.ResponseCode == "" && a.RequestMethod == "" && a.RequestURL == "" &&
		a.HeaderField == "" && a.ContentType == "" && a.Resource == "" && a.MinimumID == "" &&
		a.NavigationLinks == nil && a.CompareToSourceID == "" && a.ValidateProfileID == "" &&
		a.Expression == "" && a.Path == ""
}

// compareToSource compares a value of the response (or sourceId) with the
// same kind of value of the compareToSourceId fixture or response. When
// the assertion gives no path or expression of its own, the
// compareToSource one is used on both sides.
func (r *tsRunner) compareToSource(a *tsAssert) (string, string) {
	other, err := r.source(a.CompareToSourceID)
	if err != nil {
		return tsFail, err.Error()
	}
	expr, path := a.Expression, a.Path
	if expr == "" && path == "" {
		expr, path = a.CompareToSourceExpression, a.CompareToSourcePath
	}
	body, err := r.body(a.SourceID)
	if err != nil {
		return tsFail, err.Error()
	}
	got, err := evalPath(body, expr, path)
	if err != nil {
		return tsFail, err.Error()
	}
	want, err := evalPath(other, a.CompareToSourceExpression, a.CompareToSourcePath)
	if err != nil {
		return tsFail, fmt.Sprintf("compareToSource: %v", err)
	}
	what := expr
	if what == "" {
		what = path
	}
	return compare(a.Operator, first(got), first(want), what+" against "+a.CompareToSourceID)
}

func first(c fhirpath.Collection) string {
	if len(c) == 0 {
		return ""
	}
	return fhirpath.Format(c[0])
}

func formatCollection(c fhirpath.Collection) string {
	parts := make([]string, len(c))
	for i, v := range c {
		parts[i] = fhirpath.Format(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func compareCollection(op string, c fhirpath.Collection, what string) (string, string) {
	if (op == "empty") == (len(c) == 0) {
		return tsPass, fmt.Sprintf("%s is %s", what, op)
	}
	return tsFail, fmt.Sprintf("%s = %s, want %s", what, formatCollection(c), op)
}

// compare applies a TestScript operator (equals when empty) to got and
// want and describes the result.
func compare(op, got, want, what string) (string, string) {
	if op == "" {
		op = "equals"
	}
	var ok bool
	switch op {
	case "equals":
		ok = got == want
	case "notEquals":
		ok = got != want
	case "in", "notIn":
		in := slices.Contains(strings.Split(want, ","), got)
		ok = in == (op == "in")
	case "greaterThan", "lessThan":
		c := compareValues(got, want)
		ok = (op == "greaterThan" && c > 0) || (op == "lessThan" && c < 0)
	case "empty":
		ok = got == ""
	case "notEmpty":
		ok = got != ""
	case "contains":
		ok = strings.Contains(got, want)
	case "notContains":
		ok = !strings.Contains(got, want)
	default:
		return tsFail, "operator " + op + " is not supported by the runner"
	}
	msg := fmt.Sprintf("%s = %q, %s %q", what, got, op, want)
	if op == "empty" || op == "notEmpty" {
		msg = fmt.Sprintf("%s = %q, want %s", what, got, op)
	}
	if ok {
		return tsPass, msg
	}
	return tsFail, msg
}

// compareValues orders two values: numerically when both are numbers,
// else as text.
func compareValues(a, b string) int {
	x, okA := new(big.Rat).SetString(a)
	y, okB := new(big.Rat).SetString(b)
	if okA && okB {
		return x.Cmp(y)
	}
	return strings.Compare(a, b)
}

// containsMinimum checks that every element of the minimum resource is in
// the response with the same value (repeating elements: each item of the
// minimum matches some item of the response). meta is the server's and
// is not compared.
func containsMinimum(body, minimum []byte) error {
	var got, min any
	for _, x := range []struct {
		b []byte
		v *any
	}{{body, &got}, {minimum, &min}} {
		d := json.NewDecoder(bytes.NewReader(x.b))
		d.UseNumber()
		if err := d.Decode(x.v); err != nil {
			return err
		}
	}
	if m, ok := min.(map[string]any); ok {
		delete(m, "meta")
	}
	return containsJSON("", got, min)
}

func containsJSON(path string, got, min any) error {
	switch m := min.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %v", path, got)
		}
		for k, mv := range m {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s.%s is missing", path, k)
			}
			if err := containsJSON(path+"."+k, gv, mv); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %v", path, got)
		}
		for i, mv := range m {
			if !slices.ContainsFunc(g, func(gv any) bool { return containsJSON("", gv, mv) == nil }) {
				return fmt.Errorf("%s[%d]: no matching item in the response", path, i)
			}
		}
	case json.Number:
		g, ok := got.(json.Number)
		if !ok || compareValues(string(g), string(m)) != 0 {
			return fmt.Errorf("%s = %v, want %v", path, got, m)
		}
	default:
		if got != min {
			return fmt.Errorf("%s = %v, want %v", path, got, min)
		}
	}
	return nil
}

// navigationLinks checks that a Bundle has (or lacks) the self, first and
// last links of the specification's paging (http.html#paging), links any
// page can carry. The Crucible engine also wants next, which a last page
// cannot have.
func navigationLinks(body []byte, want bool) (string, string) {
	var b struct {
		Link []struct {
			Relation string `json:"relation"`
		} `json:"link"`
	}
	json.Unmarshal(body, &b)
	have := map[string]bool{}
	for _, l := range b.Link {
		have[l.Relation] = true
	}
	ok := have["self"] && have["first"] && have["last"]
	if ok == want {
		return tsPass, fmt.Sprintf("links %v", slices.Sorted(maps.Keys(have)))
	}
	return tsFail, fmt.Sprintf("links %v, want self, first and last: %v", slices.Sorted(maps.Keys(have)), want)
}
