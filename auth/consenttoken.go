package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrConsentToken is wrapped by ConsentGrant and ConsentTokenValid errors.
var ErrConsentToken = errors.New("consent token not valid")

// ConsentGrantRequest asks for a token bound to a Consent.
type ConsentGrantRequest struct {
	Audience string   // server base URL (also used to read local references)
	Grantee  string   // reference of who receives access, e.g. "Practitioner/7"
	ClientID string   // client the token is for, if any
	Purposes []string // purposes the grantee will assert
	Lifetime time.Duration
}

// ConsentGrant builds the MintRequest of a token bound to Consent c: sub and
// fhirUser are the grantee, patient the Consent's patient, the consent claim
// its id, the scopes exactly what the Consent's provisions naming the
// grantee as an actor permit (patient/<type>.rs for readable types, patient/<type>.cu for writable
// ones, never delete; "*" when a permit names no class), and the expiry no
// later than the end of the Consent's period.
//
// The scopes are an upper bound: every use is still evaluated against the
// Consent (deny provisions, labels, data periods), and ConsentTokenValid
// stops the token when the Consent is revoked, expires or no longer names
// the grantee.
func ConsentGrant(c *Consent, r ConsentGrantRequest, now time.Time) (MintRequest, error) {
	bad := func(why string) (MintRequest, error) {
		return MintRequest{}, fmt.Errorf("%w: %s", ErrConsentToken, why)
	}
	if r.Grantee == "" {
		return bad("no grantee")
	}
	if err := usableConsent(c, now); err != nil {
		return MintRequest{}, err
	}
	patient := c.PatientID(r.Audience)
	if patient == "" {
		return bad("consent has no local patient")
	}
	grantee := localRef(r.Grantee, r.Audience)
	scope := consentScopes(c, r.Audience, grantee, r.Purposes, now)
	if scope == "" {
		return bad("the consent permits nothing to the grantee")
	}
	life := r.Lifetime
	if life <= 0 {
		life = DefaultTokenLifetime
	}
	if end := c.End(); !end.IsZero() && now.Add(life).After(end) {
		life = end.Sub(now).Truncate(time.Second)
		if life <= 0 {
			return bad("consent period ends too soon")
		}
	}
	return MintRequest{
		Audience: r.Audience,
		Subject:  grantee,
		Scope:    scope,
		Patient:  patient,
		FHIRUser: grantee,
		ClientID: r.ClientID,
		Purposes: r.Purposes,
		Consent:  c.ID,
		Lifetime: life,
	}, nil
}

// ConsentTokenValid checks, on every use of a consent token, that its
// Consent still stands: the token is bound to c, c is active, in force,
// about the token's patient, understood, and still permits something to the
// token's subject. Revoking, expiring or changing the Consent stops the
// token at once. It does not replace per-resource evaluation.
func ConsentTokenValid(p *Principal, c *Consent, now time.Time) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrConsentToken, why) }
	switch {
	case p == nil || p.Consent == "":
		return bad("not a consent token")
	case !p.Local:
		return bad("consent tokens come from the local issuer only")
	case c == nil || c.ID != p.Consent:
		return bad("bound to another consent")
	}
	if err := usableConsent(c, now); err != nil {
		return err
	}
	if c.PatientID(p.Audience) != p.Patient {
		return bad("consent is about another patient")
	}
	if p.FHIRUser == "" || consentScopes(c, p.Audience, p.FHIRUser, p.Purposes, now) == "" {
		return bad("the consent no longer permits anything to the subject")
	}
	return nil
}

func usableConsent(c *Consent, now time.Time) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrConsentToken, why) }
	if c == nil {
		return bad("no consent")
	}
	if err := c.check(); err != nil {
		return bad("consent not understood: " + err.Error())
	}
	if c.Status != "active" {
		return bad("consent is " + c.Status)
	}
	if !c.HasScope(ScopePrivacy) {
		return bad("consent scope is not patient-privacy")
	}
	if !c.InForce(now) {
		return bad("consent not in force")
	}
	return nil
}

// consentScopes returns the space separated scopes Consent c permits to
// grantee, or "".
func consentScopes(c *Consent, base, grantee string, purposes []string, now time.Time) string {
	pol, _ := NewPolicy(c.PatientID(base), base, []*Consent{c})
	caller := Caller{Who: grantee, Purposes: purposes, Consent: c.ID}
	cfg := ConsentConfig{Default: Deny}
	letters := map[string]Perm{}
	for _, step := range []struct {
		a    Action
		perm Perm
	}{{ActionRead, PermRead | PermSearch}, {ActionWrite, PermCreate | PermUpdate}} {
		f := pol.Filter(caller, step.a, now, cfg)
		if f.Broken || f.Self {
			continue
		}
		for _, cl := range f.Permit {
			if !cl.named {
				continue // a base policy or a provision not naming the grantee
			}
			types := cl.Types
			if len(types) == 0 {
				types = []string{"*"}
			}
			for _, t := range types {
				letters[t] |= step.perm
			}
		}
	}
	if all, ok := letters["*"]; ok {
		for t, p := range letters {
			if t != "*" && all.Has(p) {
				delete(letters, t)
			}
		}
	}
	var out []string
	for t, p := range letters {
		out = append(out, "patient/"+t+"."+p.String())
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}
