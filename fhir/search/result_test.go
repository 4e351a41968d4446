package search

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseSort(t *testing.T) {
	cases := []struct {
		typ, raw string
		want     string // Param/Kind/Desc per key
		err      error
	}{
		{"Patient", "family", "family/2/false", nil},
		{"Patient", "-birthdate,_id", "birthdate/4/true _id/0/false", nil},
		{"Observation", "code,-value-quantity,subject", "code/1/false value-quantity/6/true subject/3/false", nil},
		{"", "-_lastUpdated", "_lastUpdated/4/true", nil},
		{"Patient", "nope", "", ErrUnknownParam},
		{"Patient", "family,", "", ErrUnknownParam},
		{"Observation", "code-value-quantity", "", ErrUnsupported},
		{"Patient", "_text", "", ErrUnsupported},
	}
	for _, c := range cases {
		keys, err := ParseSort(c.typ, c.raw)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("ParseSort(%q, %q) error = %v, want %v", c.typ, c.raw, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSort(%q, %q): %v", c.typ, c.raw, err)
			continue
		}
		var got []string
		for _, k := range keys {
			got = append(got, fmt.Sprintf("%s/%d/%v", k.Param, k.Kind, k.Desc))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("ParseSort(%q, %q) = %s, want %s", c.typ, c.raw, g, c.want)
		}
		if f := FormatSort(keys); f != c.raw {
			t.Errorf("FormatSort(ParseSort(%q)) = %q", c.raw, f)
		}
	}
}

func TestParseInclude(t *testing.T) {
	cases := []struct {
		name, raw string
		want      Include
		bad       bool
	}{
		{"_include", "Observation:subject", Include{Source: "Observation", Param: "subject"}, false},
		{"_include", "Observation:subject:Patient", Include{Source: "Observation", Param: "subject", Target: "Patient"}, false},
		{"_include:iterate", "Patient:general-practitioner", Include{Iterate: true, Source: "Patient", Param: "general-practitioner"}, false},
		{"_include:recurse", "Patient:link", Include{Iterate: true, Source: "Patient", Param: "link"}, false},
		{"_revinclude", "Provenance:target", Include{Rev: true, Source: "Provenance", Param: "target"}, false},
		{"_revinclude:iterate", "*", Include{Rev: true, Iterate: true, Param: "*"}, false},
		{"_include", "Observation:*", Include{Source: "Observation", Param: "*"}, false},
		{"_include", "*", Include{Param: "*"}, false},
		{"_include", "Observation:code", Include{}, true},               // not a reference
		{"_include", "Observation:subject:Medication", Include{}, true}, // never a target
		{"_include", "Nope:subject", Include{}, true},
		{"_include", "Observation", Include{}, true},
		{"_include:deep", "Observation:subject", Include{}, true},
	}
	for _, c := range cases {
		got, err := ParseInclude(c.name, c.raw)
		if c.bad {
			if err == nil {
				t.Errorf("ParseInclude(%q, %q) = %+v, want an error", c.name, c.raw, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseInclude(%q, %q) = %+v, %v; want %+v", c.name, c.raw, got, err, c.want)
		}
		if err == nil && got.String() != c.raw {
			t.Errorf("ParseInclude(%q).String() = %q", c.raw, got.String())
		}
	}
}

// describe prints a criterion tree: Type.param[:mod] with its chain.
func describe(c *Criterion) string {
	s := c.Type + "." + c.Param
	if c.Modifier != "" {
		s += ":" + c.Modifier
	}
	if c.HasParam != "" {
		s += "<" + c.HasParam
	}
	if len(c.Chain) > 0 {
		var parts []string
		for _, in := range c.Chain {
			parts = append(parts, describe(in))
		}
		s += "(" + strings.Join(parts, "|") + ")"
	}
	return s
}

func TestParseChain(t *testing.T) {
	cases := []struct {
		typ, name string
		want      string
		err       error
	}{
		{"Observation", "subject:Patient.name", "Observation.subject:Patient(Patient.name)", nil},
		{"Observation", "subject:Patient.name:exact", "Observation.subject:Patient(Patient.name:exact)", nil},
		{"Patient", "general-practitioner.organization.name",
			"Patient.general-practitioner(PractitionerRole.organization(Organization.name))", nil},
		{"Patient", "general-practitioner.name",
			"Patient.general-practitioner(Practitioner.name|Organization.name)", nil},
		{"Patient", "_has:Observation:patient:code", "Patient._has<patient(Observation.code)", nil},
		{"Patient", "_has:Observation:subject:_has:Provenance:target:agent",
			"Patient._has<subject(Observation._has<target(Provenance.agent))", nil},
		{"Practitioner", "_has:PractitionerRole:practitioner:organization.name",
			"Practitioner._has<practitioner(PractitionerRole.organization(Organization.name))", nil},
		{"Observation", "code.name", "", ErrUnknownParam},
		{"Observation", "subject:Patient.nope", "", ErrUnknownParam},
		{"Observation", "subject:Medication.name", "", ErrUnsupported},
		{"Patient", "_has:Observation:code:code", "", ErrUnknownParam},
		{"Patient", "_has:Observation:patient", "", ErrUnknownParam},
		{"Patient", "_has:Nope:patient:code", "", ErrUnknownParam},
		{"Organization", "_has:Observation:patient:code", "", ErrUnknownParam},
		{"Resource", "_has:Observation:patient:code", "", ErrUnsupported},
		{"Patient", "link:Patient.link:Patient.link:Patient.link:Patient.name", "Patient.link:Patient(Patient.link:Patient(Patient.link:Patient(Patient.link:Patient(Patient.name))))", nil},
		{"Patient", "link:Patient.link:Patient.link:Patient.link:Patient.link:Patient.name", "", ErrUnsupported},
		{"Patient", "_text", "", ErrUnsupported},
		{"Observation", "subject:Patient.age", "", ErrUnsupported},
		{"Observation", "component-code-value-quantity", "", ErrUnsupported},
		{"Observation", "code-value-quantity:missing", "", ErrUnsupported},
	}
	for _, c := range cases {
		got, err := Parse(c.typ, c.name, "x")
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Parse(%q, %q) error = %v, want %v", c.typ, c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", c.typ, c.name, err)
			continue
		}
		if d := describe(got); d != c.want {
			t.Errorf("Parse(%q, %q) = %s, want %s", c.typ, c.name, d, c.want)
		}
	}
}

