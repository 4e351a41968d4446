package auth

import (
	"testing"
	"time"
)

// TestRestrictionAgreesWithCheck checks that wherever Restriction says it
// is exact, it hides exactly what Filter.Check denies, over a grid of
// resources; and that the forms it cannot express are reported as such.
func TestRestrictionAgreesWithCheck(t *testing.T) {
	labelHIV := SystemActCode + "|HIV"
	now := day("2024-07-01")
	cases := []struct {
		name     string
		consents []*Consent
		def      Effect
		who      string
		exact    bool
	}{
		{"no consent, default permit", nil, Permit, dr7, true},
		{"no consent, default deny", nil, Deny, dr7, true},
		{"deny a class", []*Consent{mkConsent("c1", p(prov("deny", class("Observation"))))}, Permit, dr7, true},
		{"deny a label", []*Consent{mkConsent("c1", p(prov("deny", label(SystemActCode, "PSY"))))}, Permit, dr7, true},
		{"deny an instance", []*Consent{mkConsent("c1", p(prov("deny", data("instance", "Observation/o1"))))}, Permit, dr7, true},
		{"permit a class to one actor", []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), class("Observation", "Condition"))))}, Deny, dr7, true},
		{"permit a class to another actor", []*Consent{mkConsent("c1", p(prov("permit", actor(dr8), class("Observation"))))}, Deny, dr7, true},
		{"opt-in with an HIV permit", []*Consent{mkConsent("c1", p(prov("", nested(prov("permit", label(SystemActCode, "HIV"))))), withPolicyRule("OPTIN"))}, Deny, dr7, true},
		{"deny all but one class to one actor", []*Consent{mkConsent("c1", p(prov("deny", nested(prov("permit", actor(dr7), class("Observation"))))))}, Permit, dr7, true},
		{"deny all but one class, another actor", []*Consent{mkConsent("c1", p(prov("deny", nested(prov("permit", actor(dr8), class("Observation"))))))}, Permit, dr7, true},
		{"opt-out", []*Consent{mkConsent("c1", nil, withPolicyRule("OPTOUT"))}, Permit, dr7, true},
		{"patient's own", []*Consent{mkConsent("c1", nil, withPolicyRule("OPTOUT"))}, Deny, "Patient/p1", true},
		{"deny by code", []*Consent{mkConsent("c1", p(prov("deny", code("http://loinc.org", "8867-4"))))}, Permit, dr7, false},
		{"deny a data period", []*Consent{mkConsent("c1", p(prov("deny", dataPeriod("2024-01-01", "2024-12-31"))))}, Permit, dr7, false},
		{"permit a class with an exception", []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), class("Observation"), nested(prov("deny", code("http://loinc.org", "8867-4"))))))}, Deny, dr7, false},
	}
	var grid []Resource
	for _, typ := range []string{"Observation", "Condition", "MedicationStatement"} {
		for _, labels := range [][]string{{}, {labelR}, {labelPSY}, {labelHIV}, {"http://hl7.org/fhir/v3/ActCode|PSY"}} {
			for _, id := range []string{"o1", "x2"} {
				grid = append(grid, Resource{Type: typ, ID: id, Patients: []string{"p1"}, Labels: labels, Date: day("2024-06-01"),
					Codes: []string{"http://loinc.org|8867-4"}, References: []string{"Patient/p1"}, Authors: []string{dr8}})
			}
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pol, problems := NewPolicy("p1", "", c.consents)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			f := pol.Filter(Caller{Who: c.who}, ActionRead, now, ConsentConfig{Default: c.def})
			res, exact := f.Restriction()
			if exact != c.exact {
				t.Fatalf("Restriction() exact = %v, want %v (%+v)", exact, c.exact, res)
			}
			if !exact {
				if !res.None {
					t.Errorf("an inexact Restriction must hide everything, got %+v", res)
				}
				return
			}
			visible := 0
			for _, r := range grid {
				want := f.Check(&r).Permit
				if got := res.Visible(&r); got != want {
					t.Errorf("%s/%s %v: Visible = %v, Check = %v (%+v)", r.Type, r.ID, r.Labels, got, want, res)
				}
				if want {
					visible++
				}
			}
			t.Logf("%d of %d visible", visible, len(grid))
		})
	}
}

func TestLockedPolicyDenies(t *testing.T) {
	f := LockedPolicy("p1").Filter(Caller{Who: dr7}, ActionRead, time.Now(), ConsentConfig{Default: Permit})
	if v := f.Check(&obs); v.Permit {
		t.Errorf("locked policy permits a read: %+v", v)
	}
	self := LockedPolicy("p1").Filter(Caller{Who: "Patient/p1"}, ActionRead, time.Now(), ConsentConfig{Default: Permit})
	if v := self.Check(&obs); !v.Permit {
		t.Errorf("locked policy denies the patient's own read: %+v", v)
	}
}
