package fhirpath

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// Run implements the command "fhirseal fhirpath -e EXPR [FILE]": it
// evaluates EXPR against the resource in FILE (standard input when FILE is
// "-", no input at all when FILE is absent) and prints the result as a JSON array (see AppendJSON).
// Options: -var name=value (repeatable) sets %name to a string.
//
// It returns the exit status: 0 on success, 1 when the expression does not
// compile or fails to evaluate or the input is not a resource, 2 for a
// usage error. Errors go to stderr.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fhirpath", flag.ContinueOnError)
	fs.SetOutput(stderr)
	expr := fs.String("e", "", "the FHIRPath expression to evaluate")
	vars := map[string]Collection{}
	fs.Func("var", "set a variable: name=value (as %name, a string)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return errors.New("want name=value")
		}
		vars[name] = Collection{String(value)}
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fhirseal fhirpath -e EXPR [-var name=value]... [FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *expr == "" || fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	compiled, err := Compile(*expr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		var se *SyntaxError
		if errors.As(err, &se) {
			fmt.Fprint(stderr, caret(*expr, se.Pos))
		}
		return 1
	}
	if fs.NArg() == 0 {
		return evaluate(compiled, nil, vars, stdout, stderr)
	}
	var data []byte
	name := fs.Arg(0)
	if name == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, int64(fhir.DefaultLimits.MaxBytes)+1))
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fhirpath: %v\n", err)
		return 1
	}
	root, out := fhir.Parse(data, fhir.Limits{})
	if root == nil {
		fmt.Fprintf(stderr, "fhirpath: %s is not a resource: %s\n", name, out)
		return 1
	}
	if out.HasErrors() {
		fmt.Fprintf(stderr, "fhirpath: warning: %s has validation errors: %s\n", name, out)
	}
	return evaluate(compiled, root, vars, stdout, stderr)
}

// evaluate runs compiled against root (nil: no input) and prints the result.
func evaluate(compiled *Expr, root *fhir.Node, vars map[string]Collection, stdout, stderr io.Writer) int {
	result, err := compiled.Evaluate(root, &Options{Variables: vars})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	b := AppendJSON(nil, result)
	b = append(b, '\n')
	if _, err := stdout.Write(b); err != nil {
		fmt.Fprintf(stderr, "fhirpath: %v\n", err)
		return 1
	}
	return 0
}
