package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/go-json-experiment/json"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/fhirseal/fhirseal/fhir"
)

// IssuerKeyFile is the name of the local issuer's private key file in the
// data directory.
const IssuerKeyFile = "issuer.key"

// DefaultTokenLifetime is the lifetime of minted tokens when none is given.
const DefaultTokenLifetime = time.Hour

// Issuer is fhirseal's own token issuer: an Ed25519 key (JWS alg EdDSA)
// kept in the data directory. Its key id is the RFC 7638 thumbprint of the
// public key. It is safe for concurrent use.
type Issuer struct {
	url  string
	kid  string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

// LoadOrCreateIssuer loads the issuer key from dir/issuer.key, creating it
// (mode 0600, never overwriting a key that appears concurrently) when it is
// absent. issuerURL is the "iss" value of the tokens it mints. A key file
// readable by group or others is refused rather than used.
func LoadOrCreateIssuer(dir, issuerURL string) (*Issuer, error) {
	if issuerURL == "" {
		return nil, errors.New("auth: issuer URL required")
	}
	path := filepath.Join(dir, IssuerKeyFile)
	b, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(dir, path); err != nil {
			return nil, err
		}
		b, err = readKeyFile(path)
	}
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("auth: %s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: %s: not an Ed25519 key", path)
	}
	return newIssuer(issuerURL, priv), nil
}

func newIssuer(issuerURL string, priv ed25519.PrivateKey) *Issuer {
	pub := priv.Public().(ed25519.PublicKey)
	return &Issuer{url: issuerURL, priv: priv, pub: pub, kid: ed25519Thumbprint(pub)}
}

func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("auth: %s is accessible to group or others (mode %v); want 0600", path, fi.Mode().Perm())
	}
	return os.ReadFile(path)
}

