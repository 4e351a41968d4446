package auth

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		in    string
		want  string // canonical String(); "" when invalid
		ctx   Context
		perm  Perm
		v1    bool
		nCons int
	}{
		// SMART v1.
		{in: "patient/Observation.read", want: "patient/Observation.rs", ctx: ContextPatient, perm: PermRead | PermSearch, v1: true},
		{in: "user/*.write", want: "user/*.cud", ctx: ContextUser, perm: PermCreate | PermUpdate | PermDelete, v1: true},
		{in: "user/*.*", want: "user/*.cruds", ctx: ContextUser, perm: PermAll, v1: true},
		{in: "system/Patient.*", want: "system/Patient.cruds", ctx: ContextSystem, perm: PermAll, v1: true},
		// SMART v2.
		{in: "patient/Observation.rs", want: "patient/Observation.rs", ctx: ContextPatient, perm: PermRead | PermSearch},
		{in: "user/*.cruds", want: "user/*.cruds", ctx: ContextUser, perm: PermAll},
		{in: "system/Patient.c", want: "system/Patient.c", ctx: ContextSystem, perm: PermCreate},
		{in: "patient/Condition.d", want: "patient/Condition.d", ctx: ContextPatient, perm: PermDelete},
		{in: "patient/Encounter.cu", want: "patient/Encounter.cu", ctx: ContextPatient, perm: PermCreate | PermUpdate},
		{in: "user/MedicationRequest.rus", want: "user/MedicationRequest.rus", ctx: ContextUser, perm: PermRead | PermUpdate | PermSearch},
		// Granular.
		{in: "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
			want: "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
			ctx:  ContextPatient, perm: PermRead | PermSearch, nCons: 1},
		{in: "patient/Observation.rs?category=laboratory,vital-signs&code=http://loinc.org|1234-5",
			want: "patient/Observation.rs?category=laboratory,vital-signs&code=http://loinc.org|1234-5",
			ctx:  ContextPatient, perm: PermRead | PermSearch, nCons: 2},
		{in: "user/Condition.rs?category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fcondition-category%7Cproblem-list-item",
			want: "user/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item",
			ctx:  ContextUser, perm: PermRead | PermSearch, nCons: 1},
		{in: "patient/Observation.rs?_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|N",
			want: "patient/Observation.rs?_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|N",
			ctx:  ContextPatient, perm: PermRead | PermSearch, nCons: 1},
		// Non-resource scopes.
		{in: "openid", want: "openid"},
		{in: "fhirUser", want: "fhirUser"},
		{in: "launch", want: "launch"},
		{in: "launch/patient", want: "launch/patient"},
		{in: "launch/encounter", want: "launch/encounter"},
		{in: "offline_access", want: "offline_access"},
		{in: "online_access", want: "online_access"},
		// Invalid.
		{in: ""},
		{in: "*.*"},
		{in: "email"},
		{in: "launch/"},
		{in: "launch/pa tient"},
		{in: "admin/Patient.read"},
		{in: "Patient/Observation.rs"},
		{in: "patient/.rs"},
		{in: "patient/Observation"},
		{in: "patient/Observation."},
		{in: "patient/observation.rs"},
		{in: "patient/Observ4tion.rs"},
		{in: "patient/Observation.rx"},
		{in: "patient/Observation.sr"},
		{in: "patient/Observation.rr"},
		{in: "patient/Observation.dc"},
		{in: "patient/Observation.RS"},
		{in: "patient/Observation.crudsx"},
		{in: "patient/Observation.Read"},
		{in: "patient/Observation.read?category=x"},
		{in: "patient/*.rs?category=x"},
		{in: "patient/Observation.rs?"},
		{in: "patient/Observation.rs?category"},
		{in: "patient/Observation.rs?category="},
		{in: "patient/Observation.rs?=x"},
		{in: "patient/Observation.rs?category:not=x"},
		{in: "patient/Observation.rs?subject.name=x"},
		{in: "patient/Observation.rs?_has:Group:member:_id=x"},
		{in: "patient/Observation.rs?_filter=x"},
		{in: "patient/Observation.rs?category=a,,b"},
		{in: "patient/Observation.rs?category=a%ZZ"},
		{in: "patient/Observation.rs?category=a%20b"},
		{in: `patient/Observation.rs?category=a\,b`},
		{in: "patient/Observation.rs?category=a&&code=b"},
		{in: "patient//Observation.rs"},
		{in: "patient/" + strings.Repeat("A", 1100) + ".rs"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseScope(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ParseScope(%q) = %v, want error", tc.in, got)
				}
				var se *ScopeError
				if !errors.As(err, &se) || !errors.Is(err, ErrScope) || se.Scope != tc.in {
					t.Errorf("ParseScope(%q) error = %v, want a *ScopeError for it", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseScope(%q) = %v, want %q", tc.in, err, tc.want)
			}
			if got.String() != tc.want || got.Context != tc.ctx || got.Perm != tc.perm || got.V1 != tc.v1 || len(got.Constraints) != tc.nCons {
				t.Errorf("ParseScope(%q) = %q %v %v v1=%v %d constraints, want %q %v %v v1=%v %d",
					tc.in, got.String(), got.Context, got.Perm, got.V1, len(got.Constraints), tc.want, tc.ctx, tc.perm, tc.v1, tc.nCons)
			}
			// The canonical form parses to the same grant.
			again, err := ParseScope(got.String())
			if tc.ctx != ContextNone && (err != nil || again.Perm != got.Perm || !reflect.DeepEqual(again.Constraints, got.Constraints)) {
				t.Errorf("ParseScope(%q) = %v, %v; does not round-trip", got.String(), again, err)
			}
		})
	}
}

