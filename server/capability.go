package server

import (
	"net/http"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/fhirseal/fhirseal/fhir"
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
	b = append(b, `},"fhirVersion":"4.0.1","format":["json"],"patchFormat":["application/json-patch+json"],"rest":[{"mode":"server","resource":[`...)
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
		b = append(b, `],"operation":[{"name":"validate","definition":"http://hl7.org/fhir/OperationDefinition/Resource-validate"}]}`...)
	}
	b = append(b, `],"interaction":[{"code":"transaction"},{"code":"batch"},{"code":"history-system"},{"code":"search-system"}],"searchParam":[{"name":"_id","type":"token"},{"name":"_type","type":"token"}]}]}`...)
	return b
}

func (s *Server) capabilities(w http.ResponseWriter, r *http.Request) error {
	if err := negotiate(r); err != nil {
		return err
	}
	s.capOnce.Do(func() { s.capJSON = s.capabilityStatement() })
	w.Header().Set("Content-Type", fhirJSON)
	w.Write(pretty(r, s.capJSON))
	return nil
}
