package auth

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
)

// Builders for Consent test fixtures.

type provOpt func(*Provision)

func prov(typ string, opts ...provOpt) Provision {
	p := Provision{Type: typ}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func actor(ref string) provOpt {
	return func(p *Provision) {
		p.Actor = append(p.Actor, ProvisionActor{
			Role:      CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", Code: "IRCP"}}},
			Reference: Reference{Reference: ref},
		})
	}
}

func actorRole(system, code string) provOpt {
	return func(p *Provision) {
		p.Actor = append(p.Actor, ProvisionActor{Role: CodeableConcept{Coding: []Coding{{System: system, Code: code}}}})
	}
}

func action(codes ...string) provOpt {
	return func(p *Provision) {
		for _, c := range codes {
			p.Action = append(p.Action, CodeableConcept{Coding: []Coding{{System: SystemConsentAction, Code: c}}})
		}
	}
}

func class(types ...string) provOpt {
	return func(p *Provision) {
		for _, t := range types {
			p.Class = append(p.Class, Coding{System: SystemResourceTypes, Code: t})
		}
	}
}

func label(system, code string) provOpt {
	return func(p *Provision) { p.SecurityLabel = append(p.SecurityLabel, Coding{System: system, Code: code}) }
}

func purpose(code string) provOpt {
	return func(p *Provision) { p.Purpose = append(p.Purpose, Coding{System: SystemActReason, Code: code}) }
}

func period(start, end string) provOpt {
	return func(p *Provision) { p.Period = &Period{Start: start, End: end} }
}

func dataPeriod(start, end string) provOpt {
	return func(p *Provision) { p.DataPeriod = &Period{Start: start, End: end} }
}

func data(meaning, ref string) provOpt {
	return func(p *Provision) {
		p.Data = append(p.Data, ProvisionData{Meaning: meaning, Reference: Reference{Reference: ref}})
	}
}

func code(system, c string) provOpt {
	return func(p *Provision) {
		p.Code = append(p.Code, CodeableConcept{Coding: []Coding{{System: system, Code: c}}})
	}
}

func nested(children ...Provision) provOpt {
	return func(p *Provision) { p.Provision = append(p.Provision, children...) }
}

type consentOpt func(*Consent)

func mkConsent(id string, root *Provision, opts ...consentOpt) *Consent {
	c := &Consent{
		ResourceType: "Consent",
		ID:           id,
		Status:       "active",
		Scope:        CodeableConcept{Coding: []Coding{{System: SystemConsentScope, Code: ScopePrivacy}}},
		Patient:      Reference{Reference: "Patient/p1"},
		DateTime:     "2024-01-01",
		Provision:    root,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func withStatus(s string) consentOpt { return func(c *Consent) { c.Status = s } }

func withScope(code string) consentOpt {
	return func(c *Consent) { c.Scope.Coding[0].Code = code }
}

func withPolicyRule(code string) consentOpt {
	return func(c *Consent) {
		c.PolicyRule = &CodeableConcept{Coding: []Coding{{System: SystemActCode, Code: code}}}
	}
}

func p(pr Provision) *Provision { return &pr }

const (
	dr7      = "Practitioner/7"
	dr8      = "Practitioner/8"
	labelR   = SystemConfidentiality + "|R"
	labelPSY = SystemActCode + "|PSY"
	roleSys  = "http://terminology.hl7.org/CodeSystem/practitioner-role"
)

var (
	obs     = Resource{Type: "Observation", ID: "o1", Patients: []string{"p1"}, Date: day("2024-06-01"), Codes: []string{"http://loinc.org|8867-4"}, References: []string{"Patient/p1"}, Authors: []string{dr8}}
	cond    = Resource{Type: "Condition", ID: "c1", Patients: []string{"p1"}, Date: day("2024-06-01")}
	medStmt = Resource{Type: "MedicationStatement", ID: "m1", Patients: []string{"p1"}}
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func with(r Resource, f func(*Resource)) Resource {
	r.Labels = slices.Clone(r.Labels)
	f(&r)
	return r
}

func TestConsentDecisions(t *testing.T) {
	who := func(ref string) Caller { return Caller{Who: ref} }
	tests := []struct {
		name     string
		consents []*Consent
		caller   Caller
		action   Action // zero: read
		res      Resource
		def      Effect // zero: deny
		at       time.Time
		permit   bool
		glass    bool
	}{
		// Defaults.
		{name: "no consent, default permit", caller: who(dr7), res: obs, def: Permit, permit: true},
		{name: "no consent, default deny", caller: who(dr7), res: obs},
		{name: "permit all", consents: []*Consent{mkConsent("c1", p(prov("permit")))}, caller: who(dr7), res: obs, permit: true},
		{name: "deny all", consents: []*Consent{mkConsent("c1", p(prov("deny")))}, caller: who(dr7), res: obs, def: Permit},

		// Deny overrides permit.
		{name: "deny overrides permit across consents",
			consents: []*Consent{mkConsent("c1", p(prov("permit"))), mkConsent("c2", p(prov("deny", actor(dr7))))},
			caller:   who(dr7), res: obs},
		{name: "deny for someone else does not apply",
			consents: []*Consent{mkConsent("c1", p(prov("permit"))), mkConsent("c2", p(prov("deny", actor(dr7))))},
			caller:   who(dr8), res: obs, permit: true},
		{name: "deny overrides permit among siblings",
			consents: []*Consent{mkConsent("c1", p(prov("deny", nested(
				prov("permit", actor(dr7)),
				prov("deny", actor(dr7), class("Observation")),
			))))},
			caller: who(dr7), res: obs},
		{name: "sibling deny elsewhere leaves the permit",
			consents: []*Consent{mkConsent("c1", p(prov("deny", nested(
				prov("permit", actor(dr7)),
				prov("deny", actor(dr7), class("Observation")),
			))))},
			caller: who(dr7), res: cond, permit: true},

		// Nested exceptions.
		{name: "nested permit excepts a deny", consents: []*Consent{mkConsent("c1", p(prov("deny", nested(prov("permit", actor(dr7))))))},
			caller: who(dr7), res: obs, def: Permit, permit: true},
		{name: "nested permit for someone else", consents: []*Consent{mkConsent("c1", p(prov("deny", nested(prov("permit", actor(dr7))))))},
			caller: who(dr8), res: obs, def: Permit},
		{name: "exception to the exception applies",
			consents: []*Consent{mkConsent("c1", p(prov("deny", nested(prov("permit", actor(dr7), nested(prov("deny", class("Condition"))))))))},
			caller:   who(dr7), res: cond, def: Permit},
		{name: "exception to the exception elsewhere",
			consents: []*Consent{mkConsent("c1", p(prov("deny", nested(prov("permit", actor(dr7), nested(prov("deny", class("Condition"))))))))},
			caller:   who(dr7), res: obs, permit: true},
		{name: "nested deny excepts a permit by data period",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), nested(prov("deny", dataPeriod("2024-01-01", "2024-12-31"))))))},
			caller:   who(dr7), res: obs},
		{name: "nested deny by data period, other dates",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), nested(prov("deny", dataPeriod("2010", "2012"))))))},
			caller:   who(dr7), res: obs, permit: true},
		{name: "nested provision without type inherits the parent's",
			consents: []*Consent{mkConsent("c1", p(prov("deny", nested(prov("", actor(dr7))))))},
			caller:   who(dr7), res: obs},

		// Periods.
		{name: "consent not yet in force",
			consents: []*Consent{mkConsent("c1", p(prov("deny", period("2025-06-01", ""))))},
			caller:   who(dr7), res: obs, def: Permit, permit: true},
		{name: "consent expired",
			consents: []*Consent{mkConsent("c1", p(prov("deny", period("2020-01-01", "2024-12-31"))))},
			caller:   who(dr7), res: obs, def: Permit, permit: true},
		{name: "consent in force",
			consents: []*Consent{mkConsent("c1", p(prov("deny", period("2020-01-01", "2025-12-31"))))},
			caller:   who(dr7), res: obs, def: Permit},
		{name: "expired permit no longer permits",
			consents: []*Consent{mkConsent("c1", p(prov("permit", period("2024", "2024"))))},
			caller:   who(dr7), res: obs},
		{name: "period end date is inclusive",
			consents: []*Consent{mkConsent("c1", p(prov("permit", period("2024-01-01", "2025-03-01"))))},
			caller:   who(dr7), res: obs, permit: true},
		{name: "nested period in force",
			consents: []*Consent{mkConsent("c1", p(prov("permit", nested(prov("deny", actor(dr7), period("2025-02-01", "2025-03-10"))))))},
			caller:   who(dr7), res: obs},
		{name: "nested period over",
			consents: []*Consent{mkConsent("c1", p(prov("permit", nested(prov("deny", actor(dr7), period("2025-02-01", "2025-03-10"))))))},
			caller:   who(dr7), res: obs, at: day("2025-04-01"), permit: true},

		// Statuses.
		{name: "inactive deny ignored", consents: []*Consent{mkConsent("c1", p(prov("deny")), withStatus("inactive"))}, caller: who(dr7), res: obs, def: Permit, permit: true},
		{name: "rejected deny ignored", consents: []*Consent{mkConsent("c1", p(prov("deny")), withStatus("rejected"))}, caller: who(dr7), res: obs, def: Permit, permit: true},
		{name: "draft deny ignored", consents: []*Consent{mkConsent("c1", p(prov("deny")), withStatus("draft"))}, caller: who(dr7), res: obs, def: Permit, permit: true},
		{name: "proposed permit ignored", consents: []*Consent{mkConsent("c1", p(prov("permit")), withStatus("proposed"))}, caller: who(dr7), res: obs},
		{name: "entered-in-error permit ignored", consents: []*Consent{mkConsent("c1", p(prov("permit")), withStatus("entered-in-error"))}, caller: who(dr7), res: obs},
		{name: "inactive permit ignored", consents: []*Consent{mkConsent("c1", p(prov("permit")), withStatus("inactive"))}, caller: who(dr7), res: obs},
		{name: "research consent does not permit treatment access",
			consents: []*Consent{mkConsent("c1", p(prov("permit")), withScope(ScopeResearch))}, caller: who(dr7), res: obs},
		{name: "consent of another patient ignored",
			consents: []*Consent{mkConsent("c1", p(prov("deny")), func(c *Consent) { c.Patient.Reference = "Patient/p2" })},
			caller:   who(dr7), res: obs, def: Permit, permit: true},

		// Data period.
		{name: "data period deny matches", consents: []*Consent{mkConsent("c1", p(prov("deny", dataPeriod("2024-01", "2024-06"))))},
			caller: who(dr7), res: obs, def: Permit},
		{name: "data period deny other date", consents: []*Consent{mkConsent("c1", p(prov("deny", dataPeriod("2015-01-01", "2015-02-01"))))},
			caller: who(dr7), res: obs, def: Permit, permit: true},
		{name: "data period deny, date unknown", consents: []*Consent{mkConsent("c1", p(prov("deny", dataPeriod("2015-01-01", "2015-02-01"))))},
			caller: who(dr7), res: medStmt, def: Permit},
		{name: "data period permit, date unknown", consents: []*Consent{mkConsent("c1", p(prov("permit", dataPeriod("2015-01-01", ""))))},
			caller: who(dr7), res: medStmt},
		{name: "data period permit matches", consents: []*Consent{mkConsent("c1", p(prov("permit", dataPeriod("2015-01-01", ""))))},
			caller: who(dr7), res: obs, permit: true},

		// Actors.
		{name: "actor by organisation denied",
			consents: []*Consent{mkConsent("c1", p(prov("deny", actor("Organization/org1"))))},
			caller:   Caller{Who: dr7, Organization: "Organization/org1"}, res: obs, def: Permit},
		{name: "actor by organisation, other organisation",
			consents: []*Consent{mkConsent("c1", p(prov("deny", actor("Organization/org1"))))},
			caller:   Caller{Who: dr7, Organization: "Organization/org2"}, res: obs, def: Permit, permit: true},
		{name: "actor by absolute reference to this server",
			consents: []*Consent{mkConsent("c1", p(prov("deny", actor(testBase+"/Practitioner/7"))))},
			caller:   who(dr7), res: obs, def: Permit},
		{name: "actor by role permitted",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actorRole(roleSys, "doctor"))))},
			caller:   Caller{Who: dr7, Roles: []string{roleSys + "|doctor"}}, res: obs, permit: true},
		{name: "actor by role, other role",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actorRole(roleSys, "doctor"))))},
			caller:   Caller{Who: dr7, Roles: []string{roleSys + "|nurse"}}, res: obs},
		{name: "actor by group membership",
			consents: []*Consent{mkConsent("c1", p(prov("deny", actor("CareTeam/t1"))))},
			caller:   Caller{Who: dr7, Groups: []string{"CareTeam/t1"}}, res: obs, def: Permit},
		{name: "anonymous caller does not match an actor",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7))))},
			caller:   Caller{}, res: obs},

		// Actions.
		{name: "read-only grant reads", consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), action("access"))))},
			caller: who(dr7), res: obs, permit: true},
		{name: "read-only grant attempting a write", consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), action("access"))))},
			caller: who(dr7), action: ActionWrite, res: obs},
		{name: "correct grant writes", consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), action("correct"))))},
			caller: who(dr7), action: ActionWrite, res: obs, permit: true},
		{name: "correct grant does not read", consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), action("correct"))))},
			caller: who(dr7), res: obs},
		{name: "deny of disclosure blocks reads", consents: []*Consent{mkConsent("c1", p(prov("deny", action("disclose"))))},
			caller: who(dr7), res: obs, def: Permit},
		{name: "deny of disclosure leaves writes", consents: []*Consent{mkConsent("c1", p(prov("deny", action("disclose"))))},
			caller: who(dr7), action: ActionWrite, res: obs, def: Permit, permit: true},
		{name: "unknown action code makes a deny apply",
			consents: []*Consent{mkConsent("c1", p(prov("deny", func(p *Provision) {
				p.Action = []CodeableConcept{{Coding: []Coding{{System: "http://example.org/acts", Code: "peek"}}}}
			})))},
			caller: who(dr7), res: obs, def: Permit},
		{name: "unknown action code keeps a permit from applying",
			consents: []*Consent{mkConsent("c1", p(prov("permit", func(p *Provision) {
				p.Action = []CodeableConcept{{Coding: []Coding{{System: "http://example.org/acts", Code: "peek"}}}}
			})))},
			caller: who(dr7), res: obs},

		// Classes and codes.
		{name: "class permit matches", consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), class("Observation"))))},
			caller: who(dr7), res: obs, permit: true},
		{name: "class permit, other class", consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), class("Observation"))))},
			caller: who(dr7), res: cond},
		{name: "class deny", consents: []*Consent{mkConsent("c1", p(prov("deny", class("MedicationStatement", "Condition"))))},
			caller: who(dr7), res: medStmt, def: Permit},
		{name: "class deny, other class", consents: []*Consent{mkConsent("c1", p(prov("deny", class("MedicationStatement", "Condition"))))},
			caller: who(dr7), res: obs, def: Permit, permit: true},
		{name: "class in unknown system makes a deny apply",
			consents: []*Consent{mkConsent("c1", p(prov("deny", func(p *Provision) {
				p.Class = []Coding{{System: "http://example.org/classes", Code: "labs"}}
			})))},
			caller: who(dr7), res: obs, def: Permit},
		{name: "code deny matches", consents: []*Consent{mkConsent("c1", p(prov("deny", code("http://loinc.org", "8867-4"))))},
			caller: who(dr7), res: obs, def: Permit},
		{name: "code deny, other code", consents: []*Consent{mkConsent("c1", p(prov("deny", code("http://loinc.org", "1234-5"))))},
			caller: who(dr7), res: obs, def: Permit, permit: true},
		{name: "code deny, codes unknown", consents: []*Consent{mkConsent("c1", p(prov("deny", code("http://loinc.org", "1234-5"))))},
			caller: who(dr7), res: cond, def: Permit},

		// Security labels.
		{name: "restricted label, default permit", caller: who(dr7), res: with(obs, func(r *Resource) { r.Labels = []string{labelR} }), def: Permit},
		{name: "restricted label, permit without label",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7))))},
			caller:   who(dr7), res: with(obs, func(r *Resource) { r.Labels = []string{labelR} })},
		{name: "restricted label, permit naming it",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), label(SystemConfidentiality, "R"))))},
			caller:   who(dr7), res: with(obs, func(r *Resource) { r.Labels = []string{labelR} }), permit: true},
		{name: "restricted label, permit naming it for someone else",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr8), label(SystemConfidentiality, "R")))), mkConsent("c2", p(prov("permit")))},
			caller:   who(dr7), res: with(obs, func(r *Resource) { r.Labels = []string{labelR} })},
		{name: "sensitive category named with a pre-R4 system URI",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), label("http://hl7.org/fhir/v3/ActCode", "PSY"))))},
			caller:   who(dr7), res: with(obs, func(r *Resource) { r.Labels = []string{labelPSY} }), permit: true},
		{name: "two sensitive labels need both named",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), label(SystemActCode, "PSY"))))},
			caller:   who(dr7), res: with(obs, func(r *Resource) { r.Labels = []string{labelPSY, labelR} })},
		{name: "label permit does not cover unlabelled data",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), label(SystemConfidentiality, "R"))))},
			caller:   who(dr7), res: obs},
		{name: "normal label needs nothing", caller: who(dr7), def: Permit, permit: true,
			res: with(obs, func(r *Resource) { r.Labels = []string{SystemConfidentiality + "|N"} })},
		{name: "label deny", consents: []*Consent{mkConsent("c1", p(prov("deny", label(SystemActCode, "HIV"))))}, caller: who(dr7), def: Permit,
			res: with(obs, func(r *Resource) { r.Labels = []string{SystemActCode + "|HIV"} })},

		// Purposes.
		{name: "purpose deny matches", consents: []*Consent{mkConsent("c1", p(prov("deny", purpose("HMARKT"))))},
			caller: Caller{Who: dr7, Purposes: []string{"HMARKT"}}, res: obs, def: Permit},
		{name: "purpose deny, other purpose", consents: []*Consent{mkConsent("c1", p(prov("deny", purpose("HMARKT"))))},
			caller: Caller{Who: dr7, Purposes: []string{"TREAT"}}, res: obs, def: Permit, permit: true},
		{name: "purpose permit without purpose", consents: []*Consent{mkConsent("c1", p(prov("permit", purpose("TREAT"))))},
			caller: who(dr7), res: obs},

		// Break-glass.
		{name: "break-glass ETREAT overrides deny", consents: []*Consent{mkConsent("c1", p(prov("deny")))},
			caller: Caller{Who: dr7, Purposes: []string{"ETREAT"}}, res: obs, permit: true, glass: true},
		{name: "break-glass BTG overrides default deny", caller: Caller{Who: dr7, Purposes: []string{"BTG"}}, res: obs, permit: true, glass: true},
		{name: "break-glass overrides a label restriction", caller: Caller{Who: dr7, Purposes: []string{"BTG"}}, def: Permit, permit: true, glass: true,
			res: with(obs, func(r *Resource) { r.Labels = []string{labelR} })},
		{name: "break-glass not flagged when permitted anyway", consents: []*Consent{mkConsent("c1", p(prov("permit")))},
			caller: Caller{Who: dr7, Purposes: []string{"ETREAT"}}, res: obs, permit: true},
		{name: "TREAT is no break-glass", consents: []*Consent{mkConsent("c1", p(prov("deny")))},
			caller: Caller{Who: dr7, Purposes: []string{"TREAT"}}, res: obs},

		// Consent tokens.
		{name: "consent token counts only its consent's permits",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), class("Condition")))), mkConsent("c2", p(prov("permit")))},
			caller:   Caller{Who: dr7, Consent: "c1"}, res: obs},
		{name: "consent token permitted by its consent",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7), class("Observation")))), mkConsent("c2", p(prov("permit")))},
			caller:   Caller{Who: dr7, Consent: "c1"}, res: obs, permit: true},
		{name: "consent token ignores the default", caller: Caller{Who: dr7, Consent: "c1"}, res: obs, def: Permit},
		{name: "consent token still denied by another consent",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7)))), mkConsent("c2", p(prov("deny", actor(dr7))))},
			caller:   Caller{Who: dr7, Consent: "c1"}, res: obs},
		{name: "consent token cannot break glass",
			consents: []*Consent{mkConsent("c1", p(prov("deny")))},
			caller:   Caller{Who: dr7, Consent: "c1", Purposes: []string{"ETREAT"}}, res: obs},

		// The patient.
		{name: "patient sees own record despite a deny", consents: []*Consent{mkConsent("c1", p(prov("deny")))},
			caller: who("Patient/p1"), res: obs, permit: true},
		{name: "another patient is not self", consents: []*Consent{mkConsent("c1", p(prov("deny")))},
			caller: who("Patient/p2"), res: obs},

		// Data references.
		{name: "instance deny", consents: []*Consent{mkConsent("c1", p(prov("deny", data("instance", "Observation/o1"))))},
			caller: who(dr7), res: obs, def: Permit},
		{name: "instance deny, other instance", consents: []*Consent{mkConsent("c1", p(prov("deny", data("instance", "Observation/o2"))))},
			caller: who(dr7), res: obs, def: Permit, permit: true},
		{name: "dependents deny reaches referring resources", consents: []*Consent{mkConsent("c1", p(prov("deny", data("dependents", "Patient/p1"))))},
			caller: who(dr7), res: obs, def: Permit},
		{name: "dependents deny, references unknown", consents: []*Consent{mkConsent("c1", p(prov("deny", data("dependents", "ServiceRequest/s1"))))},
			caller: who(dr7), res: cond, def: Permit},
		{name: "authoredby deny", consents: []*Consent{mkConsent("c1", p(prov("deny", data("authoredby", dr8))))},
			caller: who(dr7), res: obs, def: Permit},
		{name: "authoredby deny, other author", consents: []*Consent{mkConsent("c1", p(prov("deny", data("authoredby", "Practitioner/9"))))},
			caller: who(dr7), res: obs, def: Permit, permit: true},

		// Base policy.
		{name: "OPTIN without provision permits", consents: []*Consent{mkConsent("c1", nil, withPolicyRule("OPTIN"))}, caller: who(dr7), res: obs, permit: true},
		{name: "OPTOUT without provision denies", consents: []*Consent{mkConsent("c1", nil, withPolicyRule("OPTOUT"))}, caller: who(dr7), res: obs, def: Permit},
		{name: "OPTIN with a deny for one organisation",
			consents: []*Consent{mkConsent("c1", p(prov("deny", actor("Organization/f001"), action("access", "correct"))), withPolicyRule("OPTIN"))},
			caller:   Caller{Who: dr7, Organization: "Organization/f001"}, res: obs},
		{name: "OPTIN with a deny for another organisation",
			consents: []*Consent{mkConsent("c1", p(prov("deny", actor("Organization/f001"))), withPolicyRule("OPTIN"))},
			caller:   Caller{Who: dr7, Organization: "Organization/f002"}, res: obs, permit: true},
		{name: "OPTOUT with a permit for one practitioner",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7))), withPolicyRule("OPTOUT"))},
			caller:   who(dr7), res: obs, def: Permit, permit: true},
		{name: "OPTOUT with a permit for another practitioner",
			consents: []*Consent{mkConsent("c1", p(prov("permit", actor(dr7))), withPolicyRule("OPTOUT"))},
			caller:   who(dr8), res: obs, def: Permit},
		{name: "untyped root takes the base policy",
			consents: []*Consent{mkConsent("c1", p(prov("", actor(dr7), nested(prov("deny", class("Condition"))))), withPolicyRule("OPTOUT"))},
			caller:   who(dr7), res: obs, def: Permit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol, _ := NewPolicy("p1", testBase, tc.consents)
			at := tc.at
			if at.IsZero() {
				at = testNow
			}
			a := tc.action
			if a == 0 {
				a = ActionRead
			}
			f := pol.Filter(tc.caller, a, at, ConsentConfig{Default: tc.def})
			v := f.Check(&tc.res)
			if v.Permit != tc.permit || v.BreakGlass != tc.glass {
				t.Errorf("Check(%s) = permit %v glass %v (%s), want permit %v glass %v", tc.name, v.Permit, v.BreakGlass, v.Reason, tc.permit, tc.glass)
			}
			// The serialised policy decides the same.
			b, err := json.Marshal(pol)
			if err != nil {
				t.Fatal(err)
			}
			var back Policy
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("Unmarshal(%s) = %v", b, err)
			}
			if v2 := back.Filter(tc.caller, a, at, ConsentConfig{Default: tc.def}).Check(&tc.res); !reflect.DeepEqual(v, v2) {
				t.Errorf("Check after JSON round trip = %+v, want %+v", v2, v)
			}
		})
	}
}

