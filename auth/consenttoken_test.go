package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestConsentGrant(t *testing.T) {
	readObs := mkConsent("c1", p(prov("deny", nested(
		prov("permit", actor(dr7), action("access"), class("Observation", "Condition")),
		prov("permit", actor(dr7), action("correct"), class("Observation")),
	))), func(c *Consent) { c.Provision.Period = &Period{Start: "2025-01-01", End: "2025-03-01T18:00:00Z"} })
	anyType := mkConsent("c2", p(prov("permit", actor("RelatedPerson/r1"))))
	tests := []struct {
		name      string
		c         *Consent
		grantee   string
		purposes  []string
		scope     string
		life      time.Duration // expected lifetime
		wantError bool
	}{
		{name: "scopes follow class and action", c: readObs, grantee: dr7,
			scope: "patient/Condition.rs patient/Observation.crus", life: 6 * time.Hour},
		{name: "absolute grantee reference", c: readObs, grantee: testBase + "/" + dr7,
			scope: "patient/Condition.rs patient/Observation.crus", life: 6 * time.Hour},
		{name: "no class means every type", c: anyType, grantee: "RelatedPerson/r1", scope: "patient/*.crus", life: 24 * time.Hour},
		{name: "grantee not named", c: readObs, grantee: dr8, wantError: true},
		{name: "base policy alone names nobody", c: mkConsent("c3", nil, withPolicyRule("OPTIN")), grantee: dr7, wantError: true},
		{name: "purpose-bound permit without the purpose", c: mkConsent("c4", p(prov("permit", actor(dr7), purpose("TREAT")))), grantee: dr7, wantError: true},
		{name: "purpose-bound permit with the purpose", c: mkConsent("c4", p(prov("permit", actor(dr7), purpose("TREAT")))), grantee: dr7,
			purposes: []string{"TREAT"}, scope: "patient/*.crus", life: 24 * time.Hour},
		{name: "inactive consent", c: mkConsent("c5", p(prov("permit", actor(dr7))), withStatus("inactive")), grantee: dr7, wantError: true},
		{name: "expired consent", c: mkConsent("c6", p(prov("permit", actor(dr7), period("2020", "2024")))), grantee: dr7, wantError: true},
		{name: "research consent", c: mkConsent("c7", p(prov("permit", actor(dr7))), withScope(ScopeResearch)), grantee: dr7, wantError: true},
		{name: "no grantee", c: anyType, grantee: "", wantError: true},
		{name: "patient not local", c: mkConsent("c8", p(prov("permit", actor(dr7))), func(c *Consent) { c.Patient.Reference = "https://elsewhere.test/Patient/1" }),
			grantee: dr7, wantError: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ConsentGrant(tc.c, ConsentGrantRequest{Audience: testBase, Grantee: tc.grantee, Purposes: tc.purposes, Lifetime: 24 * time.Hour}, testNow)
			if tc.wantError {
				if err == nil || !errors.Is(err, ErrConsentToken) {
					t.Fatalf("ConsentGrant(%s) = %+v, %v; want ErrConsentToken", tc.name, r, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConsentGrant(%s) = %v", tc.name, err)
			}
			if r.Scope != tc.scope || r.Consent != tc.c.ID || r.Patient != "p1" || r.Subject != localRef(tc.grantee, testBase) || r.Lifetime != tc.life {
				t.Errorf("ConsentGrant(%s) = %+v, want scope %q lifetime %v", tc.name, r, tc.scope, tc.life)
			}
		})
	}
}

func TestConsentTokenLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := mkConsent("c1", p(prov("permit", actor(dr7), action("access"), class("Observation"), period("2025-01-01", "2025-12-31"))))
	req, err := ConsentGrant(c, ConsentGrantRequest{Audience: testBase, Grantee: dr7, Lifetime: 24 * time.Hour}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.local.Mint(req, testNow)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := f.v.Verify(ctx, m.Token)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Consent != "c1" || pr.Patient != "p1" || pr.FHIRUser != dr7 || len(pr.Scopes) != 1 || pr.Scopes[0].String() != "patient/Observation.rs" {
		t.Fatalf("consent token principal = %+v", pr)
	}
	if err := ConsentTokenValid(pr, c, testNow); err != nil {
		t.Fatalf("ConsentTokenValid(fresh) = %v", err)
	}
	pol, _ := NewPolicy("p1", testBase, []*Consent{c})
	d := Authorize(pr, InteractionRead, &obs, []*Policy{pol}, CallerOf(pr), ConsentConfig{Default: Permit}, testNow)
	if !d.Allowed {
		t.Errorf("Authorize(consent token, Observation) = %s", d.Reason)
	}
	if d := Authorize(pr, InteractionRead, &cond, []*Policy{pol}, CallerOf(pr), ConsentConfig{Default: Permit}, testNow); d.Allowed {
		t.Errorf("Authorize(consent token, Condition) allowed; the consent only covers Observation")
	}
	if d := Authorize(pr, InteractionUpdate, &obs, []*Policy{pol}, CallerOf(pr), ConsentConfig{Default: Permit}, testNow); d.Allowed {
		t.Errorf("Authorize(consent token, update) allowed")
	}

	changed := func(f func(*Consent)) *Consent {
		cc := *c
		root := *c.Provision
		cc.Provision = &root
		f(&cc)
		return &cc
	}
	tests := []struct {
		name string
		c    *Consent
		p    *Principal
		at   time.Time
	}{
		{"revoked consent", changed(func(c *Consent) { c.Status = "inactive" }), pr, testNow},
		{"consent expired", c, pr, day("2026-01-02")},
		{"grantee removed", changed(func(c *Consent) { c.Provision.Actor = nil; actor(dr8)(c.Provision) }), pr, testNow},
		{"turned into a deny", changed(func(c *Consent) { c.Provision.Type = "deny" }), pr, testNow},
		{"another consent", changed(func(c *Consent) { c.ID = "c2" }), pr, testNow},
		{"another patient", changed(func(c *Consent) { c.Patient.Reference = "Patient/p2" }), pr, testNow},
		{"not a consent token", c, &Principal{Subject: dr7, FHIRUser: dr7, Patient: "p1", Local: true}, testNow},
		{"external token", c, func() *Principal { q := *pr; q.Local = false; return &q }(), testNow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ConsentTokenValid(tc.p, tc.c, tc.at); !errors.Is(err, ErrConsentToken) {
				t.Errorf("ConsentTokenValid(%s) = %v, want ErrConsentToken", tc.name, err)
			}
		})
	}
}
