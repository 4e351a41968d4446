package auth

import (
	"strings"
	"time"
)

// Resource describes the resource an access concerns, as far as access
// decisions need it. The server fills it in from the parsed resource; this
// package never parses resources itself.
//
// Nil slices mean "not known" where noted: conditions that need unknown
// facts are resolved the safe way (a deny applies, a permit does not). Pass
// an empty, non-nil slice when the resource is known to have none.
type Resource struct {
	Type string // resource type, e.g. "Observation"
	ID   string // logical id; empty for a create

	// Patients are the ids of the patients whose compartment holds the
	// resource (for a Patient, its own id).
	Patients []string

	// Labels are the meta.security codings as "system|code".
	Labels []string

	// Date is the clinically relevant date used for Consent dataPeriod
	// (e.g. Observation.effective); zero when unknown.
	Date time.Time

	// Codes are the resource's main codes as "system|code" (e.g.
	// Observation.code) for Consent provision.code; nil when unknown.
	Codes []string

	// References are the local references ("Type/id") the resource makes,
	// for Consent data with meaning related or dependents; nil when unknown.
	References []string

	// Authors are the local references of the resource's authors or
	// performers, for Consent data with meaning authoredby; nil when unknown.
	Authors []string

	// Params holds search parameter values for granular scope constraints,
	// tokens as "system|code". A missing parameter does not match.
	Params map[string][]string
}

// Ref returns the resource's local reference "Type/id".
func (r *Resource) Ref() string { return r.Type + "/" + r.ID }

// localRef reduces a FHIR reference to "Type/id" when it names a resource
// on this server: relative references are kept, absolute ones under base
// lose the base, a trailing "/_history/vid" is dropped. Other references
// are returned unchanged.
func localRef(ref, base string) string {
	if ref == "" {
		return ""
	}
	if base != "" {
		b := strings.TrimSuffix(base, "/") + "/"
		if rest, ok := strings.CutPrefix(ref, b); ok {
			ref = rest
		}
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	return ref
}
