package fhirpath

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// The official FHIRPath test suite for R4 (tests-fhir-r4.xml), read as it
// is. Each test's input comes from the JSON form of its input file.

type suiteXML struct {
	Groups []suiteGroup `xml:"group"`
}

type suiteGroup struct {
	Name  string      `xml:"name,attr"`
	Tests []suiteTest `xml:"test"`
}

type suiteTest struct {
	Name       string `xml:"name,attr"`
	InputFile  string `xml:"inputfile,attr"`
	Predicate  string `xml:"predicate,attr"`
	Mode       string `xml:"mode,attr"`
	Ordered    string `xml:"ordered,attr"`
	Expression struct {
		Text    string `xml:",chardata"`
		Invalid string `xml:"invalid,attr"`
		Mode    string `xml:"mode,attr"`
	} `xml:"expression"`
	Outputs []struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	} `xml:"output"`
}

// knownFailures lists the suite's tests this engine does not pass, with
// the reason. A listed test that passes, or an unlisted one that fails,
// fails TestSuite.
var knownFailures = map[string]string{
	// The JSON input gives valueUuid as an object ({"value": ...}); fhir.Parse
	// reports that and then stops with a fatal JSON error, so there is no tree.
	"testTypeA3": "the JSON input gives parameter[2].valueUuid as an object, which is invalid FHIR JSON; the parser drops that value",
	"testTypeA4": "the JSON input gives parameter[2].valueUuid as an object, which is invalid FHIR JSON; the parser drops that value",
	// Decimal boundaries below the requested precision: the expected values
	// (0.0 for the high boundary of 0.0034 at one digit, -0.0) contradict
	// the other boundary tests (1.587.highBoundary(2) = 1.59), and a
	// negative zero has no Decimal form.
	"LowBoundaryDecimal15":  "expects -0.0 (negative zero)",
	"HighBoundaryDecimal15": "expects 0.0 for the high boundary of 0.0034 at one digit (0.00345 rounds up to 0.1)",
	"HighBoundaryDecimal16": "expects 0.0; -0.0034.highBoundary(1) is -(0.0034.highBoundary(1)) = -0.1",
}

func loadSuite(t *testing.T) (suiteXML, string) {
	t.Helper()
	dir := corpus.Shared(t, "fhirpath")
	data, err := os.ReadFile(filepath.Join(dir, "tests-fhir-r4.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var s suiteXML
	if err := xml.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestSuite(t *testing.T) {
	suite, dir := loadSuite(t)
	inputs := map[string]*fhir.Node{}
	input := func(name string) (*fhir.Node, error) {
		if n, ok := inputs[name]; ok {
			return n, nil
		}
		base := strings.TrimSuffix(strings.TrimSuffix(name, ".xml"), ".json") + ".json"
		data, err := os.ReadFile(filepath.Join(dir, "input-json", base))
		if err != nil {
			return nil, err
		}
		n, out := fhir.Parse(data, fhir.Limits{})
		if n == nil {
			return nil, fmt.Errorf("parse %s: %s", base, out)
		}
		inputs[name] = n
		return n, nil
	}
	total, passed := 0, 0
	var failed []string
	seen := map[string]bool{}
	for _, g := range suite.Groups {
		for _, tc := range g.Tests {
			total++
			name := tc.Name
			if seen[name] {
				name = g.Name + "/" + name
			}
			seen[name] = true
			err := runSuiteTest(tc, input)
			reason, known := knownFailures[name]
			switch {
			case err == nil && known:
				t.Errorf("%s passes but is listed as a known failure (%s)", name, reason)
			case err == nil:
				passed++
			case known:
				failed = append(failed, name)
			default:
				failed = append(failed, name)
				t.Errorf("%s: %q: %v", name, tc.Expression.Text, err)
			}
		}
	}
	sort.Strings(failed)
	t.Logf("FHIRPath R4 suite: %d of %d tests pass", passed, total)
	for _, f := range failed {
		t.Logf("fails: %s (%s)", f, knownFailures[f])
	}
}

func runSuiteTest(tc suiteTest, input func(string) (*fhir.Node, error)) error {
	var root *fhir.Node
	if tc.InputFile != "" {
		var err error
		if root, err = input(tc.InputFile); err != nil {
			return err
		}
	}
	opts := &Options{Strict: tc.Mode == "strict" || tc.Expression.Mode == "strict"}
	expr, err := Compile(tc.Expression.Text)
	if tc.Expression.Invalid != "" {
		if err != nil {
			return nil
		}
		_, err = expr.Evaluate(root, opts)
		if err != nil {
			return nil
		}
		return fmt.Errorf("expected an error (%s), got none", tc.Expression.Invalid)
	}
	if err != nil {
		return err
	}
	got, err := expr.Evaluate(root, opts)
	if err != nil {
		return err
	}
	if tc.Predicate == "true" {
		got = boolColl(len(got) > 0)
	}
	if len(got) != len(tc.Outputs) {
		return fmt.Errorf("got %d items %s, want %d", len(got), describeColl(got), len(tc.Outputs))
	}
	used := make([]bool, len(got))
	for i, want := range tc.Outputs {
		if tc.Ordered != "false" {
			if err := matchOutput(got[i], want.Type, want.Text); err != nil {
				return fmt.Errorf("item %d: %v", i, err)
			}
			continue
		}
		found := false
		for j := range got {
			if !used[j] && matchOutput(got[j], want.Type, want.Text) == nil {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return fmt.Errorf("no item matches %s %s in %s", want.Type, want.Text, describeColl(got))
		}
	}
	return nil
}

func describeColl(c Collection) string {
	parts := make([]string, len(c))
	for i, v := range c {
		parts[i] = fmt.Sprintf("%s(%s)", v.TypeName(), outputText(v))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// outputText renders a value the way the suite writes outputs.
func outputText(v Value) string {
	sv, ok := system(v)
	if !ok {
		return string(fhir.Marshal(v.(Element).Node))
	}
	switch x := sv.(type) {
	case Date:
		return "@" + x.String()
	case DateTime:
		return "@" + x.String()
	case Time:
		return "@T" + x.String()
	}
	s, _ := formatValue(sv)
	return s
}

var systemToSuite = map[string]string{
	"System.Boolean": "boolean", "System.Integer": "integer", "System.Decimal": "decimal",
	"System.String": "string", "System.Date": "date", "System.DateTime": "dateTime",
	"System.Time": "time", "System.Quantity": "Quantity",
}

func matchOutput(v Value, typ, text string) error {
	if typ != "" {
		got := v.TypeName()
		if s, ok := systemToSuite[got]; ok {
			got = s
		}
		if got != typ {
			return fmt.Errorf("got type %s (%s), want %s", got, outputText(v), typ)
		}
	}
	got := outputText(v)
	if typ == "decimal" {
		sv, _ := system(v)
		want, err := ParseDecimal(text)
		if d, ok := sv.(Decimal); ok && err == nil && d.Cmp(want) == 0 {
			return nil
		}
	}
	if typ == "date" || typ == "dateTime" || typ == "time" {
		text = strings.TrimPrefix(text, "@")
		got = strings.TrimPrefix(got, "@")
		if typ == "time" {
			text, got = strings.TrimPrefix(text, "T"), strings.TrimPrefix(got, "T")
		}
	}
	if got != text {
		return fmt.Errorf("got %s, want %s", got, text)
	}
	return nil
}