func TestParseScopes(t *testing.T) {
	scopes, bad := ParseScopes("  openid patient/Observation.rs patient/Observation.rs  patient/Foo.xyz launch/patient\tuser/*.read ")
	var got []string
	for _, s := range scopes {
		got = append(got, s.Raw)
	}
	want := []string{"openid", "patient/Observation.rs", "launch/patient", "user/*.read"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseScopes valid = %q, want %q", got, want)
	}
	if len(bad) != 1 || bad[0].Scope != "patient/Foo.xyz" {
		t.Errorf("ParseScopes invalid = %v, want [patient/Foo.xyz]", bad)
	}
}

func principalWith(scope string, mod func(*Principal)) *Principal {
	s, bad := ParseScopes(scope)
	p := &Principal{Subject: "s", Scopes: s, InvalidScopes: bad, Patient: "p1", FHIRUser: "Practitioner/7"}
	if mod != nil {
		mod(p)
	}
	return p
}

func TestAllow(t *testing.T) {
	noPatient := func(p *Principal) { p.Patient = "" }
	noUser := func(p *Principal) { p.FHIRUser = "" }
	tests := []struct {
		name    string
		scope   string
		mod     func(*Principal)
		in      Interaction
		typ     string
		allowed bool
		pin     string // expected pin of the single grant
		nGrants int
		nCons   int // constraints on the first grant
	}{
		{name: "v2 read", scope: "patient/Observation.rs", in: InteractionRead, typ: "Observation", allowed: true, pin: "p1", nGrants: 1},
		{name: "v2 search", scope: "patient/Observation.rs", in: InteractionSearch, typ: "Observation", allowed: true, pin: "p1", nGrants: 1},
		{name: "v2 vread", scope: "patient/Observation.r", in: InteractionVRead, typ: "Observation", allowed: true, pin: "p1", nGrants: 1},
		{name: "v2 history-instance needs r", scope: "patient/Observation.r", in: InteractionHistoryInstance, typ: "Observation", allowed: true, pin: "p1", nGrants: 1},
		{name: "v2 history-type needs s", scope: "patient/Observation.r", in: InteractionHistoryType, typ: "Observation"},
		{name: "v2 r does not search", scope: "patient/Observation.r", in: InteractionSearch, typ: "Observation"},
		{name: "v2 s does not read", scope: "patient/Observation.s", in: InteractionRead, typ: "Observation"},
		{name: "read-only cannot create", scope: "patient/Observation.rs", in: InteractionCreate, typ: "Observation"},
		{name: "read-only cannot update", scope: "patient/Observation.rs", in: InteractionUpdate, typ: "Observation"},
		{name: "u allows patch", scope: "user/Observation.u", in: InteractionPatch, typ: "Observation", allowed: true, nGrants: 1},
		{name: "d allows delete", scope: "system/Observation.d", in: InteractionDelete, typ: "Observation", allowed: true, nGrants: 1},
		{name: "v1 read = rs", scope: "patient/Observation.read", in: InteractionSearch, typ: "Observation", allowed: true, pin: "p1", nGrants: 1},
		{name: "v1 read cannot write", scope: "patient/Observation.read", in: InteractionCreate, typ: "Observation"},
		{name: "v1 write = cud", scope: "user/*.write", in: InteractionDelete, typ: "Condition", allowed: true, nGrants: 1},
		{name: "v1 write cannot read", scope: "user/*.write", in: InteractionRead, typ: "Condition"},
		{name: "v1 star", scope: "system/*.*", in: InteractionUpdate, typ: "Patient", allowed: true, nGrants: 1},
		{name: "wrong type", scope: "patient/Observation.rs", in: InteractionRead, typ: "Condition"},
		{name: "wildcard type", scope: "patient/*.rs", in: InteractionRead, typ: "Condition", allowed: true, pin: "p1", nGrants: 1},
		{name: "operation needs r and s", scope: "patient/Patient.rs", in: InteractionOperation, typ: "Patient", allowed: true, pin: "p1", nGrants: 1},
		{name: "operation with r only", scope: "patient/Patient.r", in: InteractionOperation, typ: "Patient"},
		{name: "patient scope without patient claim", scope: "patient/*.rs", mod: noPatient, in: InteractionRead, typ: "Observation"},
		{name: "user scope without fhirUser", scope: "user/*.rs", mod: noUser, in: InteractionRead, typ: "Observation"},
		{name: "system scope needs no claim", scope: "system/*.rs", mod: func(p *Principal) { p.Patient, p.FHIRUser = "", "" }, in: InteractionRead, typ: "Observation", allowed: true, nGrants: 1},
		{name: "non-resource scopes grant nothing", scope: "openid fhirUser launch/patient offline_access", in: InteractionRead, typ: "Patient"},
		{name: "invalid scope grants nothing", scope: "patient/Observation.rsx", in: InteractionRead, typ: "Observation"},
		{name: "no scopes", scope: "", in: InteractionRead, typ: "Observation"},
		{name: "granular", scope: "patient/Observation.rs?category=vital-signs", in: InteractionSearch, typ: "Observation", allowed: true, pin: "p1", nGrants: 1, nCons: 1},
		{name: "two granular scopes are alternatives", scope: "patient/Observation.rs?category=vital-signs patient/Observation.rs?category=laboratory",
			in: InteractionSearch, typ: "Observation", allowed: true, pin: "p1", nGrants: 2, nCons: 1},
		{name: "unconstrained covers granular with same pin", scope: "patient/Observation.rs?category=vital-signs patient/Observation.rs",
			in: InteractionSearch, typ: "Observation", allowed: true, pin: "p1", nGrants: 1},
		{name: "system covers everything", scope: "patient/Observation.rs?category=laboratory system/Observation.rs",
			in: InteractionRead, typ: "Observation", allowed: true, nGrants: 1},
		{name: "granular does not widen a patient pin", scope: "patient/Observation.rs user/Observation.rs?category=laboratory",
			in: InteractionRead, typ: "Observation", allowed: true, pin: "p1", nGrants: 2},
		{name: "granular scope on another type", scope: "patient/Condition.rs?category=problem-list-item", in: InteractionRead, typ: "Observation"},
		{name: "invalid resource type", scope: "patient/*.rs", in: InteractionRead, typ: "observation"},
		{name: "nil-like unknown interaction", scope: "patient/*.rs", in: 0, typ: "Observation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := principalWith(tc.scope, tc.mod)
			d := Allow(p, tc.in, tc.typ)
			if d.Allowed != tc.allowed {
				t.Fatalf("Allow(%q, %v, %s) = %v (%s), want %v", tc.scope, tc.in, tc.typ, d.Allowed, d.Reason, tc.allowed)
			}
			if !tc.allowed {
				if len(d.Grants) != 0 || d.Reason == "" {
					t.Errorf("Allow(%q) denied with grants %v, reason %q", tc.scope, d.Grants, d.Reason)
				}
				return
			}
			if len(d.Grants) != tc.nGrants {
				t.Fatalf("Allow(%q) grants = %+v, want %d", tc.scope, d.Grants, tc.nGrants)
			}
			if d.Grants[0].Patient != tc.pin || len(d.Grants[0].Constraints) != tc.nCons {
				t.Errorf("Allow(%q) grant = %+v, want pin %q and %d constraints", tc.scope, d.Grants[0], tc.pin, tc.nCons)
			}
		})
	}
	if d := Allow(nil, InteractionRead, "Patient"); d.Allowed {
		t.Errorf("Allow(nil) allowed")
	}
}

