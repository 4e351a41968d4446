package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
)

// Authenticator turns a bearer token into a principal. *auth.Verifier
// implements it; its errors are logged, never shown.
type Authenticator interface {
	Verify(ctx context.Context, raw string) (*auth.Principal, error)
}

// Route access classes beside the auth.Interaction values.
const (
	public auth.Interaction = 0   // no token needed
	system auth.Interaction = 255 // a token; the handler decides per type
)

type principalKey struct{}
type decisionKey struct{}

func principalOf(r *http.Request) *auth.Principal {
	p, _ := r.Context().Value(principalKey{}).(*auth.Principal)
	return p
}

func decisionOf(r *http.Request) auth.Decision {
	d, _ := r.Context().Value(decisionKey{}).(auth.Decision)
	return d
}

// guard authenticates the request and, for interactions on one resource
// type, checks the token's scopes before the handler runs. Patient pins and
// granular constraints are checked by the handler on the resources
// themselves (permit).
func (s *Server) guard(r *http.Request, in auth.Interaction, typ string) (*http.Request, error) {
	if in == public {
		return r, nil
	}
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || raw == "" || s.cfg.Auth == nil {
		return r, fhir.ErrUnauthenticated
	}
	p, err := s.cfg.Auth.Verify(r.Context(), strings.TrimSpace(raw))
	if err != nil {
		s.log.Info("token refused", "request_id", requestID(r), "err", err)
		return r, fhir.ErrUnauthenticated
	}
	ctx := context.WithValue(r.Context(), principalKey{}, p)
	if in != system && typ != "" {
		if in.Writes() && typ == "AuditEvent" {
			return r, &httpError{status: http.StatusForbidden, code: "forbidden", msg: "AuditEvents are written by the server only"}
		}
		d := auth.Allow(p, in, typ)
		if !d.Allowed {
			return r, fhir.ErrForbidden
		}
		ctx = context.WithValue(ctx, decisionKey{}, d)
	}
	return r.WithContext(ctx), nil
}

// permit checks a resource against the request's scope decision. A
// resource the caller may not see is reported as not found, so a denial
// never confirms that it exists.
func (s *Server) permit(r *http.Request, res *fhir.Node) error {
	d := decisionOf(r)
	if d.Unrestricted() {
		return nil
	}
	facts := resourceFacts(res)
	for _, g := range d.Grants {
		if g.Matches(facts) {
			return nil
		}
	}
	return fhir.ErrNotFound
}

// permitBytes is permit for stored bytes.
func (s *Server) permitBytes(r *http.Request, body []byte) error {
	if decisionOf(r).Unrestricted() {
		return nil
	}
	n, out := fhir.Parse(body, fhir.Limits{})
	if n == nil || out.HasErrors() {
		return fhir.ErrNotFound
	}
	return s.permit(r, n)
}

// requireUnrestricted is for interactions whose results cannot yet be
// filtered by a patient pin or granular constraints (searches, history,
// bundles): they need an unrestricted grant for every type involved, and
// fail closed otherwise.
func (s *Server) requireUnrestricted(r *http.Request, in auth.Interaction, types []string) error {
	p := principalOf(r)
	if p == nil {
		return fhir.ErrUnauthenticated
	}
	if len(types) == 0 {
		types = fhir.ResourceTypes()
	}
	for _, t := range types {
		if in.Writes() && t == "AuditEvent" {
			return &httpError{status: http.StatusForbidden, code: "forbidden", msg: "AuditEvents are written by the server only"}
		}
		d := auth.Allow(p, in, t)
		if !d.Allowed {
			return fhir.ErrForbidden
		}
		if !d.Unrestricted() {
			return &httpError{status: http.StatusForbidden, code: "forbidden",
				msg: "this interaction needs an unrestricted scope for " + t + "; patient-pinned and granular scopes are limited to reads, creates and updates of single resources"}
		}
	}
	return nil
}

// resourceFacts describes a resource for access decisions. Compartment
// membership is known for Patient resources themselves; for other types it
// is left unknown, so patient-pinned grants deny them (fail closed).
func resourceFacts(n *fhir.Node) *auth.Resource {
	res := &auth.Resource{Type: n.Type, ID: n.ID(), Labels: []string{}}
	if n.Type == "Patient" && res.ID != "" {
		res.Patients = []string{res.ID}
	}
	if meta := n.First("meta"); meta != nil {
		for _, c := range meta.Get("security") {
			res.Labels = append(res.Labels, c.String("system")+"|"+c.String("code"))
		}
	}
	return res
}

// interactionOf maps a Bundle entry's method to an interaction.
func interactionOf(method string, hasID bool) auth.Interaction {
	switch method {
	case "POST":
		return auth.InteractionCreate
	case "PUT":
		return auth.InteractionUpdate
	case "PATCH":
		return auth.InteractionPatch
	case "DELETE":
		return auth.InteractionDelete
	}
	if hasID {
		return auth.InteractionRead
	}
	return auth.InteractionSearch
}

// errNotFoundPlain is a 404 for non-FHIR documents.
var errNotFoundPlain = &httpError{status: http.StatusNotFound, code: "not-found", msg: "not found"}
