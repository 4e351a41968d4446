package auth

import (
	"slices"
	"strings"
)

// Interaction is a FHIR RESTful interaction, named as in
// http://hl7.org/fhir/restful-interaction.
type Interaction uint8

// The interactions scope decisions know about.
const (
	InteractionRead Interaction = iota + 1
	InteractionVRead
	InteractionSearch          // search-type
	InteractionHistoryInstance // history of one resource
	InteractionHistoryType     // history of a resource type
	InteractionCreate
	InteractionUpdate
	InteractionPatch
	InteractionDelete
	InteractionOperation // a read-only operation such as $everything
)

// String returns the restful-interaction code.
func (in Interaction) String() string {
	switch in {
	case InteractionRead:
		return "read"
	case InteractionVRead:
		return "vread"
	case InteractionSearch:
		return "search-type"
	case InteractionHistoryInstance:
		return "history-instance"
	case InteractionHistoryType:
		return "history-type"
	case InteractionCreate:
		return "create"
	case InteractionUpdate:
		return "update"
	case InteractionPatch:
		return "patch"
	case InteractionDelete:
		return "delete"
	case InteractionOperation:
		return "operation"
	}
	return "unknown"
}

// Perm returns the SMART v2 permissions the interaction needs:
// c = create; r = read, vread, history-instance; u = update, patch;
// d = delete; s = search, history-type. An operation needs r and s from one
// scope: operations that change data must be authorised by the caller as the
// create/update/delete they perform.
func (in Interaction) Perm() Perm {
	switch in {
	case InteractionRead, InteractionVRead, InteractionHistoryInstance:
		return PermRead
	case InteractionSearch, InteractionHistoryType:
		return PermSearch
	case InteractionCreate:
		return PermCreate
	case InteractionUpdate, InteractionPatch:
		return PermUpdate
	case InteractionDelete:
		return PermDelete
	case InteractionOperation:
		return PermRead | PermSearch
	}
	return 0
}

// Writes reports whether the interaction changes data.
func (in Interaction) Writes() bool {
	switch in {
	case InteractionCreate, InteractionUpdate, InteractionPatch, InteractionDelete:
		return true
	}
	return false
}

// Decision is the outcome of an access check. The zero value denies.
//
// A scope decision (Allow) fills Allowed, Reason and Grants. Authorize adds
// the consent outcome: BreakGlass and Consents.
type Decision struct {
	Allowed bool
	// Reason is a short fixed phrase for logs and audit; it never carries
	// resource content.
	Reason string
	// Grants are the alternative ways the scopes allow the interaction; the
	// request may proceed on a resource that satisfies at least one. A
	// single grant with no pin and no constraints means unrestricted.
	Grants []Grant
	// BreakGlass is set when an emergency purpose (ETREAT, BTG) overrode a
	// consent deny. The caller must record a security-alert AuditEvent.
	BreakGlass bool
	// Consents lists the ids of the Consents that decided the outcome, for
	// the audit record.
	Consents []string
}

// Grant is one scope's permission for the interaction after its context has
// been applied.
type Grant struct {
	Scope   string  // the granting scope, canonical spelling
	Context Context // patient, user or system
	// Patient pins the Patient compartment: the id of the patient (from the
	// token's patient claim) whose compartment the resource must be in.
	Patient string
	// User is the fhirUser the access is made as, for user scopes.
	User string
	// Constraints must all hold on the resource (granular scopes).
	Constraints []Constraint
}

// Unrestricted reports whether the grant has neither a compartment pin nor
// granular constraints.
func (g Grant) Unrestricted() bool { return g.Patient == "" && len(g.Constraints) == 0 }

// Unrestricted reports whether d allows the interaction without pin or
// constraints.
func (d Decision) Unrestricted() bool {
	return d.Allowed && slices.ContainsFunc(d.Grants, Grant.Unrestricted)
}

// Allow decides, from the token's scopes alone, whether p may perform in on
// resources of resourceType (a concrete type: system-wide interactions are
// decided per type). It never looks at Consents.
//
// Scopes never widen one another's restrictions: a granular scope adds a
// grant that is limited by its constraints, and patient/ scopes are pinned
// to the token's patient. patient/ scopes without a patient claim and user/
// scopes without a fhirUser claim grant nothing (fail closed).
func Allow(p *Principal, in Interaction, resourceType string) Decision {
	if p == nil {
		return Decision{Reason: "no principal"}
	}
	need := in.Perm()
	if need == 0 {
		return Decision{Reason: "unknown interaction"}
	}
	if !isResourceType(resourceType) {
		return Decision{Reason: "invalid resource type"}
	}
	var grants []Grant
	reason := "no scope grants " + in.String() + " on " + resourceType
	for _, sc := range p.Scopes {
		if sc.Context == ContextNone || !sc.Perm.Has(need) {
			continue
		}
		if sc.Type != "*" && sc.Type != resourceType {
			continue
		}
		g := Grant{Scope: sc.String(), Context: sc.Context, Constraints: sc.Constraints}
		switch sc.Context {
		case ContextPatient:
			if p.Patient == "" {
				reason = "patient scope without patient claim"
				continue
			}
			g.Patient = p.Patient
		case ContextUser:
			if p.FHIRUser == "" {
				reason = "user scope without fhirUser claim"
				continue
			}
			g.User = p.FHIRUser
		}
		grants = append(grants, g)
	}
	if len(grants) == 0 {
		return Decision{Reason: reason}
	}
	return Decision{Allowed: true, Reason: "scope", Grants: reduceGrants(grants)}
}

// reduceGrants drops grants that another grant already covers: anything is
// covered by an unrestricted grant, and a constrained grant is covered by an
// unconstrained one with the same pin.
func reduceGrants(gs []Grant) []Grant {
	for _, g := range gs {
		if g.Unrestricted() {
			return []Grant{g}
		}
	}
	var out []Grant
	for i, g := range gs {
		covered := false
		for j, h := range gs {
			if i == j || len(h.Constraints) != 0 || h.Patient != g.Patient {
				continue
			}
			if len(g.Constraints) != 0 || j < i {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, g)
		}
	}
	return out
}

// Matches reports whether res satisfies the grant: it is in the pinned
// Patient compartment (or is that Patient) and every constraint holds.
// Parameters missing from res.Params do not match (fail closed).
func (g Grant) Matches(res *Resource) bool {
	if g.Patient != "" {
		if res.Type == "Patient" {
			if res.ID != g.Patient {
				return false
			}
		} else if !slices.Contains(res.Patients, g.Patient) {
			return false
		}
	}
	for _, c := range g.Constraints {
		if !c.Matches(res.Params[c.Param]) {
			return false
		}
	}
	return true
}

// Matches reports whether any of the resource's values for the parameter
// matches any of the constraint's values. Values use FHIR token syntax:
// "system|code" needs both to match, "code" matches the code in any system,
// "system|" any code in the system, "|code" a code without system. Values
// without '|' on either side are compared exactly.
func (c Constraint) Matches(have []string) bool {
	for _, want := range c.Values {
		for _, h := range have {
			if tokenMatches(want, h) {
				return true
			}
		}
	}
	return false
}

func tokenMatches(want, have string) bool {
	ws, wc, wTok := strings.Cut(want, "|")
	hs, hc, hTok := strings.Cut(have, "|")
	switch {
	case !wTok && !hTok:
		return want == have
	case !wTok:
		return hc == want
	case !hTok:
		// The resource value has no system information.
		return ws == "" && wc == have
	case wc == "":
		return ws == hs
	default:
		return ws == hs && wc == hc
	}
}
