package auth

import (
	"slices"
	"time"
)

// Clause is a conjunction of conditions on a resource, as produced by
// Policy.Filter. Every non-empty field must hold, and no Except clause may
// match. A clause with no conditions matches every resource.
//
// Facts the server does not know about a resource (nil Codes, a zero Date,
// nil References or Authors) are resolved the safe way: a Deny clause's
// conditions count as met and its exceptions as not met; a Permit clause's
// the other way round. A SQL translation must do the same (e.g. a Deny
// clause with a data period matches rows whose date is NULL).
type Clause struct {
	// Consent is the id of the Consent the clause comes from.
	Consent string `json:"consent,omitempty"`
	// Types: the resource type is one of these.
	Types []string `json:"types,omitempty"`
	// Labels: for each group, the resource carries at least one label.
	Labels [][]string `json:"labels,omitempty"`
	// Codes: for each group, the resource has at least one of the codes.
	Codes [][]string `json:"codes,omitempty"`
	// DataFrom, DataTo: the resource date lies in [DataFrom, DataTo).
	DataFrom time.Time `json:"dataFrom,omitzero"`
	DataTo   time.Time `json:"dataTo,omitzero"`
	// Data: for each group, the resource matches one entry.
	Data [][]DataMatch `json:"data,omitempty"`
	// Except: resources matching any of these are not matched.
	Except []Clause `json:"except,omitempty"`

	// named is set when an actor condition on the clause's path names the
	// caller (consent tokens are only granted from such clauses).
	named bool
}

// Unconditional reports whether c matches every resource.
func (c *Clause) Unconditional() bool {
	return len(c.Types) == 0 && len(c.Labels) == 0 && len(c.Codes) == 0 && c.DataFrom.IsZero() &&
		c.DataTo.IsZero() && len(c.Data) == 0 && len(c.Except) == 0
}

// and adds r's resource conditions, with unknown codes resolved to assume.
// It reports false when the result can match nothing.
func (c *Clause) and(r *rule, assume bool) bool {
	if len(r.Classes) > 0 {
		types, ok := resolveCodes(r.Classes, assume)
		if !ok {
			return false
		}
		if types != nil {
			if c.Types == nil {
				c.Types = types
			} else {
				c.Types = slices.DeleteFunc(c.Types, func(t string) bool { return !slices.Contains(types, t) })
				if len(c.Types) == 0 {
					return false
				}
			}
		}
	}
	if len(r.Labels) > 0 {
		c.Labels = append(c.Labels, slices.Clone(r.Labels))
	}
	if len(r.Codes) > 0 {
		codes, ok := resolveCodes(r.Codes, assume)
		if !ok {
			return false
		}
		if codes != nil {
			c.Codes = append(c.Codes, codes)
		}
	}
	if !r.DataFrom.IsZero() && r.DataFrom.After(c.DataFrom) {
		c.DataFrom = r.DataFrom
	}
	if !r.DataTo.IsZero() && (c.DataTo.IsZero() || r.DataTo.Before(c.DataTo)) {
		c.DataTo = r.DataTo
	}
	if !c.DataFrom.IsZero() && !c.DataTo.IsZero() && !c.DataFrom.Before(c.DataTo) {
		return false
	}
	if len(r.Data) > 0 {
		c.Data = append(c.Data, slices.Clone(r.Data))
	}
	return true
}

// resolveCodes drops unknownCode entries. When one is present and assume is
// true the condition always holds (nil, true); when assume is false it only
// holds for the known codes, and for nothing if there are none (nil, false).
func resolveCodes(codes []string, assume bool) ([]string, bool) {
	if !slices.Contains(codes, unknownCode) {
		return slices.Clone(codes), true
	}
	if assume {
		return nil, true
	}
	known := slices.DeleteFunc(slices.Clone(codes), func(s string) bool { return s == unknownCode })
	return known, len(known) > 0
}