func TestCompilePolicyJSON(t *testing.T) {
	notOrg := `{"resourceType":"Consent","id":"consent-example-notOrg","status":"active",
	 "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
	 "patient":{"reference":"Patient/f001"},"dateTime":"2015-11-18",
	 "policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTIN"}]},
	 "provision":{"type":"deny","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PRCP"}]},
	   "reference":{"reference":"Organization/f001"}}],
	   "action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"access"}]},
	             {"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"correct"}]}]}}`
	draft := `{"resourceType":"Consent","id":"d","status":"draft","provision":{"type":"bogus"}}`
	brokenDate := `{"resourceType":"Consent","id":"b","status":"active","patient":{"reference":"Patient/f001"},
	 "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
	 "provision":{"type":"permit","period":{"start":"yesterday"}}}`
	res := Resource{Type: "Observation", ID: "o", Patients: []string{"f001"}}

	pol, problems := CompilePolicy("f001", testBase, [][]byte{[]byte(notOrg), []byte(draft)})
	if len(problems) != 0 || pol.Broken() || !reflect.DeepEqual(pol.ConsentIDs(), []string{"consent-example-notOrg"}) {
		t.Fatalf("CompilePolicy(notOrg, draft) = %v, %v", pol.ConsentIDs(), problems)
	}
	for _, tc := range []struct {
		org    string
		a      Action
		permit bool
	}{{"Organization/f001", ActionRead, false}, {"Organization/f001", ActionWrite, false}, {"Organization/f002", ActionRead, true}} {
		v := pol.Filter(Caller{Who: dr7, Organization: tc.org}, tc.a, testNow, ConsentConfig{Default: Deny}).Check(&res)
		if v.Permit != tc.permit {
			t.Errorf("notOrg Check(%s, %v) = %v (%s), want %v", tc.org, tc.a, v.Permit, v.Reason, tc.permit)
		}
	}

	pol, problems = CompilePolicy("f001", testBase, [][]byte{[]byte(notOrg), []byte(brokenDate)})
	if len(problems) != 1 || !pol.Broken() {
		t.Fatalf("CompilePolicy(broken date) problems = %v, broken = %v", problems, pol.Broken())
	}
	f := pol.Filter(Caller{Who: dr7, Organization: "Organization/f002"}, ActionRead, testNow, ConsentConfig{Default: Permit})
	if v := f.Check(&res); v.Permit || !f.None() {
		t.Errorf("broken policy Check = %+v, None = %v; want denied", v, f.None())
	}
	if v := pol.Filter(Caller{Who: "Patient/f001"}, ActionRead, testNow, ConsentConfig{}).Check(&res); !v.Permit {
		t.Errorf("broken policy denies the patient: %+v", v)
	}
	pol, problems = CompilePolicy("f001", testBase, [][]byte{[]byte("{not json")})
	if len(problems) != 1 || !pol.Broken() {
		t.Errorf("CompilePolicy(not JSON) problems = %v broken = %v", problems, pol.Broken())
	}
}

