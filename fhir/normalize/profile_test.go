package normalize

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadProfilesExamples(t *testing.T) {
	ps := testProfiles(t)
	for _, id := range []string{"acme-ehr", "northwind-clinic", "harbour-health"} {
		p, ok := ps[id]
		if !ok {
			t.Fatalf("LoadProfiles: no profile %q", id)
		}
		if p.ClientID() != id || p.Source() == "" {
			t.Errorf("profile %q: ClientID() = %q, Source() = %q", id, p.ClientID(), p.Source())
		}
	}
	acme := ps["acme-ehr"]
	if acme.loc == nil || acme.loc.String() != "America/Chicago" || acme.baseURL != "https://ehr.acme.example/fhir" {
		t.Errorf("acme-ehr: loc %v, base %q", acme.loc, acme.baseURL)
	}
	if got := acme.systems.lookup("LN"); got != LOINC {
		t.Errorf("acme-ehr lookup(LN) = %q, want the default alias %q", got, LOINC)
	}
	if got := ps["northwind-clinic"].Source(); got != "http://fhir.northwind.example/r4" {
		t.Errorf("northwind-clinic Source() = %q, want its base URL", got)
	}
}

func TestParseProfileErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       string // "line:field: message part"
	}{
		{"unknown-key", "client_id: a\nclientid: b\n", "test.yaml:2: clientid: unknown key"},
		{"missing-client", "name: x\n", "test.yaml:1: client_id: is required"},
		{"bad-client", "client_id: a b\n", "test.yaml:1: client_id: \"a b\" is not a valid client id"},
		{"bad-yaml", "client_id: [a\n", "test.yaml:1: invalid YAML"},
		{"not-mapping", "- a\n- b\n", "test.yaml:1: must be a mapping, not a list"},
		{"empty", "", "test.yaml: the file is empty"},
		{"bad-zone", "client_id: a\ntime_zone: Mars/Olympus\n", "test.yaml:2: time_zone: \"Mars/Olympus\" is not an IANA time zone name"},
		{"local-zone", "client_id: a\ntime_zone: Local\n", "time_zone: \"Local\" is not an IANA time zone name"},
		{"bad-base", "client_id: a\nbase_url: ftp://x/fhir\n", "test.yaml:2: base_url: \"ftp://x/fhir\" is not an http or https URL"},
		{"base-query", "client_id: a\nbase_url: https://x/fhir?a=b\n", "base_url: \"https://x/fhir?a=b\" must not have a query or fragment"},
		{"bad-source", "client_id: a\nsource: not a uri\n", "test.yaml:2: source: \"not a uri\" is not a URI: it contains white space"},
		{"source-fragment", "client_id: a\nsource: urn:x:y#z\n", "source: \"urn:x:y#z\" must not have a fragment"},
		{"bad-system-uri", "client_id: a\ncode_systems:\n  LN: loinc\n", "test.yaml:3: code_systems.LN: \"loinc\" is not an absolute URI"},
		{"bad-oid", "client_id: a\ncode_systems:\n  X: urn:oid:1..2\n", "code_systems.X: \"urn:oid:1..2\" is not a valid OID URI"},
		{"system-chain", "client_id: a\ncode_systems:\n  X: urn:oid:2.16.840.1.113883.6.1\n", "code_systems.X: \"urn:oid:2.16.840.1.113883.6.1\" is itself mapped to \"http://loinc.org\""},
		{"dup-key", "client_id: a\ncode_systems:\n  X: http://a.example\n  X: http://b.example\n", "test.yaml:4: code_systems.X: given twice"},
		{"bad-unit", "client_id: a\nunits:\n  aliases:\n    mgs: milligrams\n", "test.yaml:4: units.aliases.mgs: \"milligrams\" is not a valid UCUM code"},
		{"unit-chain", "client_id: a\nunits:\n  aliases:\n    x: ml\n", "units.aliases.x: \"ml\" is itself an alias of \"mL\""},
		{"units-unknown", "client_id: a\nunits:\n  infer: true\n", "test.yaml:3: units.infer: unknown key"},
		{"utc-not-bool", "client_id: a\nutc_instants: sometimes\n", "test.yaml:2: utc_instants: must be true or false"},
		{"infer-not-bool", "client_id: a\nunits:\n  infer_from_display: yes please\n", "units.infer_from_display: must be true or false"},
		{"convert-factor", "client_id: a\nunits:\n  convert:\n    - {from: \"[lb_av]\", to: kg, factor: 1e3}\n", "units.convert[0].factor: \"1e3\" is not a positive decimal number"},
		{"convert-missing", "client_id: a\nunits:\n  convert:\n    - {from: \"[lb_av]\", factor: \"2\"}\n", "units.convert[0].to: is required"},
		{"convert-bad-unit", "client_id: a\nunits:\n  convert:\n    - {from: lbs, to: kg, factor: \"2\"}\n", "units.convert[0].from: \"lbs\" is not a valid UCUM code"},
		{"convert-chain", "client_id: a\nunits:\n  convert:\n    - {from: \"[lb_av]\", to: kg, factor: \"2\"}\n    - {from: kg, to: g, factor: \"1000\"}\n", "units.convert[0].to: \"kg\" is converted again by units.convert[1]"},
		{"convert-element", "client_id: a\nunits:\n  convert:\n    - {from: \"[lb_av]\", to: kg, factor: \"2\", elements: [Patient.gender]}\n", "units.convert[0].elements[0]: Patient.gender is not a Quantity"},
		{"identifier-type", "client_id: a\nidentifiers:\n  - system: urn:x:y\n    type: XYZ\n", "test.yaml:4: identifiers[0].type: \"XYZ\" is not a code of http://terminology.hl7.org/CodeSystem/v2-0203"},
		{"identifier-system", "client_id: a\nidentifiers:\n  - aliases: [x]\n", "identifiers[0].system: is required"},
		{"identifier-unknown", "client_id: a\nidentifiers:\n  - system: urn:x:y\n    alias: [x]\n", "test.yaml:4: identifiers[0].alias: unknown key"},
		{"identifier-dup-alias", "client_id: a\nidentifiers:\n  - system: urn:x:y\n    aliases: [l]\n  - system: urn:x:z\n    aliases: [l]\n", "identifiers[1].aliases: \"l\" is already an alias of \"urn:x:y\""},
		{"extension-prefix", "client_id: a\nextensions:\n  deny: [vendor]\n", "test.yaml:3: extensions.deny[0]: \"vendor\" is not the start of an absolute URL"},
		{"values-path", "client_id: a\nvalues:\n  Patient.sex: {M: male}\n", "test.yaml:3: values.Patient.sex: \"Patient.sex\" is not an R4 element path"},
		{"values-datatype-path", "client_id: a\nvalues:\n  Patient.identifier.use: {U: usual}\n", "values.Patient.identifier.use: write the element as the definitions do: \"Identifier.use\""},
		{"values-binding", "client_id: a\nvalues:\n  Patient.gender: {M: man}\n", "test.yaml:3: values.Patient.gender.M: \"man\" is not in the required value set"},
		{"values-not-code", "client_id: a\nvalues:\n  Patient.birthDate: {x: y}\n", "values.Patient.birthDate: Patient.birthDate is not a code or string element"},
		{"alias-node", "client_id: &a x\n", "client_id: anchors and aliases are not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseProfile("test.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("ParseProfile(%q) = %v, want error %q", tc.yaml, p, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseProfile(%q) error = %q, want %q", tc.yaml, err, tc.want)
			}
			var pe *ProfileError
			if !errors.As(err, &pe) {
				t.Errorf("ParseProfile(%q) error %T is not a *ProfileError", tc.yaml, err)
			}
		})
	}
}

