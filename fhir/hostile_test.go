package fhir_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
)

func TestHostileInput(t *testing.T) {
	deep := `{"resourceType":"Patient","extension":[` + strings.Repeat(`{"url":"http://e","extension":[`, 200) + strings.Repeat(`]}`, 200) + `]}`
	nestedBundles := strings.Repeat(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":`, 20) + `{"resourceType":"Patient"}` + strings.Repeat(`}]}`, 20)
	cases := []struct {
		name string
		in   string
		lim  fhir.Limits
		want string // substring of the first error
	}{
		{"empty", ``, fhir.Limits{}, "unexpected end"},
		{"not an object", `[1,2]`, fhir.Limits{}, "must be a JSON object"},
		{"no resourceType", `{"id":"x"}`, fhir.Limits{}, "no resourceType"},
		{"unknown type", `{"resourceType":"Robot"}`, fhir.Limits{}, "unknown resource type"},
		{"invalid UTF-8", "{\"resourceType\":\"Patient\",\"id\":\"\xff\"}", fhir.Limits{}, "invalid JSON"},
		{"duplicate key", `{"resourceType":"Patient","id":"a","id":"b"}`, fhir.Limits{}, "invalid JSON"},
		{"trailing garbage", `{"resourceType":"Patient"} x`, fhir.Limits{}, "invalid JSON"},
		{"deep nesting", deep, fhir.Limits{}, "nesting is deeper"},
		{"nested resources", nestedBundles, fhir.Limits{}, "nested deeper"},
		{"too large", `{"resourceType":"Patient","id":"` + strings.Repeat("a", 100) + `"}`, fhir.Limits{MaxBytes: 50}, "more than the limit"},
		{"long array", `{"resourceType":"Patient","name":[` + strings.Repeat(`{"text":"a"},`, 20) + `{"text":"a"}]}`, fhir.Limits{MaxArray: 10}, "more than 10 items"},
		{"null value", `{"resourceType":"Patient","active":null}`, fhir.Limits{}, "null is not allowed"},
		{"empty string", `{"resourceType":"Patient","id":""}`, fhir.Limits{}, "must not be empty"},
		{"empty object", `{"resourceType":"Patient","maritalStatus":{}}`, fhir.Limits{}, "must have content"},
		{"empty array", `{"resourceType":"Patient","name":[]}`, fhir.Limits{}, "must not be empty"},
		{"wrong JSON type", `{"resourceType":"Patient","active":"yes"}`, fhir.Limits{}, "must be JSON true or false"},
		{"array for singular", `{"resourceType":"Patient","gender":["male"]}`, fhir.Limits{}, "must not be a JSON array"},
		{"object for array", `{"resourceType":"Patient","name":{"text":"a"}}`, fhir.Limits{}, "must be a JSON array"},
		{"integer with fraction", `{"resourceType":"Patient","multipleBirthInteger":1.5}`, fhir.Limits{}, "not a valid integer"},
		{"script in narrative", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>x</script></div>"}}`, fhir.Limits{}, "invalid element name"},
		{"event attribute", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\" onclick=\"x\">a</div>"}}`, fhir.Limits{}, "invalid attribute"},
		{"external image", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><img src=\"http://evil/x.png\"/>a</div>"}}`, fhir.Limits{}, "external references"},
		{"choice twice", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","valueBoolean":true}`, fhir.Limits{}, "given as both"},
		{"contained not referenced", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1"}]}`, fhir.Limits{}, "dom-3"},
		{"contained with contained", `{"resourceType":"Patient","managingOrganization":{"reference":"#o1"},"contained":[{"resourceType":"Organization","id":"o1","contained":[{"resourceType":"Patient","id":"x"}]}]}`, fhir.Limits{}, "dom-2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, out := fhir.Parse([]byte(c.in), c.lim)
			errs := out.Errors()
			if len(errs) == 0 {
				t.Fatalf("Parse(%.60q) found no error, want %q", c.in, c.want)
			}
			var all []string
			for _, e := range errs {
				all = append(all, e.Diagnostics)
			}
			if !strings.Contains(strings.Join(all, " | "), c.want) {
				t.Errorf("Parse(%.60q) errors = %q, want one containing %q", c.in, all, c.want)
			}
		})
	}
}

func TestBOMAccepted(t *testing.T) {
	n, out := fhir.Parse(append([]byte{0xEF, 0xBB, 0xBF}, `{"resourceType":"Patient","active":true}`...), fhir.Limits{})
	if n == nil || out.HasErrors() {
		t.Fatalf("Parse with BOM: %s", out)
	}
	if len(out.Issues) != 1 || out.Issues[0].Severity != fhir.Warning {
		t.Errorf("Parse with BOM issues = %v, want one warning", out.Issues)
	}
}

func TestDecimalsExact(t *testing.T) {
	in := `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"},"component":[{"code":{"text":"y"},"valueQuantity":{"value":1e2}}]}`
	n, out := fhir.Parse([]byte(in), fhir.Limits{})
	if out.HasErrors() {
		t.Fatal(out)
	}
	got := string(fhir.Marshal(n))
	for _, lit := range []string{`"value":1.50`, `"value":1e2`} {
		if !strings.Contains(got, lit) {
			t.Errorf("Marshal = %s, want %s kept", got, lit)
		}
	}
}

func TestPrimitiveExtensions(t *testing.T) {
	in := `{"resourceType":"Patient","name":[{"_given":[null,{"extension":[{"url":"http://e","valueString":"x"}]}],"given":["a","b"]}],"_birthDate":{"id":"bd"},"birthDate":"1970"}`
	n, out := fhir.Parse([]byte(in), fhir.Limits{})
	if out.HasErrors() {
		t.Fatal(out)
	}
	got := fhir.Marshal(n)
	want := `{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null,{"extension":[{"url":"http://e","valueString":"x"}]}]}],"birthDate":"1970","_birthDate":{"id":"bd"}}`
	if !bytes.Equal(got, []byte(want)) {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient","name":[{"given":["a"]}]}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}}]}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50}}`,
		`{"id":"x","resourceType":"Patient","_active":{"id":"a"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, out := fhir.Parse(data, fhir.Limits{MaxBytes: 1 << 16})
		if n == nil || out.HasErrors() {
			return
		}
		// A valid resource must round-trip.
		b1 := fhir.Marshal(n)
		n2, out2 := fhir.Parse(b1, fhir.Limits{})
		if n2 == nil || out2.HasErrors() {
			t.Fatalf("re-parse of %s failed: %s", b1, out2)
		}
		if b2 := fhir.Marshal(n2); !bytes.Equal(b1, b2) {
			t.Fatalf("round trip differs:\n%s\n%s", b1, b2)
		}
	})
}

func TestPrimitiveAsObject(t *testing.T) {
	n, out := fhir.Parse([]byte(`{"resourceType":"Patient","birthDate":{"value":"1970"},"active":true}`), fhir.Limits{})
	if n == nil {
		t.Fatalf("Parse returned no tree: %s", out)
	}
	if !out.HasErrors() || !strings.Contains(out.String(), "must be JSON strings") {
		t.Errorf("Parse issues = %s, want the object reported", out)
	}
	if n.String("active") != "true" {
		t.Errorf("parsing did not continue after the bad value")
	}
}

// A JSON error after a repeating element with a gap (an item that could not
// be read) must not leave the gap for the resource's own checks.
func TestFatalAfterGap(t *testing.T) {
	for _, s := range []string{
		`{"resourceType":"Patient","contained":[1,{"resourceType":"Patient","id":"a"}],"id":"x"`,
		`{"resourceType":"Bundle","type":"collection","entry":[1,{"fullUrl":"urn:x"}],"id":`,
	} {
		n, out := fhir.Parse([]byte(s), fhir.Limits{})
		if n != nil || !out.HasErrors() {
			t.Errorf("Parse(%q) = %v, %s; want no tree and a fatal error", s, n, out)
		}
	}
}
