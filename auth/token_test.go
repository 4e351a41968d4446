package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testBase   = "https://fhir.example.test/fhir"
	testLocal  = "https://fhir.example.test/issuer"
	testExtIss = "https://as.example.test"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() (k struct {
	ec, ec2  *ecdsa.PrivateKey
	ec384    *ecdsa.PrivateKey
	rsa      *rsa.PrivateKey
	rsaSmall *rsa.PrivateKey
	ed       ed25519.PrivateKey
}) {
	var err error
	must := func(e error) {
		if e != nil {
			panic(e)
		}
	}
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsaSmall, err = rsa.GenerateKey(rand.Reader, 1024)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return k
})

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func pad32(n *big.Int) []byte {
	b := n.Bytes()
	out := make([]byte, 32)
	copy(out[32-len(b):], b)
	return out
}

// jwkJSON renders a public key as a JWK with kid (and alg when non-empty).
func jwkJSON(t *testing.T, key any, kid, alg string) string {
	t.Helper()
	extra := fmt.Sprintf(`"kid":%q,"use":"sig"`, kid)
	if alg != "" {
		extra += fmt.Sprintf(`,"alg":%q`, alg)
	}
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		crv := "P-256"
		if k.Curve == elliptic.P384() {
			return fmt.Sprintf(`{"kty":"EC","crv":"P-384","x":%q,"y":%q,%s}`, b64(k.X.FillBytes(make([]byte, 48))), b64(k.Y.FillBytes(make([]byte, 48))), extra)
		}
		return fmt.Sprintf(`{"kty":"EC","crv":%q,"x":%q,"y":%q,%s}`, crv, b64(pad32(k.X)), b64(pad32(k.Y)), extra)
	case *rsa.PublicKey:
		return fmt.Sprintf(`{"kty":"RSA","n":%q,"e":%q,%s}`, b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes()), extra)
	case ed25519.PublicKey:
		return fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,%s}`, b64(k), extra)
	}
	t.Fatalf("unsupported key %T", key)
	return ""
}

// jwksServer serves a mutable JWKS on loopback and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu    sync.Mutex
	body  string
	count int
}

func newJWKSServer(t *testing.T, body string) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.count++
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body string) {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *jwksServer) fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// claims returns a valid external token claim set at testNow.
func claims(over map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":       testExtIss,
		"sub":       "user-1",
		"aud":       testBase,
		"exp":       testNow.Add(time.Hour).Unix(),
		"iat":       testNow.Add(-time.Minute).Unix(),
		"jti":       "jti-1",
		"scope":     "patient/Observation.rs openid",
		"patient":   "p1",
		"fhirUser":  testBase + "/Practitioner/7",
		"client_id": "app-1",
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func sign(t testing.TB, m jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

// rawToken assembles a token from JSON texts, signing with ES256 key k.
func rawToken(t *testing.T, header, payload string, k *ecdsa.PrivateKey) string {
	t.Helper()
	signing := b64([]byte(header)) + "." + b64([]byte(payload))
	sig, err := jwt.SigningMethodES256.Sign(signing, k)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

type verifierFixture struct {
	v     *Verifier
	local *Issuer
	revs  *MemoryRevocations
	jwks  *jwksServer
}

func newFixture(t *testing.T) *verifierFixture {
	t.Helper()
	k := testKeys()
	jwks := newJWKSServer(t, `{"keys":[`+jwkJSON(t, &k.ec.PublicKey, "ec1", "ES256")+`,`+
		jwkJSON(t, &k.rsa.PublicKey, "rsa1", "RS256")+`,`+
		jwkJSON(t, &k.rsaSmall.PublicKey, "rsa-small", "")+`,`+
		jwkJSON(t, &k.ec384.PublicKey, "ec384", "")+`,`+
		jwkJSON(t, k.ed.Public(), "ed1", "")+`]}`)
	local, err := LoadOrCreateIssuer(t.TempDir(), testLocal)
	if err != nil {
		t.Fatal(err)
	}
	revs := NewMemoryRevocations(fixedClock)
	v, err := NewVerifier(VerifierConfig{
		Audience:    testBase,
		Local:       local,
		External:    []ExternalIssuer{{Issuer: testExtIss, JWKSURL: jwks.URL}},
		Revocations: revs,
		HTTPClient:  jwks.Client(),
		Now:         fixedClock,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return &verifierFixture{v: v, local: local, revs: revs, jwks: jwks}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	k := testKeys()
	es := func(c jwt.MapClaims) string {
		return sign(t, jwt.SigningMethodES256, k.ec, map[string]any{"kid": "ec1", "typ": "at+jwt"}, c)
	}
	esH := func(h map[string]any, c jwt.MapClaims) string {
		if _, ok := h["kid"]; !ok {
			h["kid"] = "ec1"
		}
		return sign(t, jwt.SigningMethodES256, k.ec, h, c)
	}
	valid := es(claims(nil))
	parts := strings.Split(valid, ".")
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": "ec1"}, claims(nil))
	pubDER := pad32(k.ec.PublicKey.X)
	hsTok := sign(t, jwt.SigningMethodHS256, pubDER, map[string]any{"kid": "ec1"}, claims(nil))
	local, err := f.local.Mint(MintRequest{Audience: testBase, Subject: "admin", Scope: "system/*.cruds", Admin: true}, testNow)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
		ok    bool
		check func(*testing.T, *Principal)
	}{
		{name: "valid ES256", token: valid, ok: true, check: func(t *testing.T, p *Principal) {
			if p.Subject != "user-1" || p.Patient != "p1" || p.FHIRUser != "Practitioner/7" || p.Client != "app-1" || p.JTI != "jti-1" {
				t.Errorf("principal = %+v", p)
			}
			if len(p.Scopes) != 2 || p.Scopes[0].String() != "patient/Observation.rs" || p.Local || p.Admin {
				t.Errorf("scopes/local = %v %v %v", p.Scopes, p.Local, p.Admin)
			}
		}},
		{name: "valid RS256", ok: true, token: sign(t, jwt.SigningMethodRS256, k.rsa, map[string]any{"kid": "rsa1"}, claims(nil))},
		{name: "valid EdDSA external", ok: true, token: sign(t, jwt.SigningMethodEdDSA, k.ed, map[string]any{"kid": "ed1"}, claims(nil))},
		{name: "valid local admin", ok: true, token: local.Token, check: func(t *testing.T, p *Principal) {
			if !p.Local || !p.Admin || p.Issuer != testLocal {
				t.Errorf("local = %v admin = %v iss = %q", p.Local, p.Admin, p.Issuer)
			}
		}},
		{name: "typ JWT", ok: true, token: esH(map[string]any{"typ": "JWT"}, claims(nil))},
		{name: "typ application/at+jwt", ok: true, token: esH(map[string]any{"typ": "application/at+JWT"}, claims(nil))},
		{name: "typ absent", ok: true, token: esH(map[string]any{"typ": nil}, claims(nil))},
		{name: "purpose as string", ok: true, token: es(claims(map[string]any{"purpose_of_use": "TREAT"})), check: func(t *testing.T, p *Principal) {
			if len(p.Purposes) != 1 || p.Purposes[0] != "TREAT" {
				t.Errorf("purposes = %v", p.Purposes)
			}
		}},
		{name: "purpose as array", ok: true, token: es(claims(map[string]any{"purpose_of_use": []string{"ETREAT", "BTG"}})), check: func(t *testing.T, p *Principal) {
			if !p.HasPurpose("BTG") || !p.HasPurpose("ETREAT") {
				t.Errorf("purposes = %v", p.Purposes)
			}
		}},
		{name: "aud as one-element array", ok: true, token: es(claims(map[string]any{"aud": []string{testBase}}))},
		{name: "aud with trailing slash", ok: true, token: es(claims(map[string]any{"aud": testBase + "/"}))},
		{name: "expired within skew", ok: true, token: es(claims(map[string]any{"exp": testNow.Add(-30 * time.Second).Unix()}))},
		{name: "invalid scope reported", ok: true, token: es(claims(map[string]any{"scope": "patient/Observation.rx user/*.read"})), check: func(t *testing.T, p *Principal) {
			if len(p.Scopes) != 1 || len(p.InvalidScopes) != 1 {
				t.Errorf("scopes = %v invalid = %v", p.Scopes, p.InvalidScopes)
			}
		}},

		{name: "empty", token: ""},
		{name: "garbage", token: "not a token"},
		{name: "two segments", token: parts[0] + "." + parts[1]},
		{name: "four segments", token: valid + ".x"},
		{name: "bad base64 header", token: "!!!." + parts[1] + "." + parts[2]},
		{name: "header not JSON", token: b64([]byte("nope")) + "." + parts[1] + "." + parts[2]},
		{name: "payload not JSON", token: parts[0] + "." + b64([]byte("nope")) + "." + parts[2]},
		{name: "unsigned (empty signature)", token: parts[0] + "." + parts[1] + "."},
		{name: "alg none", token: noneTok},
		{name: "alg HS256 with public key bytes", token: hsTok},
		{name: "alg PS256 not allowed", token: sign(t, jwt.SigningMethodPS256, k.rsa, map[string]any{"kid": "rsa1"}, claims(nil))},
		{name: "tampered payload", token: parts[0] + "." + b64([]byte(`{"iss":"`+testExtIss+`","sub":"root"}`)) + "." + parts[2]},
		{name: "wrong key same kid", token: sign(t, jwt.SigningMethodES256, k.ec2, map[string]any{"kid": "ec1"}, claims(nil))},
		{name: "ES256 token on RSA kid", token: sign(t, jwt.SigningMethodES256, k.ec, map[string]any{"kid": "rsa1"}, claims(nil))},
		{name: "RSA key under 2048 bits", token: sign(t, jwt.SigningMethodRS256, k.rsaSmall, map[string]any{"kid": "rsa-small"}, claims(nil))},
		{name: "alg ES384 not allowed", token: sign(t, jwt.SigningMethodES384, k.ec384, map[string]any{"kid": "ec384"}, claims(nil))},
		{name: "external without kid", token: esH(map[string]any{"kid": nil}, claims(nil))},
		{name: "kid not a string", token: esH(map[string]any{"kid": 7}, claims(nil))},
		{name: "unknown kid", token: sign(t, jwt.SigningMethodES256, k.ec2, map[string]any{"kid": "nope"}, claims(nil))},
		{name: "typ id_token", token: esH(map[string]any{"typ": "id_token+jwt"}, claims(nil))},
		{name: "typ dpop", token: esH(map[string]any{"typ": "dpop+jwt"}, claims(nil))},
		{name: "typ not a string", token: esH(map[string]any{"typ": 1}, claims(nil))},
		{name: "crit header", token: esH(map[string]any{"crit": []string{"exp"}}, claims(nil))},
		{name: "expired", token: es(claims(map[string]any{"exp": testNow.Add(-2 * time.Minute).Unix()}))},
		{name: "exp missing", token: es(claims(map[string]any{"exp": nil}))},
		{name: "exp as string", token: es(claims(map[string]any{"exp": "tomorrow"}))},
		{name: "not yet valid", token: es(claims(map[string]any{"nbf": testNow.Add(5 * time.Minute).Unix()}))},
		{name: "issued in the future", token: es(claims(map[string]any{"iat": testNow.Add(5 * time.Minute).Unix()}))},
		{name: "iat missing", token: es(claims(map[string]any{"iat": nil}))},
		{name: "lifetime too long", token: es(claims(map[string]any{"exp": testNow.Add(400 * 24 * time.Hour).Unix()}))},
		{name: "wrong issuer", token: es(claims(map[string]any{"iss": "https://evil.example.test"}))},
		{name: "issuer missing", token: es(claims(map[string]any{"iss": nil}))},
		{name: "local issuer with external key", token: es(claims(map[string]any{"iss": testLocal}))},
		{name: "wrong audience", token: es(claims(map[string]any{"aud": "https://other.example.test/fhir"}))},
		{name: "audience missing", token: es(claims(map[string]any{"aud": nil}))},
		{name: "two audiences", token: es(claims(map[string]any{"aud": []string{testBase, "https://other.example.test"}}))},
		{name: "sub missing", token: es(claims(map[string]any{"sub": nil}))},
		{name: "sub not a string", token: es(claims(map[string]any{"sub": 42}))},
		{name: "jti missing", token: es(claims(map[string]any{"jti": nil}))},
		{name: "jti too long", token: es(claims(map[string]any{"jti": strings.Repeat("j", 300)}))},
		{name: "patient not an id", token: es(claims(map[string]any{"patient": "Patient/p1 x"}))},
		{name: "purpose not text", token: es(claims(map[string]any{"purpose_of_use": 3}))},
		{name: "purpose with space", token: es(claims(map[string]any{"purpose_of_use": "TREAT ETREAT"}))},
		{name: "consent claim from external issuer", token: es(claims(map[string]any{"consent": "c1"}))},
		{name: "admin claim from external issuer", token: es(claims(map[string]any{"fhirseal_admin": true}))},
		{name: "duplicate claim", token: rawToken(t, `{"alg":"ES256","kid":"ec1"}`,
			strings.Replace(string(mustJSON(t, claims(nil))), `"sub":"user-1"`, `"sub":"user-1","sub":"admin"`, 1), k.ec)},
		{name: "claim name in other case", token: rawToken(t, `{"alg":"ES256","kid":"ec1"}`,
			strings.Replace(string(mustJSON(t, claims(nil))), `"sub":`, `"SUB":`, 1), k.ec)},
		{name: "oversized", token: es(claims(map[string]any{"pad": strings.Repeat("x", DefaultMaxTokenBytes)}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.v.Verify(context.Background(), tc.token)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify(%s) = %v, want success", tc.name, err)
				}
				if tc.check != nil {
					tc.check(t, p)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify(%s) = %+v, want error", tc.name, p)
			}
			t.Logf("Verify(%s): %v", tc.name, err)
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify(%s) error %v does not wrap ErrInvalidToken", tc.name, err)
			}
		})
	}
}

func mustJSON(t *testing.T, c jwt.MapClaims) []byte {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	s, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(s, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyRevoked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mint := func(sub string, at time.Time) (Minted, *Principal) {
		t.Helper()
		m, err := f.local.Mint(MintRequest{Audience: testBase, Subject: sub, Scope: "user/*.rs", FHIRUser: "Practitioner/1"}, at)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.v.Verify(ctx, m.Token)
		if err != nil {
			t.Fatalf("Verify(fresh token) = %v", err)
		}
		return m, p
	}
	m1, p1 := mint("alice", testNow.Add(-time.Minute))
	m2, _ := mint("alice", testNow.Add(-time.Minute))
	if err := f.v.Revoke(ctx, p1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Verify(ctx, m1.Token); !errors.Is(err, ErrRevoked) || !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify(revoked jti) = %v, want ErrRevoked", err)
	}
	if _, err := f.v.Verify(ctx, m2.Token); err != nil {
		t.Errorf("Verify(other jti) = %v, want success", err)
	}
	m3, _ := mint("bob", testNow.Add(-time.Minute))
	if err := f.v.RevokeSubject(ctx, testLocal, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Verify(ctx, m3.Token); !errors.Is(err, ErrRevoked) {
		t.Errorf("Verify(token issued before subject cut-off) = %v, want ErrRevoked", err)
	}
	later, err := f.local.Mint(MintRequest{Audience: testBase, Subject: "bob", Scope: "user/*.rs"}, testNow.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Verify(ctx, later.Token); err != nil {
		t.Errorf("Verify(token issued after subject cut-off) = %v, want success", err)
	}
}

type failingRevocations struct{ *MemoryRevocations }

func (*failingRevocations) Revoked(context.Context, string, string, string, time.Time) (bool, error) {
	return false, errors.New("backend down")
}

func TestVerifyRevocationErrorFailsClosed(t *testing.T) {
	local, err := LoadOrCreateIssuer(t.TempDir(), testLocal)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Audience: testBase, Local: local, Revocations: &failingRevocations{NewMemoryRevocations(nil)}, Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	m, err := local.Mint(MintRequest{Audience: testBase, Subject: "s"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), m.Token); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify with failing revocation list = %v, want ErrInvalidToken", err)
	}
}

func TestVerifyJWKSRotation(t *testing.T) {
	k := testKeys()
	jwks := newJWKSServer(t, `{"keys":[`+jwkJSON(t, &k.ec.PublicKey, "old", "ES256")+`]}`)
	v, err := NewVerifier(VerifierConfig{
		Audience:       testBase,
		External:       []ExternalIssuer{{Issuer: testExtIss, JWKSURL: jwks.URL}},
		HTTPClient:     jwks.Client(),
		Now:            fixedClock,
		JWKSUnknownKID: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	if got := jwks.fetches(); got != 1 {
		t.Fatalf("fetches after NewVerifier = %d, want 1", got)
	}
	oldTok := sign(t, jwt.SigningMethodES256, k.ec, map[string]any{"kid": "old"}, claims(nil))
	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatalf("Verify(old key) = %v", err)
	}
	jwks.set(`{"keys":[` + jwkJSON(t, &k.ec2.PublicKey, "new", "ES256") + `]}`)
	newTok := sign(t, jwt.SigningMethodES256, k.ec2, map[string]any{"kid": "new"}, claims(nil))
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("Verify(rotated key) = %v, want a refresh to find it", err)
	}
	if got := jwks.fetches(); got != 2 {
		t.Errorf("fetches after rotation = %d, want 2", got)
	}
	if _, err := v.Verify(ctx, oldTok); err == nil {
		t.Errorf("Verify(removed key) succeeded, want refusal")
	}
	// Unknown kids do not trigger more fetches within the rate limit.
	for i := range 5 {
		bogus := sign(t, jwt.SigningMethodES256, k.ec, map[string]any{"kid": fmt.Sprintf("bogus-%d", i)}, claims(nil))
		if _, err := v.Verify(ctx, bogus); err == nil {
			t.Fatalf("Verify(unknown kid) succeeded")
		}
	}
	if got := jwks.fetches(); got != 2 {
		t.Errorf("fetches after unknown kids = %d, want 2 (rate limited)", got)
	}
}

func TestVerifyJWKSUnavailableAtStart(t *testing.T) {
	k := testKeys()
	jwks := newJWKSServer(t, `not yet`)
	v, err := NewVerifier(VerifierConfig{Audience: testBase, External: []ExternalIssuer{{Issuer: testExtIss, JWKSURL: jwks.URL}},
		HTTPClient: jwks.Client(), Now: fixedClock})
	if err != nil {
		t.Fatalf("NewVerifier with a failing JWKS = %v, want success (fetched again on demand)", err)
	}
	defer v.Close()
	jwks.set(`{"keys":[` + jwkJSON(t, &k.ec.PublicKey, "ec1", "ES256") + `]}`)
	tok := sign(t, jwt.SigningMethodES256, k.ec, map[string]any{"kid": "ec1"}, claims(nil))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify after the JWKS came up = %v", err)
	}
}

func TestVerifyJWKSTooLarge(t *testing.T) {
	k := testKeys()
	key := jwkJSON(t, &k.ec.PublicKey, "ec1", "ES256")
	jwks := newJWKSServer(t, `{"keys":[`+key+strings.Repeat(","+key, maxJWKSBytes/len(key))+`]}`)
	v, err := NewVerifier(VerifierConfig{Audience: testBase, External: []ExternalIssuer{{Issuer: testExtIss, JWKSURL: jwks.URL}},
		HTTPClient: jwks.Client(), Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tok := sign(t, jwt.SigningMethodES256, k.ec, map[string]any{"kid": "ec1"}, claims(nil))
	if _, err := v.Verify(context.Background(), tok); err == nil {
		t.Errorf("Verify with a JWKS over %d bytes succeeded", maxJWKSBytes)
	}
}

func TestVerifyJWKSAlgMismatch(t *testing.T) {
	k := testKeys()
	jwks := newJWKSServer(t, `{"keys":[`+jwkJSON(t, &k.rsa.PublicKey, "r", "RS384")+`]}`)
	v, err := NewVerifier(VerifierConfig{Audience: testBase, External: []ExternalIssuer{{Issuer: testExtIss, JWKSURL: jwks.URL}},
		HTTPClient: jwks.Client(), Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, map[string]any{"kid": "r"}, claims(nil))
	if _, err := v.Verify(context.Background(), tok); err == nil {
		t.Errorf("Verify(token alg differs from JWK alg) succeeded")
	}
}

func TestNewVerifierConfig(t *testing.T) {
	local, err := LoadOrCreateIssuer(t.TempDir(), testLocal)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  VerifierConfig
	}{
		{"no audience", VerifierConfig{Local: local}},
		{"no issuer", VerifierConfig{Audience: testBase}},
		{"skew too large", VerifierConfig{Audience: testBase, Local: local, ClockSkew: time.Hour}},
		{"external without JWKS", VerifierConfig{Audience: testBase, External: []ExternalIssuer{{Issuer: testExtIss}}}},
		{"issuer twice", VerifierConfig{Audience: testBase, Local: local, External: []ExternalIssuer{{Issuer: testLocal, JWKSURL: "http://127.0.0.1:1/jwks"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v, err := NewVerifier(tc.cfg); err == nil {
				v.Close()
				t.Errorf("NewVerifier(%s) succeeded, want error", tc.name)
			}
		})
	}
}

func TestLoadOrCreateIssuer(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateIssuer(dir, testLocal)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, IssuerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	b, err := LoadOrCreateIssuer(dir, testLocal)
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyID() != b.KeyID() || !a.PublicKey().Equal(b.PublicKey()) {
		t.Errorf("reloaded issuer key differs")
	}
	if a.URL() != testLocal || len(a.KeyID()) != 43 {
		t.Errorf("URL() = %q, KeyID() = %q", a.URL(), a.KeyID())
	}
	if !strings.Contains(string(a.JWKS()), a.KeyID()) {
		t.Errorf("JWKS() = %s, missing kid", a.JWKS())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only the key", len(entries))
	}
	if err := os.Chmod(filepath.Join(dir, IssuerKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateIssuer(dir, testLocal); err == nil {
		t.Errorf("LoadOrCreateIssuer(world-readable key) succeeded, want error")
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, IssuerKeyFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateIssuer(bad, testLocal); err == nil {
		t.Errorf("LoadOrCreateIssuer(junk key) succeeded, want error")
	}
	if _, err := LoadOrCreateIssuer(t.TempDir(), ""); err == nil {
		t.Errorf("LoadOrCreateIssuer(no URL) succeeded, want error")
	}
}

func TestMint(t *testing.T) {
	iss, err := LoadOrCreateIssuer(t.TempDir(), testLocal)
	if err != nil {
		t.Fatal(err)
	}
	ok := MintRequest{Audience: testBase, Subject: "s", Scope: "patient/*.rs launch/patient", Patient: "p1"}
	tests := []struct {
		name   string
		change func(*MintRequest)
		ok     bool
	}{
		{"valid", func(*MintRequest) {}, true},
		{"consent token", func(r *MintRequest) { r.Consent = "c1" }, true},
		{"no audience", func(r *MintRequest) { r.Audience = "" }, false},
		{"no subject", func(r *MintRequest) { r.Subject = "" }, false},
		{"invalid scope", func(r *MintRequest) { r.Scope = "patient/Observation.sr" }, false},
		{"patient not an id", func(r *MintRequest) { r.Patient = "Patient/1" }, false},
		{"consent without patient", func(r *MintRequest) { r.Consent, r.Patient = "c1", "" }, false},
		{"negative lifetime", func(r *MintRequest) { r.Lifetime = -time.Second }, false},
		{"bad purpose", func(r *MintRequest) { r.Purposes = []string{"two words"} }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.change(&r)
			m, err := iss.Mint(r, testNow)
			if (err == nil) != tc.ok {
				t.Fatalf("Mint(%s) error = %v, want ok=%v", tc.name, err, tc.ok)
			}
			if tc.ok && (m.JTI == "" || !m.Expiry.Equal(testNow.Add(DefaultTokenLifetime))) {
				t.Errorf("Mint(%s) = jti %q exp %v", tc.name, m.JTI, m.Expiry)
			}
		})
	}
	a, _ := iss.Mint(ok, testNow)
	b, _ := iss.Mint(ok, testNow)
	if a.JTI == b.JTI {
		t.Errorf("Mint twice gave the same jti %q", a.JTI)
	}
}

func TestMemoryRevocationsExpire(t *testing.T) {
	now := testNow
	m := NewMemoryRevocations(func() time.Time { return now })
	ctx := context.Background()
	m.RevokeToken(ctx, "i", "j", now.Add(time.Hour))
	m.RevokeSubject(ctx, "i", "s", now, now.Add(2*time.Hour))
	m.RevokeSubject(ctx, "i", "s", now.Add(-time.Hour), now.Add(time.Hour)) // never lowers
	tests := []struct {
		at       time.Duration
		sub, jti string
		iat      time.Time
		want     bool
	}{
		{0, "x", "j", now, true},
		{0, "x", "k", now, false},
		{0, "s", "k", now.Add(-time.Minute), true},
		{0, "s", "k", now, true}, // same second as the cut-off
		{0, "s", "k", now.Add(time.Second), false},
		{90 * time.Minute, "x", "j", now, false}, // jti entry expired
		{90 * time.Minute, "s", "k", now.Add(-time.Minute), true},
		{3 * time.Hour, "s", "k", now.Add(-time.Minute), false},
	}
	for _, tc := range tests {
		now = testNow.Add(tc.at)
		got, err := m.Revoked(ctx, "i", tc.sub, tc.jti, tc.iat)
		if err != nil || got != tc.want {
			t.Errorf("Revoked(+%v, %q, %q) = %v, %v, want %v", tc.at, tc.sub, tc.jti, got, err, tc.want)
		}
	}
	m.RevokeToken(ctx, "i", "other", now.Add(time.Minute)) // triggers a sweep
	if got := m.Len(); got != 1 {
		t.Errorf("Len() after expiry = %d, want 1", got)
	}
}

func FuzzVerify(f *testing.F) {
	iss, err := LoadOrCreateIssuer(f.TempDir(), testLocal)
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Audience: testBase, Local: iss, Now: fixedClock})
	if err != nil {
		f.Fatal(err)
	}
	defer v.Close()
	m, err := iss.Mint(MintRequest{Audience: testBase, Subject: "s", Scope: "user/*.rs"}, testNow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m.Token)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := v.Verify(context.Background(), s)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		// Only a token signed by the issuer verifies: its signing input
		// must be the minted one.
		if !strings.HasPrefix(s, strings.Join(strings.Split(m.Token, ".")[:2], ".")) || p.Subject != "s" {
			t.Fatalf("Verify(%q) accepted a token that was never minted", s)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	iss, err := LoadOrCreateIssuer(b.TempDir(), testLocal)
	if err != nil {
		b.Fatal(err)
	}
	k := testKeys()
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"keys":[{"kty":"EC","crv":"P-256","kid":"ec1","alg":"ES256","x":"`+b64(pad32(k.ec.X))+`","y":"`+b64(pad32(k.ec.Y))+`"}]}`)
	}))
	defer jwks.Close()
	v, err := NewVerifier(VerifierConfig{Audience: testBase, Local: iss,
		External:    []ExternalIssuer{{Issuer: testExtIss, JWKSURL: jwks.URL}},
		HTTPClient:  jwks.Client(),
		Revocations: NewMemoryRevocations(fixedClock), Now: fixedClock})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	m, err := iss.Mint(MintRequest{Audience: testBase, Subject: "s", Scope: "patient/Observation.rs patient/Condition.rs launch/patient openid", Patient: "p1", Purposes: []string{"TREAT"}}, testNow)
	if err != nil {
		b.Fatal(err)
	}
	ext := sign(b, jwt.SigningMethodES256, k.ec, map[string]any{"kid": "ec1"}, claims(nil))
	for _, bc := range []struct{ name, tok string }{{"EdDSA-local", m.Token}, {"ES256-JWKS", ext}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, bc.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
