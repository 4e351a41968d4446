package main

import (
	"fmt"
	"io"
	"os"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/fhirpath"
)

// validate checks each file offline and prints one OperationOutcome per
// file (a JSON line each). It exits 1 when any file has an error.
func validate(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "usage: fhirseal validate FILE...")
		return 2
	}
	code := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		out := &fhir.Outcome{}
		if err != nil {
			out.Add(fhir.Fatal, "not-found", "", "cannot read %s: %v", f, err)
		} else {
			var n *fhir.Node
			n, out = fhir.Parse(data, fhir.Limits{})
			if n != nil && !out.HasErrors() {
				out.Issues = append(out.Issues, fhirpath.CheckInvariants(n)...)
			}
		}
		if out.HasErrors() {
			code = 1
		}
		fmt.Fprintf(stdout, "%s\n", out.JSON())
	}
	return code
}
