package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/golang-jwt/jwt/v5"

	"github.com/fhirseal/fhirseal/fhir"
)

// Token verification limits and defaults.
const (
	// DefaultMaxTokenBytes bounds the size of a bearer token; longer ones
	// are refused before any decoding.
	DefaultMaxTokenBytes = 16 << 10
	// DefaultClockSkew is the leeway for exp, nbf and iat.
	DefaultClockSkew = 60 * time.Second
	// MaxClockSkew is the largest leeway a configuration may ask for.
	MaxClockSkew = 5 * time.Minute
	// DefaultMaxLifetime bounds exp - iat. It also bounds how long a
	// per-subject revocation must be remembered.
	DefaultMaxLifetime = 366 * 24 * time.Hour
	// maxJTI bounds the jti claim, which revocation lists store.
	maxJTI = 256
	// maxClaimText bounds sub, client_id, fhirUser, consent.
	maxClaimText = 1024
)

// Signing algorithms accepted in the "alg" header. "none", the HMAC
// algorithms and everything else are refused.
var validAlgs = []string{"ES256", "RS256", "EdDSA"}

// ErrInvalidToken is wrapped by every verification failure. The wrapped
// text is for logs only: clients should see a plain 401.
var ErrInvalidToken = errors.New("invalid bearer token")

// ErrRevoked is wrapped (together with ErrInvalidToken) when a valid token
// has been revoked.
var ErrRevoked = errors.New("token revoked")

// Principal is the verified identity and authority behind a request.
type Principal struct {
	Subject  string // sub
	Issuer   string // iss
	Audience string // aud: the server base URL
	Client   string // client_id
	// Scopes are the valid scopes of the token; InvalidScopes the ones that
	// were refused and grant nothing (worth a log line).
	Scopes        []Scope
	InvalidScopes []*ScopeError
	// Patient is the patient id from the patient claim (launch context).
	Patient string
	// FHIRUser is the fhirUser claim, reduced to "Type/id" when it names a
	// resource on this server.
	FHIRUser string
	// Purposes are the purpose_of_use codes (v3 ActReason), e.g. TREAT.
	Purposes []string
	JTI      string
	IssuedAt time.Time
	Expiry   time.Time
	// Consent is the id of the Consent a consent token is bound to; empty
	// for other tokens. Only the local issuer mints consent tokens.
	Consent string
	// Local reports a token from fhirseal's own issuer; Admin a local token
	// minted with the administrator flag.
	Local bool
	Admin bool
}

// HasPurpose reports whether the token asserts the purpose code.
func (p *Principal) HasPurpose(code string) bool {
	for _, c := range p.Purposes {
		if c == code {
			return true
		}
	}
	return false
}

// String identifies the principal for logs: issuer, subject and jti, never
// scopes or patient.
func (p *Principal) String() string {
	if p == nil {
		return "anonymous"
	}
	return fmt.Sprintf("%s#%s(jti=%s)", p.Issuer, p.Subject, p.JTI)
}

// ExternalIssuer is a SMART authorisation server whose tokens are accepted.
type ExternalIssuer struct {
	Issuer  string // exact "iss" value
	JWKSURL string // where its JSON Web Key Set is published
}

