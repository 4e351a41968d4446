package server

import (
	"io"
	"net/http"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/normalize"
)

// normalizePreview answers POST /fhir/{type}/$normalize and POST
// /fhir/$normalize (a Bundle): the resource as the caller's source profile
// (chosen as for a write: the token's client_id, or for administrators the
// SourceHeader header or ?source=) would normalise it, and an
// OperationOutcome listing each change. Nothing is stored, and meta.source
// is not set. The result is a Parameters resource with the parameters
// "resource" and "outcome".
func (s *Server) normalizePreview(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := checkContentType(r); err != nil {
			return err
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		if src := r.URL.Query().Get("source"); src != "" && r.Header.Get(SourceHeader) == "" {
			r.Header.Set(SourceHeader, src)
		}
		prof, err := s.profileOf(r)
		if err != nil {
			return err
		}
		n, changes, out := prof.Parse(body, s.limits())
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
