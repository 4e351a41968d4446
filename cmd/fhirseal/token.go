package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fhirseal/fhirseal/auth"
)

// token mints a token from the local issuer key in the data directory, for
// development and tests:
//
//	fhirseal token --data DIR --sub app1 --scope "system/*.cruds"
func token(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envDefault(getenv, "data", "./fhirseal-data"), "data directory (holds issuer.key)")
	base := fs.String("base-url", envDefault(getenv, "base-url", ""), "the server's base URL, the token's audience (default http://ADDR/fhir)")
	addr := fs.String("addr", envDefault(getenv, "addr", "127.0.0.1:8080"), "the server's listen address, for the default base URL")
	var r auth.MintRequest
	fs.StringVar(&r.Subject, "sub", "", "subject (required)")
	fs.StringVar(&r.Scope, "scope", "", "space-separated SMART scopes")
	fs.StringVar(&r.Patient, "patient", "", "patient launch context (a Patient id)")
	fs.StringVar(&r.FHIRUser, "fhir-user", "", "fhirUser reference, e.g. Practitioner/7")
	fs.StringVar(&r.ClientID, "client-id", "", "client_id")
	purposes := fs.String("purpose", "", "comma-separated purpose_of_use codes (TREAT, ETREAT, BTG, HRESCH, ...)")
	fs.DurationVar(&r.Lifetime, "lifetime", time.Hour, "token lifetime")
	fs.BoolVar(&r.Admin, "admin", false, "an administrator token")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if r.Subject == "" {
		fmt.Fprintln(stderr, "fhirseal token: --sub is required")
		return 2
	}
	if *base == "" {
		*base = "http://" + *addr + "/fhir"
	}
	if *purposes != "" {
		r.Purposes = strings.Split(*purposes, ",")
	}
	iss, err := auth.LoadOrCreateIssuer(*data, *base)
	if err != nil {
		fmt.Fprintf(stderr, "fhirseal token: %v\n", err)
		return 1
	}
	r.Audience = *base
	m, err := iss.Mint(r, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "fhirseal token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, m.Token)
	return 0
}
