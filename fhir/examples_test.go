package fhir_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// knownInvalid lists R4 examples that really break the specification, with
// the reason. Each must still fail validation.
var knownInvalid = map[string]string{
	"ActivityDefinition-blood-tubes-supply.json":                       "txt-2: the narrative div is empty",
	"ActivityDefinition-heart-valve-replacement.json":                  "txt-2: the narrative div is empty",
	"EventDefinition-example.json":                                     "txt-2: the narrative div is empty",
	"Questionnaire-zika-virus-exposure-assessment.json":                "txt-2: the narrative div is empty",
	"Questionnaire-qs1.json":                                           "nested items have no linkId (Questionnaire.item.linkId is 1..1)",
	"ig-r4.json":                                                       "ImplementationGuide without name and status (both 1..1)",
	"Media-1.2.840.11361907579238403408700.3.1.04.19970327150033.json": "the narrative loads an image from an external server",
}

func TestExamplesValid(t *testing.T) {
	files := corpus.Examples(t)
	clean := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n, out := fhir.Parse(data, fhir.Limits{})
		name := filepath.Base(f)
		if reason, ok := knownInvalid[name]; ok {
			if !out.HasErrors() {
				t.Errorf("%s is listed as invalid (%s) but validates", name, reason)
			}
			continue
		}
		if out.HasErrors() || n == nil {
			msg := out.String()
			if len(msg) > 500 {
				msg = msg[:500] + "..."
			}
			t.Errorf("%s: %s", name, msg)
			continue
		}
		clean++
	}
	t.Logf("%d of %d examples clean, %d known invalid", clean, len(files), len(knownInvalid))
}

func TestExamplesRoundTrip(t *testing.T) {
	for _, f := range corpus.Examples(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n, out := fhir.Parse(data, fhir.Limits{})
		if n == nil || out.HasErrors() {
			continue
		}
		b1 := fhir.Marshal(n)
		n2, out2 := fhir.Parse(b1, fhir.Limits{})
		if n2 == nil || out2.HasErrors() {
			t.Errorf("%s: reparse: %s", filepath.Base(f), out2)
			continue
		}
		b2 := fhir.Marshal(n2)
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s: serialise(parse(serialise(x))) differs from serialise(x)", filepath.Base(f))
		}
		if !sameJSON(t, data, b1) {
			t.Errorf("%s: serialised form does not carry the same content as the original", filepath.Base(f))
		}
	}
}