// match evaluates c against res; assume is how unknown facts resolve for
// c's own conditions (the opposite holds for its exceptions).
func (c *Clause) match(res *Resource, assume bool) bool {
	if len(c.Types) > 0 && !slices.Contains(c.Types, res.Type) {
		return false
	}
	for _, g := range c.Labels {
		if !slices.ContainsFunc(res.Labels, func(l string) bool { return slices.Contains(g, NormalizeLabel(l)) }) {
			return false
		}
	}
	for _, g := range c.Codes {
		if res.Codes == nil {
			if !assume {
				return false
			}
			continue
		}
		if !slices.ContainsFunc(res.Codes, func(cd string) bool { return slices.Contains(g, cd) }) {
			return false
		}
	}
	if !c.DataFrom.IsZero() || !c.DataTo.IsZero() {
		if res.Date.IsZero() {
			if !assume {
				return false
			}
		} else if !within(res.Date, c.DataFrom, c.DataTo) {
			return false
		}
	}
	for _, g := range c.Data {
		m := no
		for _, d := range g {
			m = or(m, d.match(res))
		}
		if !resolve(m, assume) {
			return false
		}
	}
	for i := range c.Except {
		if c.Except[i].match(res, !assume) {
			return false
		}
	}
	return true
}

func (d DataMatch) match(res *Resource) tri {
	switch d.Meaning {
	case "instance":
		if res.ID != "" && d.Ref == res.Ref() {
			return yes
		}
	case "related", "dependents":
		if res.ID != "" && d.Ref == res.Ref() {
			return yes
		}
		if res.References == nil {
			return unknown
		}
		if slices.Contains(res.References, d.Ref) {
			return yes
		}
	case "authoredby":
		if res.Authors == nil {
			return unknown
		}
		if slices.Contains(res.Authors, d.Ref) {
			return yes
		}
	}
	return no
}

// names reports whether c names the security label l.
func (c *Clause) names(l string) bool {
	for _, g := range c.Labels {
		if slices.Contains(g, l) {
			return true
		}
	}
	return false
}

// Filter is one patient's Consents compiled for one caller, action and
// moment: the form a search query uses (Deny and Permit clauses, the
// default, the sensitive labels) and the in-memory check every returned
// resource passes (Check). Build it once per request and patient.
//
// A resource is visible when no Deny clause matches, and either a Permit
// clause matches or DefaultPermit is set; a resource carrying a Sensitive
// label additionally needs a matching Permit clause that names that label.
// When Self or BreakGlass is set, neither the clauses nor the summaries
// (DeniedTypes, DeniedLabels, DeniedRefs) restrict the search; when Broken
// is set (and not BreakGlass), nothing is visible.
type Filter struct {
	Patient string // the patient's id
	Action  Action
	// Self is set when the caller is the patient: every resource is
	// visible and no clause applies.
	Self bool
	// Broken is set when an active Consent could not be understood:
	// nothing is visible (except by break-glass).
	Broken bool
	// BreakGlass is set when the caller's purpose is ETREAT or BTG: the
	// search must not apply the clauses, and Check flags every resource
	// the clauses would have hidden so it is audited as a security alert.
	BreakGlass bool
	// DefaultPermit applies when no Permit clause matches.
	DefaultPermit bool
	Deny          []Clause
	Permit        []Clause
	Sensitive     []string
	// Exact is false when a Consent used codes this package cannot
	// interpret; the clauses then err on the safe side and may hide
	// resources the Consent would allow.
	Exact bool
}

// Verdict is a consent decision about one resource.
type Verdict struct {
	Permit     bool
	BreakGlass bool
	Reason     string   // fixed phrase for logs and audit
	Consents   []string // ids of the deciding Consents
}

// Filter compiles the policy for caller c doing a at now. A nil policy
// behaves as a policy with no Consents.
func (p *Policy) Filter(c Caller, a Action, now time.Time, cfg ConsentConfig) *Filter {
	return p.filter(c, a, now, cfg, ScopePrivacy)
}

