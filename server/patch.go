package server

import (
	"errors"
	"io"
	"mime"
	"net/http"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/store"
)

// patch applies a JSON Patch (RFC 6902) to the current version
// (https://hl7.org/fhir/R4/http.html#patch). The patched resource is
// normalised with the caller's source profile and validated like any
// update; the id and type cannot change. What the Provenance calls the
// received form is the patched resource before normalisation.
func (s *Server) patch(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := negotiate(r); err != nil {
			return err
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/json-patch+json" {
			return &httpError{status: http.StatusUnsupportedMediaType, code: "not-supported", msg: "PATCH takes application/json-patch+json"}
		}
		id := r.PathValue("id")
		match, err := ifMatch(r)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		p, err := jsonpatch.DecodePatch(body)
		if err != nil {
			return badRequest("invalid JSON Patch document")
		}
		prof, err := s.profileOf(r)
		if err != nil {
			return err
		}
		var v *store.Version
		err = s.cfg.Store.Update(r.Context(), func(tx store.Tx) error {
			cur, err := tx.Current(typ, id)
			if err != nil {
				return err
			}
			if err := s.permitBytes(r, cur.Body); err != nil {
				return err
			}
			if match != 0 && match != cur.VersionID {
				return fhir.ErrPrecondition
			}
			patched, err := p.Apply(cur.Body)
			if err != nil {
				return &httpError{status: http.StatusUnprocessableEntity, code: "processing", msg: "the patch cannot be applied: " + patchReason(err)}
			}
			res, lin, err := s.parseWrite(r, prof, patched, "")
			var inv *fhir.InvalidError
			if errors.As(err, &inv) {
				return fhir.Unprocessable(inv.Outcome) // the document is fine, its result is not
			}
			if err != nil {
				return err
			}
			if res.Type != typ || res.ID() != id {
				return &httpError{status: http.StatusUnprocessableEntity, code: "processing", msg: "a patch must not change the resource type or id"}
			}
			if err := s.permit(r, res); err != nil {
				return fhir.ErrForbidden
			}
			v, err = s.putNormalized(tx, res, cur.VersionID, lin)
			return err
		})
		if errors.Is(err, fhir.ErrConflict) {
			return fhir.ErrPrecondition
		}
		if err != nil {
			return err
		}
		s.writeVersion(w, r, http.StatusOK, v, false)
		return nil
	}
}

// patchReason names the failing patch operation without echoing values.
func patchReason(err error) string {
	switch {
	case errors.Is(err, jsonpatch.ErrTestFailed):
		return "a test operation failed"
	case errors.Is(err, jsonpatch.ErrMissing):
		return "a path does not exist"
	case errors.Is(err, jsonpatch.ErrInvalidIndex):
		return "an array index is out of range"
	}
	return "an operation is invalid for this resource"
}
