package fhir

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Issue severities (http://hl7.org/fhir/issue-severity).
const (
	Fatal       = "fatal"
	Error       = "error"
	Warning     = "warning"
	Information = "information"
)

// Issue is one entry of an OperationOutcome. Code is from
// http://hl7.org/fhir/issue-type (structure, required, value, invariant,
// code-invalid, too-long, too-costly, not-found, processing, ...).
// Expression is the FHIRPath of the element concerned.
type Issue struct {
	Severity    string
	Code        string
	Diagnostics string
	Expression  string
}

// Outcome is a list of issues: the body of an OperationOutcome.
type Outcome struct {
	Issues []Issue
}

// Add appends an issue.
func (o *Outcome) Add(severity, code, expr, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	o.Issues = append(o.Issues, Issue{Severity: severity, Code: code, Diagnostics: msg, Expression: expr})
}

// HasErrors reports whether any issue is an error or fatal.
func (o *Outcome) HasErrors() bool {
	if o == nil {
		return false
	}
	for _, i := range o.Issues {
		if i.Severity == Error || i.Severity == Fatal {
			return true
		}
	}
	return false
}

// Errors returns the issues that are errors or fatal.
func (o *Outcome) Errors() []Issue {
	var out []Issue
	for _, i := range o.Issues {
		if i.Severity == Error || i.Severity == Fatal {
			out = append(out, i)
		}
	}
	return out
}

// JSON serialises the outcome as an OperationOutcome resource. An empty
// outcome becomes one informational "all ok" issue, because R4 requires at
// least one issue.
func (o *Outcome) JSON() []byte {
	issues := o.Issues
	if len(issues) == 0 {
		issues = []Issue{{Severity: Information, Code: "informational", Diagnostics: "All OK"}}
	}
	b := []byte(`{"resourceType":"OperationOutcome","issue":[`)
	for i, is := range issues {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"severity":`...)
		b, _ = jsontext.AppendQuote(b, is.Severity)
		b = append(b, `,"code":`...)
		b, _ = jsontext.AppendQuote(b, is.Code)
		if is.Diagnostics != "" {
			b = append(b, `,"diagnostics":`...)
			b, _ = jsontext.AppendQuote(b, is.Diagnostics)
		}
		if is.Expression != "" {
			b = append(b, `,"expression":[`...)
			b, _ = jsontext.AppendQuote(b, is.Expression)
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// String summarises the outcome for logs and command output.
func (o *Outcome) String() string {
	var sb strings.Builder
	for i, is := range o.Issues {
		if i > 0 {
			sb.WriteString("; ")
		}
		fmt.Fprintf(&sb, "%s %s: %s", is.Severity, is.Expression, is.Diagnostics)
	}
	return sb.String()
}

// The error vocabulary shared by the store, the server and the command
// line. The server maps each to an HTTP status and an OperationOutcome in
// one place; the messages here are safe to show to a client.
var (
	ErrNotFound        = errors.New("resource not found")
	ErrDeleted         = errors.New("resource deleted")
	ErrConflict        = errors.New("version conflict")
	ErrPrecondition    = errors.New("precondition failed")
	ErrMultipleMatch   = errors.New("multiple matches for a conditional interaction")
	ErrNotSupported    = errors.New("not supported")
	ErrUnauthenticated = errors.New("authentication required")
	ErrForbidden       = errors.New("forbidden")
	ErrTooLarge        = errors.New("request body too large")
)

// InvalidError reports input that is not acceptable, with the issues found.
// Unprocessable distinguishes a well-formed resource that breaks the rules
// (HTTP 422) from input that cannot be parsed at all (HTTP 400).
type InvalidError struct {
	Outcome       *Outcome
	Unprocessable bool
}

func (e *InvalidError) Error() string { return "invalid: " + e.Outcome.String() }

// Invalid returns an *InvalidError with one issue.
func Invalid(code, expr, format string, args ...any) error {
	o := &Outcome{}
	o.Add(Error, code, expr, format, args...)
	return &InvalidError{Outcome: o}
}

// Unprocessable returns an *InvalidError for a parseable resource that
// breaks the rules.
func Unprocessable(o *Outcome) error { return &InvalidError{Outcome: o, Unprocessable: true} }
