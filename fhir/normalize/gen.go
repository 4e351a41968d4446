package normalize

//go:generate go run ./internal/gen -package ../../.cache/hl7.fhir.r4.examples-4.0.1/package -out systems_gen.go

// codeSystem is one row of the generated table of R4 code systems.
type codeSystem struct {
	url    string   // canonical URL
	legacy string   // URL before R4, or ""
	oids   []string // without the urn:oid: prefix
}
