package server

import (
	"net/http"

	"github.com/go-json-experiment/json"
)

// SMARTConfig is what /fhir/.well-known/smart-configuration publishes
// (SMART App Launch 2.x, "Conformance"). fhirseal verifies tokens; it does
// not run an authorisation endpoint, so those come from the external
// authorisation server when one is configured.
type SMARTConfig struct {
	Issuer                string // the external SMART issuer, or fhirseal's own
	AuthorizationEndpoint string
	TokenEndpoint         string
	// JWKS is fhirseal's own issuer key set (served at .well-known/jwks.json).
	JWKS []byte
}

func (s *Server) smartConfiguration(w http.ResponseWriter, r *http.Request) error {
	doc := map[string]any{
		"issuer":   s.cfg.SMART.Issuer,
		"jwks_uri": s.cfg.BaseURL + "/.well-known/jwks.json",
		"capabilities": []string{
			"permission-v1", "permission-v2", "permission-patient", "permission-user", "permission-offline",
		},
		"scopes_supported": []string{
			"system/*.cruds", "user/*.cruds", "patient/*.cruds", "system/*.read", "user/*.read", "patient/*.read",
			"system/*.write", "user/*.write", "patient/*.write", "openid", "fhirUser", "launch/patient", "offline_access",
		},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials"},
	}
	if s.cfg.SMART.AuthorizationEndpoint != "" {
		doc["authorization_endpoint"] = s.cfg.SMART.AuthorizationEndpoint
	}
	if s.cfg.SMART.TokenEndpoint != "" {
		doc["token_endpoint"] = s.cfg.SMART.TokenEndpoint
	}
	b, err := json.Marshal(doc, json.Deterministic(true))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
	return nil
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	if len(s.cfg.SMART.JWKS) == 0 {
		return errNotFoundPlain
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Write(s.cfg.SMART.JWKS)
	return nil
}