func (p *Policy) filter(c Caller, a Action, now time.Time, cfg ConsentConfig, scopes ...string) *Filter {
	f := &Filter{Action: a, Exact: true, Sensitive: DefaultSensitiveLabels}
	if cfg.Sensitive != nil {
		f.Sensitive = make([]string, len(cfg.Sensitive))
		for i, l := range cfg.Sensitive {
			f.Sensitive[i] = NormalizeLabel(l)
		}
	}
	if p == nil {
		p = &Policy{}
	}
	f.Patient = p.patient
	if p.patient != "" && c.Who == "Patient/"+p.patient {
		f.Self = true
		return f
	}
	f.BreakGlass = c.Consent == "" && breakGlass(c.Purposes) && !slices.Contains(scopes, ScopeResearch)
	f.Broken = len(p.broken) > 0
	f.DefaultPermit = cfg.Default == Permit && c.Consent == ""
	for _, pc := range p.consents {
		if !slices.Contains(scopes, pc.Scope) || !within(now, pc.From, pc.To) {
			continue
		}
		b := builder{f: f, c: &c, a: a, now: now, consent: pc.ID,
			permits: c.Consent == "" || c.Consent == pc.ID,
			// For research, a privacy Consent permits only by naming the
			// research purpose; a research Consent permits as written.
			permitNeedsPurpose: slices.Contains(scopes, ScopeResearch) && pc.Scope == ScopePrivacy}
		// The Consent's base policy is a virtual provision above the root.
		base := &rule{Type: pc.Base}
		if pc.Root != nil {
			base.Children = []*rule{pc.Root}
		}
		b.walk(base, 0, nil)
	}
	return f
}

type builder struct {
	f       *Filter
	c       *Caller
	a       Action
	now     time.Time
	consent string
	permits bool // whether this Consent's permits count
	// permitNeedsPurpose drops permit regions whose path has no purpose
	// condition met by the caller.
	permitNeedsPurpose bool
}

func (b *builder) walk(n *rule, inherited Effect, path []*rule) {
	eff := n.Type
	if eff == 0 {
		eff = inherited
	}
	path = append(path, n)
	if eff == Deny || (eff == Permit && b.permits) {
		b.region(eff, path, n.Children)
	}
	for _, ch := range n.Children {
		b.walk(ch, eff, slices.Clip(path))
	}
}

// region emits the clause for the part of the resource space where the
// last rule of path decides: all of path applies and none of its children.
// Unknowns resolve toward the region's effect for path conditions and away
// from it for the children, so a Deny region is as large and a Permit
// region as small as the unknowns allow.
func (b *builder) region(eff Effect, path []*rule, children []*rule) {
	assume := eff == Deny
	cl := Clause{Consent: b.consent}
	purposeMet := false
	for _, r := range path {
		t := r.callerTri(b.c, b.a, b.now)
		if t == unknown {
			b.f.Exact = false
		}
		if !resolve(t, assume) || !cl.and(r, assume) {
			return
		}
		if len(r.Actors) > 0 && t == yes {
			cl.named = true
		}
		if len(r.Purposes) > 0 && t == yes {
			purposeMet = true
		}
		b.noteUnknown(r)
	}
	if eff == Permit && b.permitNeedsPurpose && !purposeMet {
		return
	}
	for _, ch := range children {
		t := ch.callerTri(b.c, b.a, b.now)
		if t == unknown {
			b.f.Exact = false
		}
		if !resolve(t, !assume) {
			continue
		}
		var ex Clause
		if !ex.and(ch, !assume) {
			continue
		}
		b.noteUnknown(ch)
		if ex.Unconditional() {
			return // the children cover the whole region
		}
		cl.Except = append(cl.Except, ex)
	}
	if eff == Deny {
		b.f.Deny = append(b.f.Deny, cl)
	} else {
		b.f.Permit = append(b.f.Permit, cl)
	}
}

func (b *builder) noteUnknown(r *rule) {
	if slices.Contains(r.Classes, unknownCode) || slices.Contains(r.Codes, unknownCode) {
		b.f.Exact = false
	}
}

