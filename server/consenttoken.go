package server

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
)

func (s *Server) consentRoutes() {
	s.route("POST", "/fhir/Consent/{id}/$token", "consent-token",
		"Issue an access token bound to this Consent, for the grantee it names (the patient, a guardian or an administrator)",
		"Consent", system, s.consentToken)
}

// guardianRoles are the v3 RoleCode relationships that let a RelatedPerson
// act for the patient: legal guardian, parent, and holders of a power of
// attorney.
var guardianRoles = []string{"GUARD", "PRN", "MTH", "FTH", "POWATT", "DPOWATT", "HPOWATT"}

// consentToken answers POST /fhir/Consent/{id}/$token. The caller must be
// the Consent's patient (fhirUser Patient/{id}), a guardian of the patient
// (fhirUser a RelatedPerson of the patient with a guardian relationship)
// or an administrator; anyone else gets 404, as for a Consent they cannot
// see. The body is optional: a Parameters resource with "grantee" (a
// valueReference or valueString, e.g. Practitioner/7; default: the first
// actor a permit provision names) and "purpose" (valueCode, repeated).
//
// The token (auth.ConsentGrant) is bound to the Consent: its scopes are
// what the Consent permits the grantee, its lifetime ends with the
// Consent's period, and every use re-checks the Consent (guard), so
// revoking or changing the Consent stops it at once.
func (s *Server) consentToken(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	if s.cfg.Issuer == nil {
		return &httpError{status: http.StatusNotImplemented, code: "not-supported", msg: "this server issues no consent tokens"}
	}
	if p.Consent != "" {
		return &httpError{status: http.StatusForbidden, code: "forbidden", msg: "a consent token cannot issue consent tokens"}
	}
	id := r.PathValue("id")
	if !fhir.ValidID(id) {
		return fhir.ErrNotFound
	}
	v, err := s.cfg.Store.Read(r.Context(), "Consent", id)
	if err != nil {
		return fhir.ErrNotFound
	}
	c, err := auth.ParseConsent(v.Body)
	if err != nil {
		return &httpError{status: http.StatusUnprocessableEntity, code: "processing", msg: "the Consent cannot be evaluated"}
	}
	pid := c.PatientID(s.cfg.BaseURL)
	if pid == "" || !(p.Admin || p.FHIRUser == "Patient/"+pid || s.isGuardian(r, p.FHIRUser, pid)) {
		return fhir.ErrNotFound
	}
	grantee, purposes, err := consentTokenParams(r)
	if err != nil {
		return err
	}
	if grantee == "" {
		grantee = firstPermittedActor(c.Provision)
	}
	now := s.cfg.Now()
	mr, err := auth.ConsentGrant(c, auth.ConsentGrantRequest{Audience: s.cfg.BaseURL, Grantee: grantee, Purposes: purposes}, now)
	if err != nil {
		return &httpError{status: http.StatusUnprocessableEntity, code: "processing", msg: "the Consent grants nothing to this grantee now"}
	}
	m, err := s.cfg.Issuer.Mint(mr, now)
	if err != nil {
		return err
	}
	if s.cfg.Audit {
		ai := s.auditInput(r, auth.InteractionOperation, http.StatusOK)
		ai.Resource, ai.Patients, ai.Consents, ai.OutcomeDesc = "Consent/"+id, []string{pid}, []string{id}, "consent token issued"
		s.enqueueAudit(r.Context(), ai)
	}
	body := `{"resourceType":"Parameters","parameter":[` +
		`{"name":"access_token","valueString":` + strconv.Quote(m.Token) + `},` +
		`{"name":"token_type","valueString":"Bearer"},` +
		`{"name":"expires_in","valueInteger":` + strconv.FormatInt(int64(m.Expiry.Sub(now).Seconds()), 10) + `},` +
		`{"name":"scope","valueString":` + strconv.Quote(mr.Scope) + `},` +
		`{"name":"patient","valueString":` + strconv.Quote(pid) + `},` +
		`{"name":"grantee","valueString":` + strconv.Quote(mr.Subject) + `}]}`
	w.Header().Set("Content-Type", fhirJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(body))
	return nil
}

// consentTokenParams reads the optional Parameters body.
func consentTokenParams(r *http.Request) (grantee string, purposes []string, err error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return "", nil, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return "", nil, nil
	}
	n, out := fhir.Parse(body, fhir.Limits{})
	if n == nil || out.HasErrors() || n.Type != "Parameters" {
		return "", nil, badRequest("the body must be a Parameters resource")
	}
	for _, pm := range n.Get("parameter") {
		switch pm.String("name") {
		case "grantee":
			if ref := pm.First("valueReference"); ref != nil {
				grantee = ref.String("reference")
			} else {
				grantee = pm.String("valueString")
			}
		case "purpose":
			purposes = append(purposes, pm.String("valueCode"))
		}
	}
	return grantee, purposes, nil
}

// firstPermittedActor returns the first actor reference of a permit
// provision, depth first.
func firstPermittedActor(pr *auth.Provision) string {
	if pr == nil {
		return ""
	}
	if pr.Type == "permit" {
		for _, a := range pr.Actor {
			if a.Reference.Reference != "" {
				return a.Reference.Reference
			}
		}
	}
	for i := range pr.Provision {
		if a := firstPermittedActor(&pr.Provision[i]); a != "" {
			return a
		}
	}
	return ""
}

// isGuardian reports whether fhirUser is a RelatedPerson of patient pid
// with a guardian relationship.
func (s *Server) isGuardian(r *http.Request, fhirUser, pid string) bool {
	id, ok := strings.CutPrefix(fhirUser, "RelatedPerson/")
	if !ok || !fhir.ValidID(id) {
		return false
	}
	v, err := s.cfg.Store.Read(r.Context(), "RelatedPerson", id)
	if err != nil {
		return false
	}
	n, out := fhir.Parse(v.Body, fhir.Limits{})
	if n == nil || out.HasErrors() || n.First("patient") == nil || n.First("patient").String("reference") != "Patient/"+pid {
		return false
	}
	for _, rel := range n.Get("relationship") {
		for _, cd := range rel.Get("coding") {
			if contains(guardianRoles, cd.String("code")) {
				return true
			}
		}
	}
	return false
}