func TestParseProfileReportsAll(t *testing.T) {
	y := "client_id: a\ntime_zone: Nowhere\nbase_url: x\nfoo: 1\n"
	_, err := ParseProfile("p.yaml", []byte(y))
	if err == nil {
		t.Fatalf("ParseProfile(%q) = nil error", y)
	}
	for _, want := range []string{"p.yaml:2: time_zone", "p.yaml:3: base_url", "p.yaml:4: foo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ParseProfile(%q) error = %q, want it to mention %q", y, err, want)
		}
	}
}

func TestLoadProfilesDuplicateClient(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.yaml", "b.yml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("client_id: same\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := LoadProfiles(dir)
	if err == nil || !strings.Contains(err.Error(), "b.yml: client_id: \"same\" is also the client_id of") {
		t.Errorf("LoadProfiles = %v, %v; want a duplicate client_id error", ps, err)
	}
}

func TestNormalizerFallsBackToDefault(t *testing.T) {
	z := NewNormalizer(testProfiles(t))
	if z.Profile("unknown") != Default() {
		t.Errorf("Profile(unknown) is not the default profile")
	}
	if z.Profile("acme-ehr").ClientID() != "acme-ehr" {
		t.Errorf("Profile(acme-ehr) = %q", z.Profile("acme-ehr").ClientID())
	}
}

func TestUCUM(t *testing.T) {
	valid := []string{"mg/dL", "mm[Hg]", "/min", "kg/m2", "%", "10*3/uL", "10^3/uL", "[degF]", "[lb_av]", "[in_i]", "Cel", "mL/min/{1.73_m2}",
		"{score}", "ug{FEU}/mL", "s-1", "1", "meq/L", "[IU]/L", "cm[H2O]", "mol/(L.s)", "kg.m/s2", "ft", "%[slope]"}
	for _, u := range valid {
		if !validUCUM(u) {
			t.Errorf("validUCUM(%q) = false, want true", u)
		}
	}
	invalid := []string{"", "mg/dl ", "mmHg", "bpm", "lbs", "degF", "mg//dL", "(mg", "{x", "kg/m^2", "mcg", "in", "µg", "mg dl"}
	for _, u := range invalid {
		if validUCUM(u) {
			t.Errorf("validUCUM(%q) = true, want false", u)
		}
	}
	for from, to := range unitAliases {
		if !validUCUM(to) {
			t.Errorf("unit alias %q -> %q: target is not valid UCUM", from, to)
		}
		if next, ok := unitAliases[to]; ok {
			t.Errorf("unit alias %q -> %q -> %q: targets must be final", from, to, next)
		}
	}
}

func TestDecimal(t *testing.T) {
	cases := []struct{ a, b, want string }{
		{"185", "0.45359237", "83.91458845"},
		{"185.0", "0.45359237", "83.914588450"},
		{"-1.5", "2", "-3.0"},
		{"0.001", "0.1", "0.0001"},
		{"1.5e1", "2.54", "38.10"},
		{"2E-3", "1000", "2.000"},
		{"0", "2.54", "0.00"},
	}
	for _, tc := range cases {
		a, ok1 := parseDecimal(tc.a)
		b, ok2 := parseDecimal(tc.b)
		if !ok1 || !ok2 {
			t.Fatalf("parseDecimal(%q, %q) failed", tc.a, tc.b)
		}
		if got := a.mul(b).String(); got != tc.want {
			t.Errorf("%s * %s = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}
