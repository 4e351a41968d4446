package fhirpatch_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/fhirpatch"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// TestOfficialCases runs the FHIRPath Patch cases of the FHIR test suite
// (fhir-patch-tests.xml): each input patched with its diff must equal the
// expected output, and a case that expects an error must fail.
func TestOfficialCases(t *testing.T) {
	dir := corpus.Shared(t, "fhir-test-cases-r4")
	raw, err := os.ReadFile(filepath.Join(dir, "patch", "fhir-patch-tests.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Cases []struct {
			Name   string   `xml:"name,attr"`
			Input  innerXML `xml:"input"`
			Diff   innerXML `xml:"diff"`
			Output innerXML `xml:"output"`
			Error  *struct {
				Msg string `xml:"msg,attr"`
			} `xml:"error"`
		} `xml:"case"`
	}
	if err := xml.Unmarshal(raw, &suite); err != nil {
		t.Fatal(err)
	}
	if len(suite.Cases) < 30 {
		t.Fatalf("read %d cases", len(suite.Cases))
	}
	pass := 0
	for _, c := range suite.Cases {
		t.Run(c.Name, func(t *testing.T) {
			in := parseXML(t, c.Input.Raw)
			diff := parseXML(t, c.Diff.Raw)
			err := fhirpatch.Apply(in, diff)
			if c.Error != nil {
				if err == nil {
					t.Fatalf("Apply succeeded; want an error like %q", c.Error.Msg)
				}
				pass++
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			got := canonicalDivs(t, fhir.Marshal(in))
			want := canonicalDivs(t, fhir.Marshal(parseXML(t, c.Output.Raw)))
			if !bytes.Equal(got, want) {
				t.Fatalf("patched:\n%s\nwant:\n%s", got, want)
			}
			pass++
		})
	}
	t.Logf("%d of %d official FHIRPath Patch cases pass", pass, len(suite.Cases))
}

func TestErrors(t *testing.T) {
	patient := `{"resourceType":"Patient","id":"p","name":[{"family":"A"},{"family":"B"}],"birthDate":"2000-01-01"}`
	op := func(parts string) string {
		return `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[` + parts + `]}]}`
	}
	cases := []struct{ name, patch string }{
		{"not Parameters", patient},
		{"unknown type", op(`{"name":"type","valueCode":"upsert"},{"name":"path","valueString":"Patient"}`)},
		{"no path", op(`{"name":"type","valueCode":"delete"}`)},
		{"add without name", op(`{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"value","valueDate":"2001-01-01"}`)},
		{"add to a full single element", op(`{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"birthDate"},{"name":"value","valueDate":"2001-01-01"}`)},
		{"add an unknown element", op(`{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"shoeSize"},{"name":"value","valueInteger":42}`)},
		{"replace several", op(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.name.family"},{"name":"value","valueString":"C"}`)},
		{"replace with another complex type", op(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.name[0]"},{"name":"value","valueCoding":{"code":"x"}}`)},
		{"delete several", op(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.name"}`)},
		{"delete the resource", op(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient"}`)},
		{"insert beyond the end", op(`{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name"},{"name":"index","valueInteger":3},{"name":"value","valueHumanName":{"family":"C"}}`)},
		{"move beyond the end", op(`{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name"},{"name":"source","valueInteger":0},{"name":"destination","valueInteger":2}`)},
		{"path does not compile", op(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.name.where("}`)},
		{"path to a value", op(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"1 + 1"}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, out := fhir.Parse([]byte(patient), fhir.Limits{})
			if out.HasErrors() {
				t.Fatal(out)
			}
			doc, out := fhir.Parse([]byte(c.patch), fhir.Limits{})
			if out.HasErrors() {
				t.Fatalf("patch document: %v", out)
			}
			err := fhirpatch.Apply(res, doc)
			var pe *fhirpatch.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Apply = %v, want a *fhirpatch.Error", err)
			}
		})
	}
}

// TestChoiceAndParts adds a choice element and a complex value given as
// parts, and replaces a choice value with another of its types.
func TestChoiceAndParts(t *testing.T) {
	res, _ := fhir.Parse([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`), fhir.Limits{})
	doc, out := fhir.Parse([]byte(`{"resourceType":"Parameters","parameter":[
		{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Observation"},{"name":"name","valueString":"value"},{"name":"value","valueQuantity":{"value":1.50,"unit":"mg"}}]},
		{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Observation"},{"name":"name","valueString":"component"},{"name":"value","part":[
			{"name":"code","part":[{"name":"text","valueString":"y"}]},{"name":"value","valueString":"z"}]}]},
		{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Observation.value"},{"name":"value","valueString":"high"}]}
	]}`), fhir.Limits{})
	if out.HasErrors() {
		t.Fatal(out)
	}
	if err := fhirpatch.Apply(res, doc); err != nil {
		t.Fatal(err)
	}
	got := string(fhir.Marshal(res))
	want := `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"high","component":[{"code":{"text":"y"},"valueString":"z"}]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// canonicalDivs rewrites every narrative div of a serialised resource in
// one XML form (line ends, character references and quoting as an XML
// parser reads them), so that resources compare by what their narratives
// say rather than how the test file spells them.
func canonicalDivs(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && k == "div" {
					x[k] = canonicalXML(t, s)
				} else {
					x[k] = walk(c)
				}
			}
		case []any:
			for i, c := range x {
				x[i] = walk(c)
			}
		}
		return x
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func canonicalXML(t *testing.T, s string) string {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	dec := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("narrative: %v", err)
		}
		if err := enc.EncodeToken(xml.CopyToken(tok)); err != nil {
			t.Fatalf("narrative: %v", err)
		}
	}
	enc.Flush()
	return buf.String()
}

// innerXML keeps an element's content as text.
type innerXML struct {
	Raw string `xml:",innerxml"`
}

// parseXML reads a FHIR XML resource into a tree, through its JSON form,
// with the spec tables saying which elements repeat and which types are
// primitive.
func parseXML(t *testing.T, s string) *fhir.Node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			t.Fatal("no resource in the XML")
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			obj, err := xmlResource(dec, se)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(obj)
			n, out := fhir.Parse(b, fhir.Limits{})
			if out.HasErrors() {
				t.Fatalf("%s: %v", b, out)
			}
			return n
		}
	}
}

func xmlResource(dec *xml.Decoder, se xml.StartElement) (map[string]any, error) {
	typ := se.Name.Local
	td := fhir.Type(typ)
	if td == nil {
		return nil, fmt.Errorf("unknown resource %s", typ)
	}
	obj := map[string]any{"resourceType": typ}
	return obj, xmlChildren(dec, nil, typ, obj)
}

// xmlChildren reads the children of an element of definition e and type
// typ into obj, up to the element's end.
func xmlChildren(dec *xml.Decoder, e *fhir.Element, typ string, obj map[string]any) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tk := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			name := tk.Name.Local
			ce, ctyp := childDef(e, typ, name)
			if ce == nil {
				return fmt.Errorf("%s has no element %s", typ, name)
			}
			v, err := xmlValue(dec, tk, ce, ctyp)
			if err != nil {
				return err
			}
			if ce.Array {
				list, _ := obj[name].([]any)
				obj[name] = append(list, v)
			} else {
				obj[name] = v
			}
		}
	}
}

func xmlValue(dec *xml.Decoder, se xml.StartElement, e *fhir.Element, typ string) (any, error) {
	attr := func(n string) (string, bool) {
		for _, a := range se.Attr {
			if a.Name.Local == n {
				return a.Value, true
			}
		}
		return "", false
	}
	switch {
	case typ == "xhtml":
		var div struct {
			Inner string `xml:",innerxml"`
		}
		if err := dec.DecodeElement(&div, &se); err != nil {
			return nil, err
		}
		return `<div xmlns="http://www.w3.org/1999/xhtml">` + div.Inner + `</div>`, nil
	case typ == "Resource":
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			if rs, ok := tok.(xml.StartElement); ok {
				obj, err := xmlResource(dec, rs)
				if err != nil {
					return nil, err
				}
				return obj, dec.Skip()
			}
		}
	case typ != "" && typ[0] >= 'a' && typ[0] <= 'z':
		v, _ := attr("value")
		if err := dec.Skip(); err != nil {
			return nil, err
		}
		switch typ {
		case "boolean", "integer", "decimal", "positiveInt", "unsignedInt":
			return json.RawMessage(v), nil
		}
		return v, nil
	}
	obj := map[string]any{}
	if v, ok := attr("url"); ok {
		obj["url"] = v
	}
	if v, ok := attr("id"); ok {
		obj["id"] = v
	}
	return obj, xmlChildren(dec, e, typ, obj)
}

// childDef finds the definition of child name (a JSON/XML name, so a
// choice element with its type) of an element of definition e and type typ.
func childDef(e *fhir.Element, typ, name string) (*fhir.Element, string) {
	for _, k := range fhir.Children(e, typ) {
		c := fhir.ElementAt(k)
		if !c.Choice && c.Name == name {
			return c, c.Types[0]
		}
		if c.Choice {
			for _, ct := range c.Types {
				if fhir.ChoiceName(c.Name, ct) == name {
					return c, ct
				}
			}
		}
	}
	return nil, ""
}

// FuzzApply applies arbitrary patch documents to a resource: Apply may
// refuse them but must not panic, and what it leaves must serialise.
func FuzzApply(f *testing.F) {
	f.Add(`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name"},{"name":"index","valueInteger":0},{"name":"value","valueHumanName":{"family":"C"}}]}]}`)
	f.Add(`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name"},{"name":"source","valueInteger":1},{"name":"destination","valueInteger":0}]}]}`)
	f.Add(`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"contact"},{"name":"value","part":[{"name":"name","part":[{"name":"family","valueString":"D"}]}]}]}]}`)
	f.Add(`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.name.where(family='A')"}]}]}`)
	const patient = `{"resourceType":"Patient","id":"p","name":[{"family":"A"},{"family":"B"}],"contact":[{"gender":"male"}],"birthDate":"2000-01-01"}`
	f.Fuzz(func(t *testing.T, patch string) {
		doc, out := fhir.Parse([]byte(patch), fhir.Limits{})
		if doc == nil || out.HasErrors() {
			return
		}
		res, _ := fhir.Parse([]byte(patient), fhir.Limits{})
		if err := fhirpatch.Apply(res, doc); err != nil {
			return
		}
		fhir.Parse(fhir.Marshal(res), fhir.Limits{})
	})
}