// createKeyFile writes a new key to a temporary file and links it into
// place, so a concurrent creator's key is never replaced and a crash never
// leaves a partial key file.
func createKeyFile(dir, path string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".issuer-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("auth: creating issuer key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("auth: creating issuer key: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ed25519Thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 key
// (RFC 8037 section 2 lists the members: crv, kty, x).
func ed25519Thumbprint(pub ed25519.PublicKey) string {
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// URL returns the issuer URL ("iss").
func (i *Issuer) URL() string { return i.url }

// KeyID returns the key id ("kid") of the signing key.
func (i *Issuer) KeyID() string { return i.kid }

// PublicKey returns the verification key.
func (i *Issuer) PublicKey() ed25519.PublicKey { return i.pub }

// JWKS returns the public key as a JSON Web Key Set, for publication.
func (i *Issuer) JWKS() []byte {
	return []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","alg":"EdDSA","kid":"` + i.kid +
		`","x":"` + base64.RawURLEncoding.EncodeToString(i.pub) + `"}]}`)
}

func (i *Issuer) verificationKey(t *jwt.Token) (any, error) {
	if kid, ok := t.Header["kid"].(string); ok && kid != i.kid {
		return nil, errors.New("unknown key id for the local issuer")
	}
	if t.Method.Alg() != "EdDSA" {
		return nil, errors.New("local issuer signs with EdDSA only")
	}
	return i.pub, nil
}

// MintRequest describes a token for the local issuer to sign.
type MintRequest struct {
	Audience string   // the server base URL; required
	Subject  string   // sub; required
	Scope    string   // space separated SMART scopes; every one must be valid
	Patient  string   // patient launch context (a Patient id)
	FHIRUser string   // fhirUser reference
	ClientID string   // client_id
	Purposes []string // purpose_of_use codes
	Consent  string   // Consent id for consent tokens (needs Patient)
	Admin    bool     // administrator token
	// Lifetime defaults to DefaultTokenLifetime.
	Lifetime time.Duration
}

// Minted is a signed token and the facts needed to revoke or record it.
type Minted struct {
	Token  string
	JTI    string
	Expiry time.Time
}

// Mint signs an access token (typ "at+jwt", RFC 9068) with a random jti.
// It refuses requests that Verify would refuse, so a minted token is never
// silently weaker than asked.
func (i *Issuer) Mint(r MintRequest, now time.Time) (Minted, error) {
	switch {
	case r.Audience == "":
		return Minted{}, errors.New("auth: mint: audience required")
	case r.Subject == "" || len(r.Subject) > maxClaimText:
		return Minted{}, errors.New("auth: mint: subject required")
	case r.Patient != "" && !fhir.ValidID(r.Patient):
		return Minted{}, errors.New("auth: mint: patient must be a resource id")
	case r.Consent != "" && (!fhir.ValidID(r.Consent) || r.Patient == ""):
		return Minted{}, errors.New("auth: mint: consent token needs a Consent id and a patient")
	case r.Lifetime < 0:
		return Minted{}, errors.New("auth: mint: negative lifetime")
	}
	for _, p := range r.Purposes {
		if !isCode(p) {
			return Minted{}, fmt.Errorf("auth: mint: purpose %q is not a code", p)
		}
	}
	if _, bad := ParseScopes(r.Scope); len(bad) > 0 {
		return Minted{}, fmt.Errorf("auth: mint: %w", bad[0])
	}
	if r.Lifetime == 0 {
		r.Lifetime = DefaultTokenLifetime
	}
	var jti [16]byte
	if _, err := io.ReadFull(rand.Reader, jti[:]); err != nil {
		return Minted{}, err
	}
	now = now.Truncate(time.Second)
	exp := now.Add(r.Lifetime)
	c := &tokenClaims{
		Issuer:   i.url,
		Subject:  r.Subject,
		Audience: stringList{r.Audience},
		IssuedAt: &numericDate{now},
		Expiry:   &numericDate{exp},
		JTI:      base64.RawURLEncoding.EncodeToString(jti[:]),
		Scope:    strings.Join(strings.Fields(r.Scope), " "),
		Patient:  r.Patient,
		FHIRUser: r.FHIRUser,
		ClientID: r.ClientID,
		Purpose:  r.Purposes,
		Consent:  r.Consent,
		Admin:    r.Admin,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, mintClaims{c})
	t.Header["typ"] = "at+jwt"
	t.Header["kid"] = i.kid
	s, err := t.SignedString(i.priv)
	if err != nil {
		return Minted{}, err
	}
	return Minted{Token: s, JTI: c.JTI, Expiry: exp}, nil
}

// mintClaims marshals the claim set compactly, leaving out empty claims.
type mintClaims struct{ *tokenClaims }

func (m mintClaims) MarshalJSON() ([]byte, error) {
	c := m.tokenClaims
	out := struct {
		Issuer   string     `json:"iss"`
		Subject  string     `json:"sub"`
		Audience string     `json:"aud"`
		Expiry   int64      `json:"exp"`
		IssuedAt int64      `json:"iat"`
		JTI      string     `json:"jti"`
		Scope    string     `json:"scope,omitempty"`
		Patient  string     `json:"patient,omitempty"`
		FHIRUser string     `json:"fhirUser,omitempty"`
		ClientID string     `json:"client_id,omitempty"`
		Purpose  stringList `json:"purpose_of_use,omitempty"`
		Consent  string     `json:"consent,omitempty"`
		Admin    bool       `json:"fhirseal_admin,omitempty"`
	}{c.Issuer, c.Subject, c.Audience[0], c.Expiry.Unix(), c.IssuedAt.Unix(), c.JTI, c.Scope,
		c.Patient, c.FHIRUser, c.ClientID, c.Purpose, c.Consent, c.Admin}
	return json.Marshal(out)
}

// jwksIssuer is an external issuer whose keys come from a JWKS URL.
type jwksIssuer struct {
	kf keyfunc.Keyfunc
}

// maxJWKSBytes bounds a fetched key set.
const maxJWKSBytes = 1 << 20

func newJWKSIssuer(ctx context.Context, e ExternalIssuer, cfg VerifierConfig) (*jwksIssuer, error) {
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	limited := *client
	base := limited.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	limited.Transport = limitTransport{base}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	refresh := cfg.JWKSRefresh
	if refresh <= 0 {
		refresh = time.Hour
	}
	unknownKID := cfg.JWKSUnknownKID
	if unknownKID <= 0 {
		unknownKID = 5 * time.Minute
	}
	onError := func(ctx context.Context, err error) {
		logger.WarnContext(ctx, "JWKS refresh failed", "issuer", e.Issuer, "error", err)
	}
	store, err := jwkset.NewStorageFromHTTP(e.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:                    &limited,
		Ctx:                       ctx,
		HTTPTimeout:               10 * time.Second,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       onError,
		RefreshInterval:           refresh,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS for %q: %w", e.Issuer, err)
	}
	hc, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{e.JWKSURL: store},
		// The wait bound doubles as the refresh request timeout; a token
		// with an unknown kid never waits for the rate limiter longer.
		RateLimitWaitMax:  10 * time.Second,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(unknownKID), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS for %q: %w", e.Issuer, err)
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Ctx:     ctx,
		Storage: hc,
		// Keys marked for encryption never verify; keys without "use" may.
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS for %q: %w", e.Issuer, err)
	}
	return &jwksIssuer{kf: kf}, nil
}

func (ji *jwksIssuer) key(ctx context.Context, t *jwt.Token) (any, error) {
	// A kid is required so that the JWK's alg and use are checked and a
	// token never makes the server try every key.
	if _, ok := t.Header["kid"].(string); !ok {
		return nil, errors.New("kid header required for external issuers")
	}
	k, err := ji.kf.KeyfuncCtx(ctx)(t)
	if err != nil {
		return nil, err
	}
	if err := checkKey(t.Method.Alg(), k); err != nil {
		return nil, err
	}
	return k, nil
}

// limitTransport caps response bodies at maxJWKSBytes.
type limitTransport struct{ base http.RoundTripper }

func (l limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = limitedBody{io.LimitReader(resp.Body, maxJWKSBytes), resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}
