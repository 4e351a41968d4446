package fhir_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/fhirpath"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// validatorCase is one entry of ../shared/data/validator/r4-index.json.
type validatorCase struct {
	Name          string   `json:"name"`
	File          string   `json:"file"`
	FileExists    bool     `json:"fileExists"`
	Format        string   `json:"format"`
	Needs         []string `json:"needs"`
	UseTest       *bool    `json:"useTest"`
	ExpectedValid *bool    `json:"expectedValid"` // nil: the reference outcome is missing
	Description   string   `json:"description"`
	Java          struct {
		ErrorMessages []struct {
			Expression string `json:"expression"`
			Text       string `json:"text"`
		} `json:"errorMessages"`
	} `json:"java"`
}

var pathComment = regexp.MustCompile(`/\*[^*]*\*/`)

// normPath strips the reference validator's decorations so that paths
// compare: "Bundle.entry[0].resource/*Patient/1*/.name" -> "Bundle.entry[0].resource.name".
func normPath(p string) string { return pathComment.ReplaceAllString(p, "") }

// fhirsealModes are the reference validator's settings (manifest.json
// options) that describe what fhirseal's validation does. A case that runs
// the reference validator with one of them set otherwise has a verdict
// that does not apply to fhirseal; it is listed, not compared.
var fhirsealModes = map[string]string{
	"allow-comments":    "false",       // JSON with comments is not JSON
	"validateContains":  "CHECK_VALID", // contained resources are always validated
	"examples":          "true",        // example.org URLs are accepted (the R4 examples use them)
	"noHtmlInMarkdown":  "false",       // HTML in markdown is a warning
	"validateReference": "",            // Parse resolves no references outside a Bundle; the store does
}

// caseOptions reads the options of each case from the suite's manifest.
func caseOptions(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Cases []map[string]any `json:"test-cases"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, c := range m.Cases {
		if name, ok := c["name"].(string); ok {
			out[name] = c
		}
	}
	return out
}

// otherMode returns the option by which a case's settings differ from
// fhirseal's, or "".
func otherMode(opts map[string]any) string {
	for k, want := range fhirsealModes {
		v, ok := opts[k]
		if !ok {
			continue
		}
		if got := fmt.Sprint(v); got != want {
			return k + "=" + got
		}
	}
	return ""
}

// TestValidatorCases runs the R4 JSON validator cases that need no
// profiles, packages or terminology server, and reports how often
// fhirseal agrees with the expected verdict and, for the cases expected to
// be invalid, how often one of its errors is at one of the reference
// validator's element paths.
//
// Cases without a reference outcome, and cases that run the reference
// validator in a mode fhirseal does not have (fhirsealModes), are listed
// but not counted. The goal is 95%; what keeps the rest apart needs a
// terminology server (display names), profiles (meta.profile), signature
// checking, or is policy: fhirseal accepts extensions it has no
// definition for, always checks strings for HTML, reports core extensions
// used out of context as warnings (R4's own definitions do it), and an
// invariant that evaluates to empty (per-1 on mixed precisions) does not
// fail. The floor holds the measured level.
func TestValidatorCases(t *testing.T) {
	dir := corpus.Shared(t, "validator")
	raw, err := os.ReadFile(filepath.Join(dir, "r4-index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []validatorCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	options := caseOptions(t, dir)
	var total, agree, invalid, caught, pathMatch, noPaths int
	var disagree, skipped []string
	for _, c := range cases {
		if c.Format != "json" || len(c.Needs) > 0 || !c.FileExists || (c.UseTest != nil && !*c.UseTest) {
			continue
		}
		if c.ExpectedValid == nil {
			skipped = append(skipped, c.Name+" (no reference outcome)")
			continue
		}
		if m := otherMode(options[c.Name]); m != "" {
			skipped = append(skipped, c.Name+" ("+m+")")
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		total++
		out := validate(data)
		valid := !out.HasErrors()
		want := *c.ExpectedValid
		if valid == want {
			agree++
		} else {
			disagree = append(disagree, c.Name)
			t.Logf("disagree %s: expected valid=%v; fhirseal: %s; reference: %s", c.Name, want, firstErrors(out), referenceErrors(c))
		}
		if !want {
			invalid++
			if !referencePaths(c) {
				noPaths++
			}
			if !valid {
				caught++
				if pathAgrees(out, c) {
					pathMatch++
				} else if referencePaths(c) {
					t.Logf("path %s: fhirseal: %s; reference: %s", c.Name, firstErrors(out), referenceErrors(c))
				}
			}
		}
	}
	t.Logf("not compared: %s", strings.Join(skipped, ", "))
	t.Logf("validator cases: %d of %d agree (%.1f%%)", agree, total, 100*float64(agree)/float64(max(total, 1)))
	t.Logf("expected invalid: %d; fhirseal finds errors in %d, in %d of them at a reference path (%d cases give no path)", invalid, caught, pathMatch, noPaths)
	t.Logf("disagreements: %s", strings.Join(disagree, ", "))
	const floor = 0.93
	if total == 0 || float64(agree) < floor*float64(total) {
		t.Errorf("agreement %d/%d is below the floor of %.0f%%", agree, total, floor*100)
	}
}

func firstErrors(out *fhir.Outcome) string {
	var s []string
	for _, is := range out.Errors() {
		if len(s) == 3 {
			s = append(s, "...")
			break
		}
		s = append(s, is.Expression+": "+is.Diagnostics)
	}
	if len(s) == 0 {
		return "no errors"
	}
	return strings.Join(s, " | ")
}

func referenceErrors(c validatorCase) string {
	var s []string
	for i, m := range c.Java.ErrorMessages {
		if i == 3 {
			s = append(s, "...")
			break
		}
		s = append(s, normPath(m.Expression)+": "+m.Text)
	}
	if len(s) == 0 {
		return "no messages"
	}
	return strings.Join(s, " | ")
}

// referencePaths reports whether the reference validator names an element
// path for any of its errors (syntax errors have none).
func referencePaths(c validatorCase) bool {
	for _, m := range c.Java.ErrorMessages {
		if m.Expression != "" {
			return true
		}
	}
	return false
}

func pathAgrees(out *fhir.Outcome, c validatorCase) bool {
	for _, want := range c.Java.ErrorMessages {
		w := normPath(want.Expression)
		if w == "" {
			continue
		}
		for _, is := range out.Errors() {
			if is.Expression == w || strings.HasPrefix(is.Expression, w+".") || strings.HasPrefix(w, is.Expression+".") {
				return true
			}
		}
	}
	return false
}

// validate is the full validation fhirseal applies: the one-pass parse
// and structure checks, then every invariant of the StructureDefinitions.
func validate(data []byte) *fhir.Outcome {
	n, out := fhir.Parse(data, fhir.Limits{})
	if n != nil && !out.HasErrors() {
		out.Issues = append(out.Issues, fhirpath.CheckInvariants(n)...)
	}
	return out
}
