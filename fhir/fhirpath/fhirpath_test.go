package fhirpath

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
)

func mustParse(t testing.TB, js string) *fhir.Node {
	t.Helper()
	n, out := fhir.Parse([]byte(js), fhir.Limits{})
	if n == nil || out.HasErrors() {
		t.Fatalf("Parse: %s", out)
	}
	return n
}

func TestEvaluate(t *testing.T) {
	root := fuzzPatient(t)
	opts := &Options{Now: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), Variables: map[string]Collection{"x": {Integer(3)}}}
	tests := []struct {
		expr, want string
	}{
		{"Patient.name.given", `[{"type":"string","value":"Peter"},{"type":"string","value":"James"},{"type":"string","value":"Jim"}]`},
		{"name.where(use = 'usual').given", `[{"type":"string","value":"Jim"}]`},
		{"name[1].given.first()", `[{"type":"string","value":"Jim"}]`},
		{"Practitioner.name", `[]`},
		{"extension('http://example.org/x').value", `[{"type":"decimal","value":1.50}]`},
		{"extension.value + 1", `[{"type":"System.Decimal","value":2.50}]`},
		{"extension.value = 1.5", `[{"type":"System.Boolean","value":true}]`},
		{"birthDate.extension.value.ofType(dateTime) > @1974-12-25T10:00:00Z", `[{"type":"System.Boolean","value":true}]`},
		{"birthDate.hasValue() and gender.hasValue()", `[{"type":"System.Boolean","value":true}]`},
		{"managingOrganization.resolve().name", `[{"type":"string","value":"Org"}]`},
		{"contained.ofType(Organization).id", `[{"type":"id","value":"o1"}]`},
		{"today()", `[{"type":"System.Date","value":"2024-05-06"}]`},
		{"%x * 2", `[{"type":"System.Integer","value":6}]`},
		{"%ucum", `[{"type":"System.String","value":"http://unitsofmeasure.org"}]`},
		{"%`vs-administrative-gender`", `[{"type":"System.String","value":"http://hl7.org/fhir/ValueSet/administrative-gender"}]`},
		{"gender.memberOf(%`vs-administrative-gender`)", `[{"type":"System.Boolean","value":true}]`},
		{"5 'mg' + 1 'g'", `[{"type":"System.Quantity","value":{"value":1005,"unit":"mg"}}]`},
		{"1 'kg' = 1000 'g'", `[{"type":"System.Boolean","value":true}]`},
		{"2 '[in_i]' > 5 'cm'", `[{"type":"System.Boolean","value":true}]`},
		{"1 'mmol/L' = 1000 'umol/L'", `[{"type":"System.Boolean","value":true}]`},
		{"100 'mg/dL' = 1 'g/L'", `[{"type":"System.Boolean","value":true}]`},
		{"1 year = 12 months", `[{"type":"System.Boolean","value":true}]`},
		{"1 year = 1 'a'", `[]`},
		{"@2014-01 = @2014-01-15", `[]`},
		{"@2014-01-31 + 1 month", `[{"type":"System.Date","value":"2014-02-28"}]`},
		{"10 / 4", `[{"type":"System.Decimal","value":2.5}]`},
		{"1.50 * 2", `[{"type":"System.Decimal","value":3.00}]`},
		{"(1 | 2 | 3).aggregate($total + $this, 0)", `[{"type":"System.Integer","value":6}]`},
		{"identifier.type()", `[{"type":"System.SimpleTypeInfo","value":{"namespace":"FHIR","name":"Identifier"}}]`},
		{"identifier", `[{"type":"Identifier","value":{"system":"urn:oid:1.2.3","value":"12345"}}]`},
		{"{}", `[]`},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			x, err := Compile(tc.expr)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tc.expr, err)
			}
			got, err := x.Evaluate(root, opts)
			if err != nil {
				t.Fatalf("Evaluate(%q): %v", tc.expr, err)
			}
			if s := string(AppendJSON(nil, got)); s != tc.want {
				t.Errorf("Evaluate(%q) = %s, want %s", tc.expr, s, tc.want)
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		expr string
		pos  int
	}{
		{"name.", 5},
		{"name.given(", 11},
		{"1 +", 3},
		{"name.foo()", 5},
		{"'unterminated", 0},
		{"a.is(NoSuchType)", 2},
		{"name and", 8},
		{"@2014-13", 0},
		{"(1", 2},
		{"1 2", 2},
		{"first(1)", 0},
		{"$foo", 0},
		{"a # b", 2},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Compile(tc.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) = %v, want a *SyntaxError", tc.expr, err)
			}
			if se.Pos != tc.pos {
				t.Errorf("Compile(%q) error at %d (%s), want %d", tc.expr, se.Pos, se.Msg, tc.pos)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	root := fuzzPatient(t)
	tests := []string{
		"(1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).combine(1|2|3)))))",
		"descendants().select(%resource.descendants()).select(%resource.descendants())",
		"(1).repeat($this + 1)",
	}
	opts := &Options{Limits: Limits{MaxItems: 1000, MaxSteps: 10_000}}
	for _, expr := range tests {
		t.Run(expr, func(t *testing.T) {
			_, err := MustCompile(expr).Evaluate(root, opts)
			if !errors.Is(err, ErrLimit) {
				t.Errorf("Evaluate(%q) = %v, want ErrLimit", expr, err)
			}
		})
	}
	deep := strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500)
	if _, err := Compile(deep); err == nil {
		t.Errorf("Compile(500 nested parentheses) succeeded, want an error")
	}
}

