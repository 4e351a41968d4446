package server

import (
	"net/http"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/normalize"
	"github.com/fhirseal/fhirseal/fhir/search"
)

// capabilityStatement describes what this server really does: the
// interactions registered in routes and the search parameters parseSearch
// applies.
func (s *Server) capabilityStatement() []byte {
	b := []byte(`{"resourceType":"CapabilityStatement","status":"active","date":"2026-11-01","kind":"instance","software":{"name":"fhirseal","version":`)
	b, _ = jsontext.AppendQuote(b, s.cfg.Version)
	b = append(b, `},"implementation":{"description":"fhirseal FHIR R4 server","url":`...)
	b, _ = jsontext.AppendQuote(b, s.cfg.BaseURL)
	b = append(b, `},"fhirVersion":"4.0.1","format":["json"],"patchFormat":["application/json-patch+json","application/fhir+json"],"rest":[{"mode":"server","documentation":`...)
	b, _ = jsontext.AppendQuote(b, restDocumentation)
	b = append(b, `,"resource":[`...)
	for i, t := range fhir.ResourceTypes() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b, _ = jsontext.AppendQuote(b, t)
		b = append(b, `,"interaction":[{"code":"read"},{"code":"vread"},{"code":"update"},{"code":"patch"},{"code":"delete"},{"code":"history-instance"},{"code":"history-type"},{"code":"create"},{"code":"search-type"}],"versioning":"versioned-update","readHistory":true,"updateCreate":`...)
		if s.cfg.NoUpdateCreate {
			b = append(b, "false"...)
		} else {
			b = append(b, "true"...)
		}
		b = append(b, `,"conditionalCreate":true,"conditionalUpdate":true,"conditionalDelete":"single","searchParam":[{"name":"_id","type":"token"}`...)
		for _, p := range fhir.SearchParamsFor(t) {
			if search.KindOf(p.Type) == 0 {
				continue
			}
			b = append(b, `,{"name":`...)
			b, _ = jsontext.AppendQuote(b, p.Name)
			b = append(b, `,"definition":`...)
			b, _ = jsontext.AppendQuote(b, p.URL)
			b = append(b, `,"type":`...)
			b, _ = jsontext.AppendQuote(b, p.Type)
			b = append(b, '}')
		}
		b = append(b, `],"operation":[{"name":"validate","definition":"http://hl7.org/fhir/OperationDefinition/Resource-validate"},{"name":"normalize","definition":"`+normalizeOperation+`","documentation":"Preview of the normalisation a write of this resource would apply (nothing is stored)"}]}`...)
	}
	b = append(b, `],"interaction":[{"code":"transaction"},{"code":"batch"},{"code":"history-system"},{"code":"search-system"}],"searchParam":[{"name":"_id","type":"token"},{"name":"_type","type":"token"}],"operation":[{"name":"normalize","definition":"`+normalizeOperation+`"}]}]}`...)
	return b
}

// normalizeOperation names the $normalize operation; it has no
// OperationDefinition resource on the server (yet).
const normalizeOperation = "urn:fhirseal:OperationDefinition:normalize"

// restDocumentation is CapabilityStatement.rest.documentation: what every
// write does beyond the FHIR REST API.
const restDocumentation = "Every write (create, update, conditional create and update, JSON Patch, batch and transaction entries) " +
	"is normalised with the source profile of the token's client_id (administrators may name one with the " + SourceHeader + " header; " +
	"clients without a profile get the built-in default: code system and unit aliases) before it is validated and checked against the caller's access. " +
	"Every stored resource carries meta.source (the source URI, '#', the request id, which the X-Request-Id response header also gives); " +
	"a write that normalisation changed is stored with a Provenance (target the version written, one extension " +
	normalize.ChangeExtension + " per change) in the same transaction, sealed by the ledger like any write. " +
	"POST [type]/$normalize and POST /$normalize show the result without storing anything."

func (s *Server) capabilities(w http.ResponseWriter, r *http.Request) error {
	if err := negotiate(r); err != nil {
		return err
	}
	s.capOnce.Do(func() { s.capJSON = s.capabilityStatement() })
	w.Header().Set("Content-Type", fhirJSON)
	w.Write(pretty(r, s.capJSON))
	return nil
}