func TestParseConsent(t *testing.T) {
	base := `{"resourceType":"Consent","id":"x","status":"active","provision":%s}`
	deep := `{"type":"deny"}`
	for range maxProvisionDepth + 1 {
		deep = `{"type":"deny","provision":[` + deep + `]}`
	}
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"minimal", `{"resourceType":"Consent","id":"x","status":"active"}`, true},
		{"provision", strings.Replace(base, "%s", `{"type":"permit","period":{"start":"2020","end":"2021-06"}}`, 1), true},
		{"not a Consent", `{"resourceType":"Patient","id":"x","status":"active"}`, false},
		{"unknown status", `{"resourceType":"Consent","id":"x","status":"maybe"}`, false},
		{"unknown provision type", strings.Replace(base, "%s", `{"type":"allow"}`, 1), false},
		{"bad period", strings.Replace(base, "%s", `{"type":"deny","period":{"start":"2020-13-01"}}`, 1), false},
		{"period ends before start", strings.Replace(base, "%s", `{"type":"deny","period":{"start":"2021","end":"2020"}}`, 1), false},
		{"dateTime without zone", strings.Replace(base, "%s", `{"type":"deny","dataPeriod":{"start":"2020-01-01T10:00:00"}}`, 1), false},
		{"unknown data meaning", strings.Replace(base, "%s", `{"type":"deny","data":[{"meaning":"all","reference":{"reference":"Observation/1"}}]}`, 1), false},
		{"data without reference", strings.Replace(base, "%s", `{"type":"deny","data":[{"meaning":"instance","reference":{}}]}`, 1), false},
		{"too deep", strings.Replace(base, "%s", deep, 1), false},
		{"duplicate member", `{"resourceType":"Consent","id":"x","status":"active","status":"inactive"}`, false},
		{"wrong type", `{"resourceType":"Consent","id":"x","status":"active","provision":[]}`, false},
		{"not JSON", `{`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConsent([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseConsent(%s) = %v, %v; want ok=%v", tc.name, c, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrConsent) {
				t.Errorf("ParseConsent(%s) error %v does not wrap ErrConsent", tc.name, err)
			}
		})
	}
}

