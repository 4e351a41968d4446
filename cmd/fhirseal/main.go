// Command fhirseal is the fhirseal FHIR R4 server and its tools.
//
//	fhirseal serve      run the server (default)
//	fhirseal validate   validate resource files offline
//	fhirseal verify     audit a data directory's store and ledger offline
//	fhirseal token      mint a development token from the local issuer
//	fhirseal fhirpath   evaluate a FHIRPath expression against a resource
//
// Every flag has a FHIRSEAL_* environment equivalent (--base-url is
// FHIRSEAL_BASE_URL); a flag given on the command line wins.
package main

import (
	"fmt"
	"os"

	"github.com/fhirseal/fhirseal/fhir/fhirpath"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var code int
	switch cmd {
	case "serve":
		code = serve(args, os.Getenv)
	case "validate":
		code = validate(args, os.Stdout, os.Stderr)
	case "verify":
		code = verify(args, os.Getenv, os.Stdout, os.Stderr)
	case "token":
		code = token(args, os.Getenv, os.Stdout, os.Stderr)
	case "fhirpath":
		code = fhirpath.Run(args, os.Stdin, os.Stdout, os.Stderr)
	case "version":
		fmt.Println(version)
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
	default:
		fmt.Fprintf(os.Stderr, "fhirseal: unknown command %q\n\n%s", cmd, usage)
		code = 2
	}
	os.Exit(code)
}

const usage = `usage: fhirseal <command> [flags]

commands:
  serve     run the FHIR server (the default command)
  validate  validate resource files: fhirseal validate FILE...
  verify    audit a data directory's store and ledger offline: fhirseal verify --data DIR
  token     mint a token from the local issuer: fhirseal token --sub app1 --scope "system/*.cruds"
  fhirpath  evaluate FHIRPath: fhirseal fhirpath -e EXPR [FILE]
  version   print the version
`
