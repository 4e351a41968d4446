package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/fhirpatch"
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
		if mt != "application/json-patch+json" && mt != "application/fhir+json" && mt != "application/json" {
			return &httpError{status: http.StatusUnsupportedMediaType, code: "not-supported", msg: "PATCH takes a JSON Patch (application/json-patch+json) or a FHIRPath Patch Parameters resource (application/fhir+json)"}
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
		apply, err := patcher(mt, body)
		if err != nil {
			return err
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
			patched, err := apply(cur.Body)
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

// patcher decodes a patch document: a JSON Patch (RFC 6902) or a
// FHIRPath Patch (a Parameters resource). The function it returns applies
// the patch to a stored body.
func patcher(mediaType string, body []byte) (func([]byte) ([]byte, error), error) {
	if mediaType == "application/json-patch+json" {
		p, err := jsonpatch.DecodePatch(body)
		if err != nil {
			return nil, badRequest("invalid JSON Patch document")
		}
		return p.Apply, nil
	}
	doc, out := fhir.Parse(body, fhir.Limits{})
	if out.HasErrors() {
		return nil, &fhir.InvalidError{Outcome: out}
	}
	if doc.Type != "Parameters" {
		return nil, badRequest("a FHIRPath Patch is a Parameters resource")
	}
	return func(cur []byte) ([]byte, error) {
		res, out := fhir.Parse(cur, fhir.Limits{})
		if out.HasErrors() {
			return nil, errors.New("the stored version does not parse")
		}
		if err := fhirpatch.Apply(res, doc); err != nil {
			return nil, err
		}
		return fhir.Marshal(res), nil
	}, nil
}

// patchReason names the failing patch operation without echoing values.
func patchReason(err error) string {
	var fe *fhirpatch.Error
	if errors.As(err, &fe) {
		return strings.TrimPrefix(fe.Error(), "fhirpatch: ")
	}
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
