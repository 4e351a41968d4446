// Package server is fhirseal's HTTP layer: it parses requests, calls the
// store and renders FHIR responses. It holds no storage or FHIR model logic
// of its own: resources are parsed and validated by package fhir, kept by a
// store.Store.
//
// Every write is normalised with the caller's source profile
// (fhir/normalize) and stored with its lineage: meta.source, and a
// Provenance of the changes in the same store transaction (lineage.go).
//
// Access control (authz.go) holds on every path that returns data: reads
// decide each resource with auth.Authorize (scopes, patient pin, granular
// constraints, the patients' Consents), searches carry the same decision
// compiled into the store query and check every returned resource again,
// failing closed; break-glass is audited as a security alert before data
// is released (audit.go); the consent policies are kept current by the
// store wrapper every write goes through (consent.go).
//
// Every interaction is registered per resource type from the generated
// spec tables through huma, so the same registration yields the routes and
// the OpenAPI document served at /openapi.json. Handlers return errors;
// writeError is the one place where an error becomes an HTTP status and an
// OperationOutcome.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/normalize"
	"github.com/fhirseal/fhirseal/openapi"
	"github.com/fhirseal/fhirseal/store"
)

// Config is what a Server needs. Fill it in main.
type Config struct {
	Store store.Store
	// Auth verifies bearer tokens. Every FHIR endpoint but the
	// CapabilityStatement and the SMART configuration needs one; with a nil
	// Auth they all answer 401.
	Auth Authenticator
	// Normalizer holds the source profiles (nil: the built-in default).
	Normalizer *normalize.Normalizer
	// SMART describes token issuance for /fhir/.well-known/smart-configuration.
	SMART SMARTConfig
	// Ledger serves checkpoints, tiles and proofs; nil leaves them out.
	Ledger Ledger
	// LedgerKey is the checkpoint verifier key text served at /ledger/key.
	LedgerKey string
	Logger    *slog.Logger
	BaseURL   string // public base of the FHIR API, e.g. http://127.0.0.1:8080/fhir
	Version   string // software version shown in the CapabilityStatement
	// MaxBodyBytes limits request bodies (default 16 MiB).
	MaxBodyBytes int64
	// NoUpdateCreate refuses PUT to an id that does not exist.
	NoUpdateCreate bool
	// DefaultCount and MaxCount bound search and history pages (20, 1000).
	DefaultCount, MaxCount int
	// MaxIncluded caps the resources _include and _revinclude add to one
	// search page (1000). A capped page says so in an OperationOutcome
	// entry; nothing is dropped silently.
	MaxIncluded int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// ConsentDefault applies to patients without a Consent that decides
	// (--consent-default); the zero value means auth.Permit.
	ConsentDefault auth.Effect
	// SensitiveLabels are the security labels only an explicit consent
	// permit unlocks; nil means auth.DefaultSensitiveLabels.
	SensitiveLabels []string
	// Issuer signs consent tokens (POST /fhir/Consent/{id}/$token); nil
	// disables that operation.
	Issuer *auth.Issuer
	// Audit records an AuditEvent for every access to and denial of
	// patient data (audit.go). Break-glass is recorded whatever its value.
	Audit bool
}

// Server serves the FHIR REST API.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	api     huma.API
	handler http.Handler
	log     *slog.Logger

	capOnce sync.Once
	capJSON []byte

	normalizer *normalize.Normalizer
	// consents holds the patients' consent policies, kept current by the
	// store wrapper every write goes through (consent.go).
	consents *consentCache
	// pageKey binds paging links to the caller they were issued to.
	pageKey [32]byte
	auditState
	// unnormalized stores single-resource writes as they arrive, without
	// normalisation or lineage (parseWrite). Only benchmarks set it, to
	// measure what normalisation costs.
	unnormalized bool
}

