package auth

import (
	"reflect"
	"slices"
)

// Restriction is a Filter reduced to conditions a search query can express
// exactly: which of the patient's resources are hidden, by type, security
// label or identity. The server compiles it into the query (so totals and
// paging only count what may be seen) and still checks every returned
// resource with Filter.Check.
//
// A resource of the patient is visible under a Restriction when None is
// false, its type is in AllowedTypes (when that is not nil) and not in
// DeniedTypes, it carries none of DeniedLabels, and its reference "Type/id"
// is not in DeniedRefs.
type Restriction struct {
	// None: nothing of the patient's is visible.
	None bool
	// AllowedTypes, when not nil, lists the only visible types.
	AllowedTypes []string
	DeniedTypes  []string
	// DeniedLabels are security labels as "system|code" in the R4 system
	// spelling (NormalizeLabel).
	DeniedLabels []string
	DeniedRefs   []string
}

// All reports whether the restriction hides nothing.
func (r Restriction) All() bool {
	return !r.None && r.AllowedTypes == nil && len(r.DeniedTypes) == 0 && len(r.DeniedLabels) == 0 && len(r.DeniedRefs) == 0
}

// Visible evaluates the restriction on one resource, the way a query
// compiled from it would.
func (r Restriction) Visible(res *Resource) bool {
	if r.None {
		return false
	}
	if r.AllowedTypes != nil && !slices.Contains(r.AllowedTypes, res.Type) {
		return false
	}
	if slices.Contains(r.DeniedTypes, res.Type) || slices.Contains(r.DeniedRefs, res.Ref()) {
		return false
	}
	for _, l := range res.Labels {
		if slices.Contains(r.DeniedLabels, NormalizeLabel(l)) {
			return false
		}
	}
	return true
}

// Restriction returns the query form of f, ignoring break-glass (the
// caller decides whether an override applies and records it), and whether
// it is exact: whether Visible agrees with Check for every resource of the
// patient. It is exact when every Deny clause names only types, only one
// group of labels, or only resource instances; when the Permit clauses
// either cover everything (the default permits, or a Permit clause has no
// conditions) or name only types; and when every Permit clause naming a
// sensitive label names nothing else, alongside a Permit that covers
// everything. Anything else (codes, data periods, related data, exceptions,
// Consents with codes this package cannot interpret) is not exact: a
// search must then refuse rather than filter afterwards.
func (f *Filter) Restriction() (Restriction, bool) {
	var r Restriction
	if f.Self {
		return r, true
	}
	if f.Broken || f.None() {
		return Restriction{None: true}, true
	}
	if !f.Exact {
		return Restriction{None: true}, false
	}
	onlyPermits := false
	for _, c := range f.Deny {
		switch {
		case len(c.Except) > 0 && !slices.ContainsFunc(c.Except, func(e Clause) bool { return !permitted(f.Permit, e) }) && exceptOnly(c):
			// "Deny all but what is permitted" (a permit nested in a
			// deny): only the Permit clauses are visible.
			onlyPermits = true
		case len(c.Types) > 0 && onlyTypes(c):
			r.DeniedTypes = appendNew(r.DeniedTypes, c.Types...)
		case len(c.Labels) == 1 && onlyLabels(c):
			for _, l := range c.Labels[0] {
				r.DeniedLabels = appendNew(r.DeniedLabels, NormalizeLabel(l))
			}
		case len(c.Data) == 1 && onlyData(c):
			for _, d := range c.Data[0] {
				if d.Meaning != "instance" {
					return Restriction{None: true}, false
				}
				r.DeniedRefs = appendNew(r.DeniedRefs, d.Ref)
			}
		default:
			return Restriction{None: true}, false
		}
	}
	permits := make([]Clause, len(f.Permit))
	for i, c := range f.Permit {
		permits[i] = c
		// An exception that another Permit clause grants anyway (a
		// nested permit under a permit) takes nothing away.
		if len(c.Except) > 0 && !slices.ContainsFunc(c.Except, func(e Clause) bool { return !permitted(f.Permit, e) }) {
			permits[i].Except = nil
		}
	}
	everything := (f.DefaultPermit && !onlyPermits) || slices.ContainsFunc(permits, func(c Clause) bool { return c.Unconditional() })
	if !everything {
		r.AllowedTypes = []string{}
	}
	for _, c := range permits {
		switch {
		case c.Unconditional():
		case len(c.Types) > 0 && onlyTypes(c):
			if !everything {
				r.AllowedTypes = appendNew(r.AllowedTypes, c.Types...)
			}
		case len(c.Labels) == 1 && onlyLabels(c) && everything:
		default:
			return Restriction{None: true}, false
		}
	}
	for _, l := range f.Sensitive {
		if !slices.ContainsFunc(f.Permit, func(c Clause) bool { return c.names(l) }) {
			r.DeniedLabels = appendNew(r.DeniedLabels, l)
		}
	}
	if r.AllowedTypes != nil && len(r.AllowedTypes) == 0 {
		return Restriction{None: true}, true
	}
	return r, true
}

func onlyTypes(c Clause) bool {
	c.Types, c.Consent = nil, ""
	return c.Unconditional()
}

func onlyLabels(c Clause) bool {
	c.Labels, c.Consent = nil, ""
	return c.Unconditional()
}

func onlyData(c Clause) bool {
	c.Data, c.Consent = nil, ""
	return c.Unconditional()
}

// LockedPolicy returns a policy for the patient that refuses all access to
// their data except their own and break-glass, as a Policy with a Consent
// that cannot be understood does. A server holds it while the patient's
// Consents are being written, so no decision is taken on a policy that is
// about to change.
func LockedPolicy(patientID string) *Policy {
	return &Policy{patient: patientID, broken: []string{"(being written)"}}
}

// permitted reports whether a Permit clause with exactly e's conditions
// is among permits.
func permitted(permits []Clause, e Clause) bool {
	e.Consent, e.named = "", false
	for _, c := range permits {
		c.Consent, c.named = "", false
		if reflect.DeepEqual(c, e) {
			return true
		}
	}
	return false
}

func exceptOnly(c Clause) bool {
	c.Except, c.Consent = nil, ""
	return c.Unconditional()
}