// FuzzParse feeds arbitrary names and values to the query parsers: they
// may refuse them, never panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"subject:Patient.name", "_has:Observation:patient:code", "family:exact", "-birthdate,_id", "Observation:subject:Patient", "*"} {
		f.Add("Patient", s, "x,y|z")
	}
	f.Fuzz(func(t *testing.T, typ, name, raw string) {
		Parse(typ, name, raw)
		ParseSort(typ, name)
		ParseInclude("_include", name)
		ParseInclude("_revinclude:iterate", raw)
	})
}

func TestParseComposite(t *testing.T) {
	cases := []struct {
		raw  string
		want string // per value: the components' param=code/num, ANDed by &
		bad  bool
	}{
		{"http://loinc.org|8867-4$gt60", "code=8867-4&value-quantity=gt60", false},
		{"8867-4$60,8310-5$lt37.5", "code=8867-4&value-quantity=eq60 code=8310-5&value-quantity=lt37.5", false},
		{"8867-4", "", true},
		{"8867-4$notanumber", "", true},
	}
	for _, c := range cases {
		got, err := Parse("Observation", "code-value-quantity", c.raw)
		if c.bad {
			if err == nil {
				t.Errorf("Parse(code-value-quantity=%q) succeeded, want an error", c.raw)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(code-value-quantity=%q): %v", c.raw, err)
			continue
		}
		var vals []string
		for _, v := range got.Values {
			var parts []string
			for _, p := range v.Parts {
				pv := p.Values[0]
				if p.Kind == Quantity {
					parts = append(parts, fmt.Sprintf("%s=%s%v", p.Param, pv.Prefix, pv.Num))
				} else {
					parts = append(parts, p.Param+"="+pv.Code)
				}
			}
			vals = append(vals, strings.Join(parts, "&"))
		}
		if g := strings.Join(vals, " "); g != c.want {
			t.Errorf("Parse(code-value-quantity=%q) = %s, want %s", c.raw, g, c.want)
		}
	}
}
