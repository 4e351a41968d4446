package fhir_test

import (
	"encoding/json"
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
	ExpectedValid bool     `json:"expectedValid"`
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

// ValidatorCases runs the R4 JSON validator cases that need no profiles,
// packages or terminology server, and reports how often fhirseal agrees
// with the expected verdict and, for invalid cases, names one of the
// reference validator's element paths.
//
// The goal is 95% agreement. Invariants (FHIRPath constraints), Bundle
// rules and terminology-backed checks are not evaluated by Parse yet, so
// the test holds the measured level as a floor: it fails on regression.
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
	var total, agree, invalid, pathMatch int
	var disagree []string
	for _, c := range cases {
		if c.Format != "json" || len(c.Needs) > 0 || !c.FileExists || (c.UseTest != nil && !*c.UseTest) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		total++
		out := validate(data)
		valid := !out.HasErrors()
		if valid == c.ExpectedValid {
			agree++
		} else {
			disagree = append(disagree, c.Name)
		}
		if !c.ExpectedValid && !valid {
			invalid++
			if pathAgrees(out, c) {
				pathMatch++
			}
		}
	}
	t.Logf("validator cases: %d of %d agree (%.1f%%); %d invalid cases caught, %d of them at a reference path", agree, total, 100*float64(agree)/float64(max(total, 1)), invalid, pathMatch)
	t.Logf("disagreements: %s", strings.Join(disagree, ", "))
	const floor = 0.75
	if total == 0 || float64(agree) < floor*float64(total) {
		t.Errorf("agreement %d/%d is below the floor of %.0f%%", agree, total, floor*100)
	}
}

func pathAgrees(out *fhir.Outcome, c validatorCase) bool {
	for _, want := range c.Java.ErrorMessages {
		w := normPath(want.Expression)
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