func TestGrantMatches(t *testing.T) {
	vital := Constraint{Param: "category", Values: []string{"http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"}}
	anyLab := Constraint{Param: "category", Values: []string{"laboratory"}}
	tests := []struct {
		name  string
		g     Grant
		res   Resource
		match bool
	}{
		{"pinned, in compartment", Grant{Patient: "p1"}, Resource{Type: "Observation", Patients: []string{"p1"}}, true},
		{"pinned, other patient", Grant{Patient: "p1"}, Resource{Type: "Observation", Patients: []string{"p2"}}, false},
		{"pinned, no compartment", Grant{Patient: "p1"}, Resource{Type: "Practitioner"}, false},
		{"pinned, the patient itself", Grant{Patient: "p1"}, Resource{Type: "Patient", ID: "p1"}, true},
		{"pinned, another Patient", Grant{Patient: "p1"}, Resource{Type: "Patient", ID: "p2", Patients: []string{"p1"}}, false},
		{"token with system", Grant{Constraints: []Constraint{vital}},
			Resource{Params: map[string][]string{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"}}}, true},
		{"token, other system", Grant{Constraints: []Constraint{vital}},
			Resource{Params: map[string][]string{"category": {"http://example.org|vital-signs"}}}, false},
		{"code only", Grant{Constraints: []Constraint{anyLab}},
			Resource{Params: map[string][]string{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}}, true},
		{"parameter missing", Grant{Constraints: []Constraint{anyLab}}, Resource{}, false},
		{"all constraints must hold", Grant{Constraints: []Constraint{anyLab, {Param: "code", Values: []string{"http://loinc.org|1"}}}},
			Resource{Params: map[string][]string{"category": {"x|laboratory"}}}, false},
		{"system only", Grant{Constraints: []Constraint{{Param: "code", Values: []string{"http://loinc.org|"}}}},
			Resource{Params: map[string][]string{"code": {"http://loinc.org|1234-5"}}}, true},
		{"plain value", Grant{Constraints: []Constraint{{Param: "status", Values: []string{"final"}}}},
			Resource{Params: map[string][]string{"status": {"final"}}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.g.Matches(&tc.res); got != tc.match {
				t.Errorf("%+v.Matches(%+v) = %v, want %v", tc.g, tc.res, got, tc.match)
			}
		})
	}
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"patient/Observation.rs", "user/*.write", "system/*.*", "openid", "launch/patient",
		"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
		"patient/Observation.rs?category=a,b&code=c%7Cd", "patient/Observation.sr", "x/y.z?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if err != nil {
			if sc.Context != ContextNone || sc.Perm != 0 {
				t.Fatalf("ParseScope(%q) failed but returned a grant %+v", s, sc)
			}
			return
		}
		if sc.Context == ContextNone {
			if sc.Perm != 0 || sc.Type != "" {
				t.Fatalf("ParseScope(%q) = non-resource scope with permissions %+v", s, sc)
			}
			return
		}
		if sc.Perm == 0 || sc.Perm&^PermAll != 0 || (sc.Type != "*" && !isResourceType(sc.Type)) {
			t.Fatalf("ParseScope(%q) = %+v: bad permissions or type", s, sc)
		}
		if sc.Type == "*" && len(sc.Constraints) > 0 {
			t.Fatalf("ParseScope(%q) = wildcard with constraints", s)
		}
		again, err := ParseScope(sc.String())
		if err != nil {
			t.Fatalf("ParseScope(%q).String() = %q does not parse: %v", s, sc.String(), err)
		}
		if again.Context != sc.Context || again.Type != sc.Type || again.Perm != sc.Perm || !reflect.DeepEqual(again.Constraints, sc.Constraints) {
			t.Fatalf("ParseScope(%q) = %+v, round trip %+v", s, sc, again)
		}
	})
}
