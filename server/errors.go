package server

import (
	"errors"
	"net/http"

	"github.com/fhirseal/fhirseal/fhir"
)

// writeError is the one place where an error becomes an HTTP status and an
// OperationOutcome. What the client sees never carries resource content or
// internal error text; unexpected errors are logged with the request id
// and answered with a generic message naming it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, out := s.classify(r, err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fhirseal"`)
	}
	w.Header().Set("Content-Type", fhirJSON)
	w.WriteHeader(status)
	w.Write(out.JSON())
}

func (s *Server) classify(r *http.Request, err error) (int, *fhir.Outcome) {
	out := &fhir.Outcome{}
	var inv *fhir.InvalidError
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &inv):
		if inv.Unprocessable {
			return http.StatusUnprocessableEntity, inv.Outcome
		}
		return http.StatusBadRequest, inv.Outcome
	case errors.As(err, &he):
		out.Add(fhir.Error, he.code, "", "%s", he.msg)
		return he.status, out
	case errors.As(err, &mbe) || errors.Is(err, fhir.ErrTooLarge):
		out.Add(fhir.Error, "too-long", "", "the request body is larger than the limit of %d bytes", s.cfg.MaxBodyBytes)
		return http.StatusRequestEntityTooLarge, out
	case errors.Is(err, fhir.ErrNotFound):
		out.Add(fhir.Error, "not-found", "", "resource not found")
		return http.StatusNotFound, out
	case errors.Is(err, fhir.ErrDeleted):
		out.Add(fhir.Error, "deleted", "", "the resource has been deleted")
		return http.StatusGone, out
	case errors.Is(err, fhir.ErrPrecondition):
		out.Add(fhir.Error, "conflict", "", "the resource's current version does not match If-Match")
		return http.StatusPreconditionFailed, out
	case errors.Is(err, fhir.ErrMultipleMatch):
		out.Add(fhir.Error, "multiple-matches", "", "the conditional interaction matched more than one resource")
		return http.StatusPreconditionFailed, out
	case errors.Is(err, fhir.ErrConflict):
		out.Add(fhir.Error, "conflict", "", "the resource was changed by another request")
		return http.StatusConflict, out
	case errors.Is(err, fhir.ErrNotSupported):
		out.Add(fhir.Error, "not-supported", "", "this interaction is not supported")
		return http.StatusNotImplemented, out
	case errors.Is(err, fhir.ErrUnauthenticated):
		out.Add(fhir.Error, "login", "", "a valid bearer token is required")
		return http.StatusUnauthorized, out
	case errors.Is(err, fhir.ErrForbidden):
		out.Add(fhir.Error, "forbidden", "", "the token does not allow this interaction")
		return http.StatusForbidden, out
	}
	id := requestID(r)
	s.log.Error("internal error", "request_id", id, "route", r.Pattern, "err", err)
	out.Add(fhir.Error, "exception", "", "internal error (request id %s)", id)
	return http.StatusInternalServerError, out
}
