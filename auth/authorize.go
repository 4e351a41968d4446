package auth

import (
	"slices"
	"time"
)

// Authorize is the complete decision for one interaction on one resource
// (read, vread, history-instance, create, update, patch, delete): the
// token's scopes (Allow), the grant's compartment pin and granular
// constraints, then the Consents of every patient whose compartment holds
// the resource, deny winning. For an update the server calls it for the
// stored version and again for the new content.
//
// policies must hold a Policy for each id in res.Patients; a missing one
// denies (the caller could not load it). A consent deny is overridden for a
// caller whose purpose is ETREAT or BTG; the Decision then has BreakGlass
// set and the caller must record a security alert.
//
// Searches use Allow and Policy.Filter directly so the decision becomes part
// of the query; each returned resource then passes Authorize or
// Filter.Check in memory.
func Authorize(p *Principal, in Interaction, res *Resource, policies []*Policy, c Caller, cfg ConsentConfig, now time.Time) Decision {
	d := Allow(p, in, res.Type)
	if !d.Allowed {
		return d
	}
	if !slices.ContainsFunc(d.Grants, func(g Grant) bool { return g.Matches(res) }) {
		return Decision{Reason: "resource outside the granted compartment or constraints"}
	}
	action := ActionRead
	if in.Writes() {
		action = ActionWrite
	}
	for _, pid := range res.Patients {
		i := slices.IndexFunc(policies, func(pol *Policy) bool { return pol != nil && pol.patient == pid })
		if i < 0 {
			return Decision{Reason: "no consent policy loaded for a patient of the resource"}
		}
		v := policies[i].Filter(c, action, now, cfg).Check(res)
		if !v.Permit {
			return Decision{Reason: v.Reason, Consents: v.Consents}
		}
		d.BreakGlass = d.BreakGlass || v.BreakGlass
		d.Consents = appendNew(d.Consents, v.Consents...)
		if v.BreakGlass {
			d.Reason = v.Reason
		}
	}
	return d
}
