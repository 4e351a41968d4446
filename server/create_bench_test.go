package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir/normalize"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/store/sqlite"
)

// A laboratory result as ACME sends it (LOINC under an OID, a unit code
// without its system, a reference to ACME's server, a local time, an
// instant with an offset), and the same result in canonical form.
const (
	benchDialect = `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],` +
		`"code":{"coding":[{"system":"urn:oid:2.16.840.1.113883.3.9999.1","code":"2339-0","display":"Glucose [Mass/volume] in Blood"}],"text":"Glucose"},` +
		`"subject":{"reference":"https://ehr.acme.example/fhir/Patient/p1"},"effectiveDateTime":"2024-01-15T08:30:00","issued":"2024-01-15T09:00:00.120-06:00",` +
		`"performer":[{"reference":"Practitioner/f005","display":"A. Langeveld"}],` +
		`"valueQuantity":{"value":95,"unit":"mg/dl","code":"mg/dl"},` +
		`"referenceRange":[{"low":{"value":70,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"},"high":{"value":99,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}]}`
	benchCanonical = `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose [Mass/volume] in Blood"}],"text":"Glucose"},` +
		`"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-15T08:30:00-06:00","issued":"2024-01-15T15:00:00.120Z",` +
		`"performer":[{"reference":"Practitioner/f005","display":"A. Langeveld"}],` +
		`"valueQuantity":{"value":95,"unit":"mg/dl","system":"http://unitsofmeasure.org","code":"mg/dL"},` +
		`"referenceRange":[{"low":{"value":70,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"},"high":{"value":99,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}]}`
)

// benchCases are the same create with normalisation off (the write path
// without normalisation or lineage), with the default profile on a
// canonical resource, and with ACME's profile on a canonical resource and
// on its dialect (which also stores a Provenance).
var benchCases = []struct {
	name, client, body string
	off                bool
}{
	{"off", "", benchCanonical, true},
	{"default", "", benchCanonical, false},
	{"acme-canonical", "acme-ehr", benchCanonical, false},
	{"acme-dialect", "acme-ehr", benchDialect, false},
}

// benchServer is a server on a fresh SQLite store with the example source
// profiles, and a token for a client_id.
func benchServer(b *testing.B, client string, off bool) (*Server, string) {
	b.Helper()
	dir := b.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "db"), sqlite.Options{Indexer: search.Extract})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	const base = "http://127.0.0.1/fhir"
	issuer, err := auth.LoadOrCreateIssuer(dir, base)
	if err != nil {
		b.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Audience: base, Local: issuer})
	if err != nil {
		b.Fatal(err)
	}
	profiles, err := normalize.LoadProfiles("../fhir/normalize/testdata/profiles")
	if err != nil {
		b.Fatal(err)
	}
	m, err := issuer.Mint(auth.MintRequest{Audience: base, Subject: "feed", Scope: "system/*.cruds", ClientID: client}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	s := New(Config{Store: st, Auth: v, BaseURL: base, Normalizer: normalize.NewNormalizer(profiles)})
	s.unnormalized = off
	return s, m.Token
}

// BenchmarkCreate measures the create interaction in process (token check,
// parse, normalisation, validation, store transaction with index rows and
// ledger leaf, response) with normalisation off and on, in one run.
func BenchmarkCreate(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			s, tok := benchServer(b, c.client, c.off)
			body := []byte(c.body)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/fhir/Observation", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/fhir+json")
				req.Header.Set("Prefer", "return=minimal")
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != http.StatusCreated {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/create")
		})
	}
}

// BenchmarkCreateThroughput is BenchmarkCreate with 32 concurrent clients
// per GOMAXPROCS, so that the store commits writes in groups and the time
// per create is the inverse of throughput rather than one commit's
// latency.
func BenchmarkCreateThroughput(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			s, tok := benchServer(b, c.client, c.off)
			body := []byte(c.body)
			b.ReportAllocs()
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/fhir/Observation", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+tok)
					req.Header.Set("Content-Type", "application/fhir+json")
					req.Header.Set("Prefer", "return=minimal")
					w := httptest.NewRecorder()
					s.ServeHTTP(w, req)
					if w.Code != http.StatusCreated {
						b.Errorf("status %d: %s", w.Code, w.Body)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}

// BenchmarkCreateParse measures only what the request path does to the
// body before the store transaction (parseWrite: parse, normalise,
// validate, invariants), so that the difference between its cases is the
// cost of normalisation per resource.
func BenchmarkCreateParse(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			s, _ := benchServer(b, c.client, c.off)
			prof := s.normalizer.Profile(c.client)
			body := []byte(c.body)
			req := httptest.NewRequest("POST", "/fhir/Observation", nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.parseWrite(req, prof, body, "Observation"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/resource")
		})
	}
}