// handlerFunc is a FHIR interaction: it writes a response or returns an
// error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// New builds a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	if cfg.DefaultCount <= 0 {
		cfg.DefaultCount = 20
	}
	if cfg.MaxCount <= 0 {
		cfg.MaxCount = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	consents := newConsentCache(cfg.Store, cfg.BaseURL)
	if cfg.Store != nil {
		cfg.Store = consentStore{Store: cfg.Store, c: consents}
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, normalizer: cfg.Normalizer, consents: consents}
	rand.Read(s.pageKey[:])
	if s.normalizer == nil {
		s.normalizer = normalize.NewNormalizer(nil)
	}
	hc := huma.DefaultConfig("fhirseal FHIR R4 API", cfg.Version)
	hc.DocsPath = ""
	hc.SchemasPath = ""
	// Bodies are raw FHIR JSON described by the spec-derived schemas, not Go
	// types, so huma's $schema link transformer does not apply.
	hc.CreateHooks = nil
	hc.Transformers = nil
	hc.OpenAPI.Info.Description = "FHIR R4 RESTful API (https://hl7.org/fhir/R4/http.html). Bodies are application/fhir+json."
	s.api = humago.New(s.mux, hc)
	openapi.AddSchemas(s.api.OpenAPI())
	s.api.OpenAPI().Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT", Description: "SMART on FHIR access token"},
	}
	s.routes()
	s.compartmentRoutes()
	s.consentRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &httpError{status: http.StatusNotFound, code: "not-found", msg: "no FHIR interaction at " + r.Method + " " + r.URL.Path})
	})
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.handler = s.middleware(s.mux)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// route registers one interaction with huma (routing and documentation)
// and the FHIR handler behind it.
func (s *Server) route(method, path, id, summary, tag string, in auth.Interaction, h handlerFunc) {
	body := "Bundle"
	if fhir.IsResourceType(tag) {
		body = tag
	}
	op := &huma.Operation{
		OperationID: id,
		Method:      method,
		Path:        path,
		Summary:     summary,
		Tags:        []string{tag},
		Responses: map[string]*huma.Response{
			"200":     {Description: "A FHIR resource or Bundle", Content: openapi.Content("Resource")},
			"default": {Description: "An OperationOutcome describing the problem", Content: openapi.Content("OperationOutcome")},
		},
	}
	if method == http.MethodPost || method == http.MethodPut {
		op.RequestBody = &huma.RequestBody{Required: true, Content: openapi.Content(body)}
	}
	if normalizes(id) {
		op.Parameters = append(op.Parameters, &huma.Param{
			Name: SourceHeader, In: "header", Schema: &huma.Schema{Type: "string"},
			Description: "client_id of the source profile that normalises the body instead of the token's (administrators only)",
		})
	}
	s.api.OpenAPI().AddOperation(op)
	if in != public {
		op.Security = []map[string][]string{{"bearer": {}}}
	}
	s.api.Adapter().Handle(op, func(ctx huma.Context) {
		r, w := humago.Unwrap(ctx)
		r, err := s.guard(r, in, tag)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// normalizes reports whether the operation normalises its body (see
// SourceHeader).
func normalizes(opID string) bool {
	for _, p := range []string{"create-", "update-", "conditional-update-", "patch-", "normalize-", "batch-transaction"} {
		if strings.HasPrefix(opID, p) {
			return true
		}
	}
	return false
}

type ctxKey int

const requestIDKey ctxKey = 0

// requestID returns the id the middleware gave the request.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// middleware adds a request id, recovers panics, limits bodies and writes
// one access-log line naming the route pattern (never the query string:
// queries carry patient data).
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var b [8]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		if r.URL.Path == "/fhir/" {
			// Clients address the base with and without the slash.
			r.URL.Path = "/fhir"
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic", "request_id", id, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					s.writeError(sw, r, fmt.Errorf("panic: %v", p))
				}
			}
			s.log.Info("request", "method", r.Method, "route", r.Pattern, "status", sw.status,
				"duration_ms", float64(time.Since(start).Microseconds())/1000, "request_id", id)
		}()
		next.ServeHTTP(sw, r)
	})
}

// httpError is an error with a status and a client-safe message.
type httpError struct {
	status int
	code   string // OperationOutcome issue code
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, code: "invalid", msg: fmt.Sprintf(format, args...)}
}

// newID returns a server-assigned logical id: a time-ordered UUID (RFC 9562
// version 7), so that new resources land at the end of every index keyed
// by id instead of on a random page of it.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