func TestFilterSummaries(t *testing.T) {
	pol, _ := NewPolicy("p1", testBase, []*Consent{
		mkConsent("c1", p(prov("deny", class("MedicationStatement")))),
		mkConsent("c2", p(prov("deny", data("instance", "Observation/o9")))),
		mkConsent("c3", p(prov("deny", label(SystemActCode, "HIV")))),
		mkConsent("c4", p(prov("permit", actor(dr7), label(SystemActCode, "PSY")))),
		mkConsent("c5", p(prov("deny", actor(dr8)))),
	})
	f := pol.Filter(Caller{Who: dr7}, ActionRead, testNow, ConsentConfig{Default: Permit})
	if got := f.DeniedTypes(); !reflect.DeepEqual(got, []string{"MedicationStatement"}) {
		t.Errorf("DeniedTypes() = %v", got)
	}
	if got := f.DeniedRefs(); !reflect.DeepEqual(got, []string{"Observation/o9"}) {
		t.Errorf("DeniedRefs() = %v", got)
	}
	got := f.DeniedLabels()
	if !slices.Contains(got, SystemActCode+"|HIV") || !slices.Contains(got, labelR) || slices.Contains(got, labelPSY) {
		t.Errorf("DeniedLabels() = %v, want HIV and R but not PSY", got)
	}
	if f.None() || f.All() || !f.Exact {
		t.Errorf("None() = %v, All() = %v, Exact = %v", f.None(), f.All(), f.Exact)
	}
	if f8 := pol.Filter(Caller{Who: dr8}, ActionRead, testNow, ConsentConfig{Default: Permit}); !f8.None() {
		t.Errorf("None() for a denied actor = false")
	}
	empty, _ := NewPolicy("p1", testBase, nil)
	if f := empty.Filter(Caller{Who: dr7}, ActionRead, testNow, ConsentConfig{Default: Permit}); !f.All() || f.None() {
		t.Errorf("empty policy, default permit: All() = %v None() = %v", f.All(), f.None())
	}
	if f := empty.Filter(Caller{Who: dr7}, ActionRead, testNow, ConsentConfig{}); f.All() || !f.None() {
		t.Errorf("empty policy, default deny: All() = %v None() = %v", f.All(), f.None())
	}
	odd, _ := NewPolicy("p1", testBase, []*Consent{mkConsent("c1", p(prov("permit", func(p *Provision) {
		p.Class = []Coding{{System: "http://example.org/x", Code: "labs"}, {System: SystemResourceTypes, Code: "Observation"}}
	})))})
	fo := odd.Filter(Caller{Who: dr7}, ActionRead, testNow, ConsentConfig{})
	if fo.Exact || len(fo.Permit) != 1 || !reflect.DeepEqual(fo.Permit[0].Types, []string{"Observation"}) {
		t.Errorf("unknown class: Exact = %v, Permit = %+v; want an inexact Observation-only permit", fo.Exact, fo.Permit)
	}
}

