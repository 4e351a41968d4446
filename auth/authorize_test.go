package auth

import (
	"testing"
)

func TestAuthorize(t *testing.T) {
	denyAll, _ := NewPolicy("p1", testBase, []*Consent{mkConsent("c1", p(prov("deny")))})
	permitAll, _ := NewPolicy("p1", testBase, []*Consent{mkConsent("c9", p(prov("permit")))})
	none, _ := NewPolicy("p1", testBase, nil)
	other, _ := NewPolicy("p2", testBase, []*Consent{mkConsent("c2", p(prov("deny")), func(c *Consent) { c.Patient.Reference = "Patient/p2" })})
	two := with(obs, func(r *Resource) { r.Patients = []string{"p1", "p2"} })
	vitals := with(obs, func(r *Resource) {
		r.Params = map[string][]string{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"}}
	})
	tests := []struct {
		name     string
		scope    string
		purposes []string
		in       Interaction
		res      Resource
		pols     []*Policy
		def      Effect
		allowed  bool
		glass    bool
		consents []string
	}{
		{name: "scope and default permit", scope: "patient/Observation.rs", in: InteractionRead, res: obs, pols: []*Policy{none}, def: Permit, allowed: true},
		{name: "scope but consent deny", scope: "patient/Observation.rs", in: InteractionRead, res: obs, pols: []*Policy{denyAll}, def: Permit, consents: []string{"c1"}},
		{name: "consent permits, records the consent", scope: "user/Observation.rs", in: InteractionRead, res: obs, pols: []*Policy{permitAll}, allowed: true, consents: []string{"c9"}},
		{name: "no scope", scope: "patient/Condition.rs", in: InteractionRead, res: obs, pols: []*Policy{none}, def: Permit},
		{name: "other patient's compartment", scope: "patient/Observation.rs", in: InteractionRead,
			res: with(obs, func(r *Resource) { r.Patients = []string{"p2"} }), pols: []*Policy{other}, def: Permit},
		{name: "granular scope matches", scope: "patient/Observation.rs?category=vital-signs", in: InteractionRead, res: vitals, pols: []*Policy{none}, def: Permit, allowed: true},
		{name: "granular scope does not match", scope: "patient/Observation.rs?category=laboratory", in: InteractionRead, res: vitals, pols: []*Policy{none}, def: Permit},
		{name: "policy missing for a patient", scope: "user/Observation.rs", in: InteractionRead, res: two, pols: []*Policy{none}, def: Permit},
		{name: "every patient's consent counts", scope: "user/Observation.rs", in: InteractionRead, res: two, pols: []*Policy{none, other}, def: Permit, consents: []string{"c2"}},
		{name: "break-glass with scope", scope: "user/Observation.rs", purposes: []string{"ETREAT"}, in: InteractionRead, res: obs, pols: []*Policy{denyAll},
			allowed: true, glass: true, consents: []string{"c1"}},
		{name: "break-glass write", scope: "user/Observation.cu", purposes: []string{"BTG"}, in: InteractionUpdate, res: obs, pols: []*Policy{denyAll},
			allowed: true, glass: true, consents: []string{"c1"}},
		{name: "break-glass without scope", scope: "user/Condition.rs", purposes: []string{"BTG"}, in: InteractionRead, res: obs, pols: []*Policy{denyAll}},
		{name: "not patient data", scope: "user/Practitioner.rs", in: InteractionRead, res: Resource{Type: "Practitioner", ID: "7"}, allowed: true},
		{name: "pinned scope on data outside any compartment", scope: "patient/*.rs", in: InteractionRead, res: Resource{Type: "Practitioner", ID: "7"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := principalWith(tc.scope, func(p *Principal) { p.Purposes = tc.purposes })
			d := Authorize(pr, tc.in, &tc.res, tc.pols, CallerOf(pr), ConsentConfig{Default: tc.def}, testNow)
			if d.Allowed != tc.allowed || d.BreakGlass != tc.glass {
				t.Fatalf("Authorize(%s) = allowed %v glass %v (%s), want %v %v", tc.name, d.Allowed, d.BreakGlass, d.Reason, tc.allowed, tc.glass)
			}
			if len(d.Consents) != len(tc.consents) || (len(tc.consents) > 0 && d.Consents[0] != tc.consents[0]) {
				t.Errorf("Authorize(%s) consents = %v, want %v", tc.name, d.Consents, tc.consents)
			}
		})
	}
}