// VerifierConfig configures a Verifier. Zero fields take the defaults noted.
type VerifierConfig struct {
	// Audience is the server's FHIR base URL; "aud" must name it and
	// nothing else. Required.
	Audience string
	// Local is fhirseal's own issuer, or nil.
	Local *Issuer
	// External lists accepted external issuers.
	External []ExternalIssuer
	// Revocations is consulted for every token; nil means none.
	Revocations Revocations
	// ClockSkew is the leeway for exp, nbf and iat (default 60 s, at most
	// MaxClockSkew).
	ClockSkew time.Duration
	// MaxTokenBytes bounds the token size (default 16 KiB).
	MaxTokenBytes int
	// MaxLifetime bounds exp - iat (default 366 days).
	MaxLifetime time.Duration
	// JWKSRefresh is how often external key sets are refreshed (default 1 h).
	JWKSRefresh time.Duration
	// JWKSUnknownKID is the least time between refreshes triggered by a
	// token with an unknown key id (default 5 min).
	JWKSUnknownKID time.Duration
	// HTTPClient fetches key sets (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Logger receives key set refresh errors (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Verifier turns bearer tokens into Principals. It is safe for concurrent
// use. Close stops the background key set refreshes.
type Verifier struct {
	audience    string
	local       *Issuer
	external    map[string]*jwksIssuer
	revocations Revocations
	skew        time.Duration
	maxBytes    int
	maxLifetime time.Duration
	now         func() time.Time
	parser      *jwt.Parser
	cancel      context.CancelFunc

	// verified remembers local-issuer tokens whose signature and claims
	// already checked, so a client's next request costs a map lookup instead of a
	// signature verification. Expiry and revocation are checked on every
	// use all the same.
	mu       sync.Mutex
	verified map[[32]byte]*Principal
}

// maxVerified bounds the verified-token cache; it is emptied when full.
const maxVerified = 16384

// NewVerifier checks cfg and, for each external issuer, fetches its key set
// once (a failing first fetch is logged and retried on demand, not fatal).
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Audience == "" {
		return nil, errors.New("auth: verifier needs an audience (the base URL)")
	}
	if cfg.Local == nil && len(cfg.External) == 0 {
		return nil, errors.New("auth: verifier needs at least one issuer")
	}
	v := &Verifier{
		audience:    strings.TrimSuffix(cfg.Audience, "/"),
		local:       cfg.Local,
		external:    make(map[string]*jwksIssuer),
		revocations: cfg.Revocations,
		skew:        cfg.ClockSkew,
		maxBytes:    cfg.MaxTokenBytes,
		maxLifetime: cfg.MaxLifetime,
		now:         cfg.Now,
	}
	if v.skew == 0 {
		v.skew = DefaultClockSkew
	}
	if v.skew < 0 || v.skew > MaxClockSkew {
		return nil, fmt.Errorf("auth: clock skew %v out of range (0, %v]", v.skew, MaxClockSkew)
	}
	if v.maxBytes <= 0 {
		v.maxBytes = DefaultMaxTokenBytes
	}
	if v.maxLifetime <= 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if v.now == nil {
		v.now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	for _, e := range cfg.External {
		if e.Issuer == "" || e.JWKSURL == "" {
			cancel()
			return nil, errors.New("auth: external issuer needs an issuer URL and a JWKS URL")
		}
		if _, dup := v.external[e.Issuer]; dup || (v.local != nil && v.local.url == e.Issuer) {
			cancel()
			return nil, fmt.Errorf("auth: issuer %q configured twice", e.Issuer)
		}
		ji, err := newJWKSIssuer(ctx, e, cfg)
		if err != nil {
			cancel()
			return nil, err
		}
		v.external[e.Issuer] = ji
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(validAlgs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.skew),
		jwt.WithTimeFunc(v.now),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Close stops background key set refreshes.
func (v *Verifier) Close() error {
	v.cancel()
	return nil
}

// Audience returns the base URL tokens must be addressed to.
func (v *Verifier) Audience() string { return v.audience }

// Verify checks a bearer token and returns its Principal. In order: size,
// JOSE header (alg allow-list, typ, no crit), issuer, signature with that
// issuer's key, exp (required), nbf, iat (required, not in the future),
// lifetime, aud, required claims, claim syntax, revocation. Any failure
// wraps ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidToken)
	}
	if len(raw) > v.maxBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidToken, v.maxBytes)
	}
	sum := sha256.Sum256([]byte(raw))
	v.mu.Lock()
	p := v.verified[sum]
	v.mu.Unlock()
	if p != nil {
		if !v.now().Before(p.Expiry.Add(v.skew)) {
			v.mu.Lock()
			delete(v.verified, sum)
			v.mu.Unlock()
			return nil, fmt.Errorf("%w: token is expired", ErrInvalidToken)
		}
		if err := v.checkRevoked(ctx, p); err != nil {
			return nil, err
		}
		return p, nil
	}
	var c tokenClaims
	var local bool
	_, err := v.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if err := checkHeader(t.Header); err != nil {
			return nil, err
		}
		if v.local != nil && c.Issuer == v.local.url {
			local = true
			return v.local.verificationKey(t)
		}
		if ji := v.external[c.Issuer]; ji != nil {
			return ji.key(ctx, t)
		}
		return nil, errors.New("issuer not accepted")
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	p, err = v.principal(&c, local)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidToken, err)
	}
	if err := v.checkRevoked(ctx, p); err != nil {
		return nil, err
	}
	// Only fhirseal's own tokens are remembered: an external issuer may
	// rotate a key out of its key set, and its tokens must then fail.
	if p.Local {
		v.mu.Lock()
		if v.verified == nil || len(v.verified) >= maxVerified {
			v.verified = make(map[[32]byte]*Principal)
		}
		v.verified[sum] = p
		v.mu.Unlock()
	}
	return p, nil
}

// checkRevoked consults the revocation list, failing closed.
func (v *Verifier) checkRevoked(ctx context.Context, p *Principal) error {
	if v.revocations == nil {
		return nil
	}
	revoked, err := v.revocations.Revoked(ctx, p.Issuer, p.Subject, p.JTI, p.IssuedAt)
	if err != nil {
		// Fail closed: a revocation list that cannot answer refuses.
		return fmt.Errorf("%w: revocation check: %w", ErrInvalidToken, err)
	}
	if revoked {
		return fmt.Errorf("%w: %w", ErrInvalidToken, ErrRevoked)
	}
	return nil
}