// Check decides whether res (one of the patient's resources) may be
// accessed. It agrees with the clauses a search uses.
func (f *Filter) Check(res *Resource) Verdict {
	if f.Self {
		return Verdict{Permit: true, Reason: "patient's own record"}
	}
	v := f.verdict(res)
	if !v.Permit && f.BreakGlass {
		v.Permit, v.BreakGlass = true, true
		v.Reason = "break-glass override: " + v.Reason
	}
	return v
}

func (f *Filter) verdict(res *Resource) Verdict {
	if f.Broken {
		return Verdict{Reason: "a consent on file could not be evaluated"}
	}
	for i := range f.Deny {
		if f.Deny[i].match(res, true) {
			return Verdict{Reason: "denied by consent", Consents: []string{f.Deny[i].Consent}}
		}
	}
	var matched []*Clause
	for i := range f.Permit {
		if f.Permit[i].match(res, false) {
			matched = append(matched, &f.Permit[i])
		}
	}
	for _, l := range res.Labels {
		if f.Action != ActionRead {
			// Sensitive labels guard disclosure; writing labelled data
			// is decided by the provisions and the default alone.
			break
		}
		l = NormalizeLabel(l)
		if !slices.Contains(f.Sensitive, l) {
			continue
		}
		if !slices.ContainsFunc(matched, func(c *Clause) bool { return c.names(l) }) {
			return Verdict{Reason: "sensitive label without explicit consent"}
		}
	}
	if len(matched) > 0 {
		v := Verdict{Permit: true, Reason: "permitted by consent"}
		for _, c := range matched {
			if !slices.Contains(v.Consents, c.Consent) {
				v.Consents = append(v.Consents, c.Consent)
			}
		}
		return v
	}
	if f.DefaultPermit {
		return Verdict{Permit: true, Reason: "default permit"}
	}
	return Verdict{Reason: "no consent permits"}
}

// None reports whether nothing of the patient's is visible (before
// break-glass).
func (f *Filter) None() bool {
	if f.Self {
		return false
	}
	if f.Broken {
		return true
	}
	if slices.ContainsFunc(f.Deny, func(c Clause) bool { return c.Unconditional() }) {
		return true
	}
	return !f.DefaultPermit && len(f.Permit) == 0
}

// All reports whether every resource without a sensitive label is visible.
func (f *Filter) All() bool {
	if f.Self {
		return true
	}
	if f.Broken || len(f.Deny) > 0 {
		return false
	}
	return f.DefaultPermit || slices.ContainsFunc(f.Permit, func(c Clause) bool { return c.Unconditional() })
}

// DeniedTypes returns the resource types hidden entirely by a Deny clause.
func (f *Filter) DeniedTypes() []string {
	var out []string
	for _, c := range f.Deny {
		only := c
		only.Types, only.Consent = nil, ""
		if len(c.Types) > 0 && only.Unconditional() {
			out = appendNew(out, c.Types...)
		}
	}
	return out
}

// DeniedLabels returns the security labels whose resources are hidden
// entirely: by a Deny clause naming only labels, or because they are
// sensitive and no Permit clause names them.
func (f *Filter) DeniedLabels() []string {
	var out []string
	for _, c := range f.Deny {
		only := c
		only.Labels, only.Consent = nil, ""
		if len(c.Labels) == 1 && only.Unconditional() {
			out = appendNew(out, c.Labels[0]...)
		}
	}
	for _, l := range f.Sensitive {
		if !slices.ContainsFunc(f.Permit, func(c Clause) bool { return c.names(l) }) {
			out = appendNew(out, l)
		}
	}
	return out
}

// DeniedRefs returns the resources ("Type/id") hidden entirely by a Deny
// clause naming them (data with meaning instance, related or dependents).
func (f *Filter) DeniedRefs() []string {
	var out []string
	for _, c := range f.Deny {
		only := c
		only.Data, only.Consent = nil, ""
		if len(c.Data) != 1 || !only.Unconditional() {
			continue
		}
		for _, d := range c.Data[0] {
			if d.Meaning != "authoredby" {
				out = appendNew(out, d.Ref)
			}
		}
	}
	return out
}

func appendNew(out []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