func TestParseEffect(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Effect
		ok   bool
	}{{"permit", Permit, true}, {"deny", Deny, true}, {"Permit", 0, false}, {"", 0, false}} {
		got, err := ParseEffect(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseEffect(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseConsent(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Consent","id":"x","status":"active","patient":{"reference":"Patient/p1"},
	 "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
	 "provision":{"type":"deny","provision":[{"type":"permit","actor":[{"reference":{"reference":"Practitioner/7"}}],
	 "dataPeriod":{"start":"2020"},"class":[{"system":"http://hl7.org/fhir/resource-types","code":"Observation"}]}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConsent(b)
		if err != nil {
			return
		}
		pol, _ := NewPolicy("p1", testBase, []*Consent{c})
		res := obs
		pol.Filter(Caller{Who: dr7}, ActionRead, testNow, ConsentConfig{Default: Permit}).Check(&res)
	})
}

// benchPolicy is a realistic policy: a base deny with exceptions for a care
// team, a research consent and a label restriction.
func benchPolicy(b *testing.B) *Policy {
	b.Helper()
	pol, problems := NewPolicy("p1", testBase, []*Consent{
		mkConsent("c1", p(prov("deny", nested(
			prov("permit", actor("CareTeam/t1"), action("access", "correct"), nested(
				prov("deny", label(SystemActCode, "PSY")),
				prov("deny", dataPeriod("2010", "2012")),
			)),
			prov("permit", actor(dr7), class("Observation", "Condition", "MedicationRequest"), label(SystemConfidentiality, "R")),
		)))),
		mkConsent("c2", p(prov("deny", actor("Organization/f001"))), withPolicyRule("OPTIN")),
		mkConsent("c3", p(prov("permit", purpose("HRESCH"))), withScope(ScopeResearch)),
	})
	if len(problems) != 0 {
		b.Fatal(problems)
	}
	return pol
}

func BenchmarkConsentDecision(b *testing.B) {
	pol := benchPolicy(b)
	caller := Caller{Who: dr7, Organization: "Organization/f002", Groups: []string{"CareTeam/t1"}, Purposes: []string{"TREAT"}}
	res := with(obs, func(r *Resource) { r.Labels = []string{labelR} })
	cfg := ConsentConfig{Default: Deny}
	b.Run("Filter+Check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v := pol.Filter(caller, ActionRead, testNow, cfg).Check(&res); !v.Permit {
				b.Fatal(v.Reason)
			}
		}
	})
	b.Run("Check", func(b *testing.B) {
		f := pol.Filter(caller, ActionRead, testNow, cfg)
		b.ReportAllocs()
		for b.Loop() {
			if v := f.Check(&res); !v.Permit {
				b.Fatal(v.Reason)
			}
		}
	})
	b.Run("Unmarshal+Filter+Check", func(b *testing.B) {
		saved, err := json.Marshal(pol)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			var p Policy
			if err := json.Unmarshal(saved, &p); err != nil {
				b.Fatal(err)
			}
			if v := p.Filter(caller, ActionRead, testNow, cfg).Check(&res); !v.Permit {
				b.Fatal(v.Reason)
			}
		}
	})
}