// checkHeader enforces the JOSE header rules the jwt parser leaves open.
func checkHeader(h map[string]any) error {
	// typ: absent, "JWT" (RFC 7519) or "at+jwt" (RFC 9068), the latter
	// with or without the "application/" prefix, case-insensitive. Other
	// types (id tokens typed "id_token+jwt", DPoP proofs, logout tokens)
	// are not access tokens.
	if t, ok := h["typ"]; ok {
		s, isString := t.(string)
		if !isString {
			return errors.New("typ header not a string")
		}
		switch strings.TrimPrefix(strings.ToLower(s), "application/") {
		case "jwt", "at+jwt":
		default:
			return fmt.Errorf("typ %q not accepted", s)
		}
	}
	// crit names extensions that must be understood; none are.
	if _, ok := h["crit"]; ok {
		return errors.New("crit header not supported")
	}
	if k, ok := h["kid"]; ok {
		if _, isString := k.(string); !isString {
			return errors.New("kid header not a string")
		}
	}
	return nil
}

// checkKey refuses keys that do not fit the token's algorithm or are weak.
func checkKey(alg string, key any) error {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg != "RS256" {
			return errors.New("RSA key for " + alg)
		}
		if k.N.BitLen() < 2048 {
			return errors.New("RSA key shorter than 2048 bits")
		}
	case *ecdsa.PublicKey:
		if alg != "ES256" || k.Curve != elliptic.P256() {
			return errors.New("EC key does not match " + alg)
		}
	case ed25519.PublicKey:
		if alg != "EdDSA" {
			return errors.New("Ed25519 key for " + alg)
		}
	default:
		return fmt.Errorf("unsupported key type %T", key)
	}
	return nil
}

func (v *Verifier) principal(c *tokenClaims, local bool) (*Principal, error) {
	if c.Subject == "" || len(c.Subject) > maxClaimText {
		return nil, errors.New("sub missing or too long")
	}
	if c.JTI == "" || len(c.JTI) > maxJTI {
		return nil, errors.New("jti missing or too long")
	}
	if c.IssuedAt == nil || c.Expiry == nil {
		return nil, errors.New("iat and exp are required")
	}
	if c.Expiry.Sub(c.IssuedAt.Time) > v.maxLifetime {
		return nil, errors.New("lifetime exceeds the maximum")
	}
	if len(c.Audience) != 1 || strings.TrimSuffix(c.Audience[0], "/") != v.audience {
		return nil, errors.New("aud must be exactly the server base URL")
	}
	if len(c.ClientID) > maxClaimText || len(c.FHIRUser) > maxClaimText || len(c.Consent) > maxClaimText {
		return nil, errors.New("claim too long")
	}
	if c.Patient != "" && !fhir.ValidID(c.Patient) {
		return nil, errors.New("patient claim is not a resource id")
	}
	for _, pu := range c.Purpose {
		if !isCode(pu) {
			return nil, errors.New("purpose_of_use is not a code")
		}
	}
	if !local && (c.Consent != "" || c.Admin) {
		return nil, errors.New("consent and admin claims are only accepted from the local issuer")
	}
	if c.Consent != "" && (!fhir.ValidID(c.Consent) || c.Patient == "") {
		return nil, errors.New("consent token needs a Consent id and a patient")
	}
	scopes, bad := ParseScopes(c.Scope)
	return &Principal{
		Subject:       c.Subject,
		Issuer:        c.Issuer,
		Audience:      v.audience,
		Client:        c.ClientID,
		Scopes:        scopes,
		InvalidScopes: bad,
		Patient:       c.Patient,
		FHIRUser:      localRef(c.FHIRUser, v.audience),
		Purposes:      c.Purpose,
		JTI:           c.JTI,
		IssuedAt:      c.IssuedAt.Time,
		Expiry:        c.Expiry.Time,
		Consent:       c.Consent,
		Local:         local,
		Admin:         local && c.Admin,
	}, nil
}

// isCode accepts short code values without whitespace.
func isCode(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// tokenClaims is the JWT claim set. It decodes with strict JSON rules
// (case-sensitive names, no duplicate names, valid UTF-8, exact types).
type tokenClaims struct {
	Issuer    string       `json:"iss"`
	Subject   string       `json:"sub"`
	Audience  stringList   `json:"aud"`
	Expiry    *numericDate `json:"exp"`
	NotBefore *numericDate `json:"nbf"`
	IssuedAt  *numericDate `json:"iat"`
	JTI       string       `json:"jti"`
	Scope     string       `json:"scope"`
	Patient   string       `json:"patient"`
	FHIRUser  string       `json:"fhirUser"`
	ClientID  string       `json:"client_id"`
	Purpose   stringList   `json:"purpose_of_use"`
	Consent   string       `json:"consent"`
	Admin     bool         `json:"fhirseal_admin"`
}

// UnmarshalJSON decodes with go-json-experiment's strict defaults rather
// than encoding/json's case-insensitive, last-duplicate-wins rules.
func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	type plain tokenClaims
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = tokenClaims(p)
	return nil
}

func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Expiry.jwt(), nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.jwt(), nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.jwt(), nil }
func (c *tokenClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *tokenClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings(c.Audience), nil
}

// numericDate is a JWT NumericDate: seconds since the epoch, a JSON number.
type numericDate struct{ time.Time }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return errors.New("NumericDate must be a number of seconds")
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

func (d *numericDate) jwt() *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return jwt.NewNumericDate(d.Time)
}

// stringList is a JSON string or array of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("must be a string or an array of strings")
	}
	*l = many
	return nil
}