func TestCheckInvariants(t *testing.T) {
	root := mustParse(t, `{"resourceType":"Patient","id":"p",
"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
"contact":[{"gender":"male"}],
"name":[{"given":["A"]}],
"extension":[{"url":"http://example.org/a","valueString":"x","extension":[{"url":"b","valueString":"y"}]}]}`)
	issues := CheckInvariants(root)
	want := map[string]string{
		"Patient.contact[0]":   "pat-1",
		"Patient.extension[0]": "ext-1",
	}
	got := map[string]string{}
	for _, is := range issues {
		key, _, _ := strings.Cut(is.Diagnostics, ":")
		got[is.Expression] = key
		if is.Code != "invariant" || is.Severity != fhir.Error {
			t.Errorf("issue %+v: want code invariant, severity error", is)
		}
	}
	for path, key := range want {
		if got[path] != key {
			t.Errorf("CheckInvariants: %s at %s missing; got %v", key, path, issues)
		}
	}
	if len(issues) != len(want) {
		t.Errorf("CheckInvariants = %v, want %d issues", issues, len(want))
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.json")
	if err := os.WriteFile(file, []byte(fuzzPatientJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"-e", "name.given.first()", file}, "", 0, `[{"type":"string","value":"Peter"}]` + "\n", ""},
		{[]string{"-e", "gender", "-"}, fuzzPatientJSON, 0, `[{"type":"code","value":"male"}]` + "\n", ""},
		{[]string{"-e", "%nobody", file}, "", 1, "", "unknown variable"},
		{[]string{"-var", "who=me", "-e", "%who", file}, "", 0, `[{"type":"System.String","value":"me"}]` + "\n", ""},
		{[]string{"-e", "name.", file}, "", 1, "", "syntax error at offset 5"},
		{[]string{"-e", "name.single()", file}, "", 1, "", "single() on a collection of 2 items"},
		{[]string{"-e", "1", "a", "b"}, "", 2, "", "usage"},
		{[]string{"-e", "1", "-"}, "{", 1, "", "not a resource"},
		{[]string{"-e", "1 + 1"}, "", 0, `[{"type":"System.Integer","value":2}]` + "\n", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code || stdout.String() != tc.stdout || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("Run(%q) = %d, stdout %q, stderr %q; want %d, %q, stderr containing %q",
					tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

func TestReferenceTypeResolver(t *testing.T) {
	obs := mustParse(t, `{"resourceType":"Observation","status":"final","code":{"text":"x"},
"subject":{"reference":"http://example.org/fhir/Patient/p1/_history/2"},"performer":[{"reference":"Practitioner/d"},{"reference":"urn:uuid:0c2b5a3e-1a0b-4c3d-9e8f-0a1b2c3d4e5f"}]}`)
	tests := []struct{ expr, want string }{
		{"Observation.subject.where(resolve() is Patient).reference", `[{"type":"string","value":"http://example.org/fhir/Patient/p1/_history/2"}]`},
		{"Observation.performer.resolve().id", `[{"type":"id","value":"d"}]`},
		{"Observation.performer.where(resolve() is Patient)", `[]`},
	}
	for _, tc := range tests {
		got, err := MustCompile(tc.expr).Evaluate(obs, &Options{Resolve: ReferenceTypeResolver})
		if err != nil {
			t.Fatalf("Evaluate(%q): %v", tc.expr, err)
		}
		if s := string(AppendJSON(nil, got)); s != tc.want {
			t.Errorf("Evaluate(%q) = %s, want %s", tc.expr, s, tc.want)
		}
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	root := fuzzPatient(t)
	x := MustCompile("name.where(given.exists()).given.distinct().count() + identifier.value.length()")
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				out, err := x.Evaluate(root, nil)
				if err != nil {
					done <- err
					return
				}
				if len(out) != 1 || out[0] != Integer(8) {
					done <- errors.New("wrong result " + Format(out[0]))
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
