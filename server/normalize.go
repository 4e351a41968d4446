package server

import (
	"io"
	"net/http"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/normalize"
)

// normalizePreview answers POST /fhir/{type}/$normalize and POST
// /fhir/$normalize (a Bundle): the resource as the caller's source profile
// (chosen by the token's client_id; administrators may name one with
// ?source=) would store it, and an OperationOutcome listing each change.
// Nothing is stored. The result is a Parameters resource with the
// parameters "resource" and "outcome".
func (s *Server) normalizePreview(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := checkContentType(r); err != nil {
			return err
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		client := ""
		if p := principalOf(r); p != nil {
			client = p.Client
			if src := r.URL.Query().Get("source"); src != "" && p.Admin {
				client = src
			}
		}
		prof := s.normalizer.Profile(client)
		n, changes, out := prof.Parse(body, fhir.Limits{MaxBytes: int(s.cfg.MaxBodyBytes)})
		if n == nil || out.HasErrors() {
			return &fhir.InvalidError{Outcome: out}
		}
		if typ != "" && n.Type != typ {
			return badRequest("the body is a %s, but the URL names %s", n.Type, typ)
		}
		report := normalize.OutcomeFor(changes)
		b := []byte(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":`)
		b = fhir.AppendJSON(b, n)
		b = append(b, `},{"name":"outcome","resource":`...)
		b = append(b, report.JSON()...)
		b = append(b, "}]}"...)
		w.Header().Set("Content-Type", fhirJSON)
		w.Write(pretty(r, b))
		return nil
	}
}
