package server

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/store"
)

// Access control on every path that returns or changes data.
//
//   - guard verifies the token (and, for a consent token, that its Consent
//     still stands) and checks the scopes for the interaction's type.
//   - permit and permitBytes decide one resource completely (auth.Authorize:
//     scopes, patient pin, granular constraints, the Consents of every
//     patient whose compartment holds it). A resource the caller may not
//     see is reported as not found.
//   - searchRestrict compiles the same decision into store.Query.Restrict
//     (type list, patient compartment, granular constraints, consent
//     deny-sets and security labels), so totals, paging and includes see
//     only what the caller may see; recheck then passes every returned
//     resource through permit's decision again and fails the request
//     (403) rather than drop anything silently.

// Authenticator turns a bearer token into a principal. *auth.Verifier
// implements it; its errors are logged, never shown.
type Authenticator interface {
	Verify(ctx context.Context, raw string) (*auth.Principal, error)
}

// Route access classes beside the auth.Interaction values.
const (
	public auth.Interaction = 0   // no token needed
	system auth.Interaction = 255 // a token; the handler decides per type
)

type principalKey struct{}
type decisionKey struct{}
type interactionKey struct{}

func principalOf(r *http.Request) *auth.Principal {
	p, _ := r.Context().Value(principalKey{}).(*auth.Principal)
	return p
}

func decisionOf(r *http.Request) auth.Decision {
	d, _ := r.Context().Value(decisionKey{}).(auth.Decision)
	return d
}

// interactionFrom returns the interaction guard checked (0 for system
// routes).
func interactionFrom(r *http.Request) auth.Interaction {
	in, _ := r.Context().Value(interactionKey{}).(auth.Interaction)
	return in
}

// guard authenticates the request and, for interactions on one resource
// type, checks the token's scopes before the handler runs. Patient pins,
// granular constraints and Consents are checked by the handler on the
// resources themselves (permit) or compiled into its query
// (searchRestrict).
func (s *Server) guard(r *http.Request, in auth.Interaction, typ string) (*http.Request, error) {
	if in == public {
		return r, nil
	}
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || raw == "" || s.cfg.Auth == nil {
		return r, fhir.ErrUnauthenticated
	}
	p, err := s.cfg.Auth.Verify(r.Context(), strings.TrimSpace(raw))
	if err != nil {
		s.log.Info("token refused", "request_id", requestID(r), "err", err)
		return r, fhir.ErrUnauthenticated
	}
	if p.Consent != "" {
		if err := s.consentTokenValid(r.Context(), p); err != nil {
			s.log.Info("consent token refused", "request_id", requestID(r), "err", err)
			return r, fhir.ErrUnauthenticated
		}
	}
	ctx := context.WithValue(r.Context(), principalKey{}, p)
	if in != system && typ != "" {
		if in.Writes() && typ == "AuditEvent" {
			return r, errAuditWrite
		}
		d := auth.Allow(p, in, typ)
		if !d.Allowed {
			return r, fhir.ErrForbidden
		}
		ctx = context.WithValue(ctx, decisionKey{}, d)
		ctx = context.WithValue(ctx, interactionKey{}, in)
	}
	return r.WithContext(ctx), nil
}

var errAuditWrite = &httpError{status: http.StatusForbidden, code: "forbidden", msg: "AuditEvents are written by the server only"}

// consentTokenValid re-reads the Consent a consent token is bound to, on
// every use: revoking, expiring or changing the Consent stops the token at
// once (auth.ConsentTokenValid).
func (s *Server) consentTokenValid(ctx context.Context, p *auth.Principal) error {
	v, err := s.cfg.Store.Read(ctx, "Consent", p.Consent)
	if err != nil {
		return err
	}
	c, err := auth.ParseConsent(v.Body)
	if err != nil {
		return err
	}
	return auth.ConsentTokenValid(p, c, s.cfg.Now())
}

// consentConfig is the server's consent configuration. A zero
// Config.ConsentDefault means permit (the --consent-default default).
func (s *Server) consentConfig() auth.ConsentConfig {
	cfg := auth.ConsentConfig{Default: s.cfg.ConsentDefault, Sensitive: s.cfg.SensitiveLabels}
	if cfg.Default == 0 {
		cfg.Default = auth.Permit
	}
	return cfg
}

// permit checks a resource against the request's complete access decision
// for the interaction guard checked. A resource the caller may not see is
// reported as not found, so a denial never confirms that it exists. An
// emergency override (break-glass) is recorded as a security alert before
// the resource is released; if that record cannot be written the request
// fails.
func (s *Server) permit(r *http.Request, res *fhir.Node) error {
	in := interactionFrom(r)
	if in == 0 {
		in = auth.InteractionRead
	}
	return s.permitAs(r, in, res)
}

func (s *Server) permitAs(r *http.Request, in auth.Interaction, res *fhir.Node) error {
	facts := s.facts(r, res)
	d, err := s.authorize(r, in, facts)
	if err != nil {
		return err
	}
	if !d.Allowed {
		s.recordAccess(r, in, facts, d, http.StatusNotFound)
		return fhir.ErrNotFound
	}
	if d.BreakGlass {
		if err := s.auditBreakGlass(r, in, facts.Ref(), facts.Type, facts.Patients, d.Consents); err != nil {
			return err
		}
		return nil
	}
	if !in.Writes() {
		s.recordAccess(r, in, facts, d, http.StatusOK)
	}
	return nil
}

// authorize is auth.Authorize with the policies of the resource's
// patients.
func (s *Server) authorize(r *http.Request, in auth.Interaction, facts *auth.Resource) (auth.Decision, error) {
	p := principalOf(r)
	policies := make([]*auth.Policy, 0, len(facts.Patients))
	for _, pid := range facts.Patients {
		pol, err := s.consents.policy(r.Context(), pid)
		if err != nil {
			return auth.Decision{}, err
		}
		policies = append(policies, pol)
	}
	cfg := s.consentConfig()
	if in.Writes() {
		// The default governs disclosure; writes are decided by the
		// provisions that speak of them (actions correct, collect) and
		// by the scopes and the patient pin.
		cfg.Default = auth.Permit
	}
	return auth.Authorize(p, in, facts, policies, auth.CallerOf(p), cfg, s.cfg.Now()), nil
}

// permitBytes is permit for stored bytes. When the scopes are
// unrestricted, no Consent is on file, the default permits and the body
// carries no security label, nothing can deny it and it is not parsed.
func (s *Server) permitBytes(r *http.Request, body []byte) error {
	if s.consentFree(r, body) {
		return nil
	}
	n, out := fhir.Parse(body, fhir.Limits{})
	if n == nil || out.HasErrors() {
		return fhir.ErrNotFound
	}
	return s.permit(r, n)
}

func (s *Server) consentFree(r *http.Request, body []byte) bool {
	return decisionOf(r).Unrestricted() && s.consentConfig().Default == auth.Permit && !s.cfg.Audit &&
		!bytes.Contains(body, []byte(`"security"`)) && s.consents.empty(r.Context())
}

// requireUnrestricted is for interactions whose results cannot be filtered
// by a patient pin or granular constraints (history of a type or the
// system, bundles, conditional writes): they need an unrestricted grant
// for every type involved, and fail closed otherwise.
func (s *Server) requireUnrestricted(r *http.Request, in auth.Interaction, types []string) error {
	p := principalOf(r)
	if p == nil {
		return fhir.ErrUnauthenticated
	}
	if len(types) == 0 {
		types = fhir.ResourceTypes()
	}
	for _, t := range types {
		if in.Writes() && t == "AuditEvent" {
			return errAuditWrite
		}
		d := auth.Allow(p, in, t)
		if !d.Allowed {
			return fhir.ErrForbidden
		}
		if !d.Unrestricted() {
			return &httpError{status: http.StatusForbidden, code: "forbidden",
				msg: "this interaction needs an unrestricted scope for " + t + "; patient-pinned and granular scopes are limited to reads, searches, creates and updates"}
		}
	}
	return nil
}

// facts describes a resource for access decisions: its Patient
// compartment membership (from the same search parameter extraction the
// store indexes, so decisions agree with compiled queries), its security
// labels, and the values of the parameters the caller's granular scopes
// constrain. Codes, dates and references are left unknown (nil), which
// auth resolves the safe way.
func (s *Server) facts(r *http.Request, n *fhir.Node) *auth.Resource {
	res := &auth.Resource{Type: n.Type, ID: n.ID(), Labels: []string{}, Patients: []string{}}
	if n.Type == "Patient" {
		if res.ID != "" {
			res.Patients = []string{res.ID}
		}
	} else {
		for _, name := range search.CompartmentParams("Patient", n.Type) {
			p := search.Param(n.Type, name)
			if p == nil {
				continue
			}
			for _, e := range search.ExtractParam(n, p) {
				if id, ok := strings.CutPrefix(e.Value, "Patient/"); ok && e.Kind == search.Reference && !contains(res.Patients, id) {
					res.Patients = append(res.Patients, id)
				}
			}
		}
	}
	if meta := n.First("meta"); meta != nil {
		for _, c := range meta.Get("security") {
			res.Labels = append(res.Labels, c.String("system")+"|"+c.String("code"))
		}
	}
	if p := principalOf(r); p != nil {
		for _, sc := range p.Scopes {
			if sc.Type != n.Type {
				continue
			}
			for _, c := range sc.Constraints {
				if res.Params == nil {
					res.Params = map[string][]string{}
				}
				if _, done := res.Params[c.Param]; done {
					continue
				}
				res.Params[c.Param] = paramValues(n, c.Param)
			}
		}
	}
	return res
}

// paramValues returns the values of a search parameter of n in the form
// auth.Constraint matches: tokens "system|code", other kinds their index
// text.
func paramValues(n *fhir.Node, name string) []string {
	if name == "_id" {
		return []string{n.ID()}
	}
	p := search.Param(n.Type, name)
	if p == nil {
		return []string{}
	}
	out := []string{}
	for _, e := range search.ExtractParam(n, p) {
		if e.Kind == search.Token {
			out = append(out, e.System+"|"+e.Code)
		} else {
			out = append(out, e.Value)
		}
	}
	return out
}

// errNotCompiled refuses a search whose access decision cannot be
// expressed exactly in the query.
var errNotCompiled = &httpError{status: http.StatusForbidden, code: "forbidden",
	msg: "the patient's consent cannot be applied to this search exactly; read the resources one by one"}

// access is an access decision compiled for a search.
type access struct {
	restrict []*search.Criterion
	// breakGlass lists the patients whose consent a break-glass caller
	// overrode; the search is recorded as a security alert.
	breakGlass []string
}

// searchRestrict compiles the caller's decision for reading (in is a
// search or history interaction) into query restrictions. searched are the
// types the caller asked for: each must be allowed by the scopes (403
// otherwise); included resources and chains reach other types, which the
// restriction limits to those the scopes allow.
func (s *Server) searchRestrict(r *http.Request, in auth.Interaction, searched []string) (*access, error) {
	p := principalOf(r)
	if p == nil {
		return nil, fhir.ErrUnauthenticated
	}
	a := &access{}
	scope, pinned, err := scopeRestrict(p, in, searched)
	if err != nil {
		return nil, err
	}
	if scope != nil {
		a.restrict = append(a.restrict, scope)
	}
	crit, err := s.consentRestrict(r, p, pinned, a)
	if err != nil {
		return nil, err
	}
	a.restrict = append(a.restrict, crit...)
	return a, nil
}

// scopeRestrict compiles the scopes: an alternative per distinct grant
// (pin and constraints) with the types it covers. It returns nil when the
// scopes allow every type unrestricted, and the patient every grant is
// pinned to ("" when some grant is not pinned).
func scopeRestrict(p *auth.Principal, in auth.Interaction, searched []string) (*search.Criterion, string, error) {
	type group struct {
		g     auth.Grant
		types []string
	}
	var groups []*group
	byKey := map[string]*group{}
	all := fhir.ResourceTypes()
	pinned, first := "", true
	for _, t := range all {
		d := auth.Allow(p, in, t)
		if !d.Allowed {
			if contains(searched, t) {
				return nil, "", fhir.ErrForbidden
			}
			continue
		}
		for _, g := range d.Grants {
			key := g.Patient
			if len(g.Constraints) > 0 {
				key += "\x00" + g.Scope
			}
			if first {
				pinned, first = g.Patient, false
			} else if pinned != g.Patient {
				pinned = ""
			}
			if gr := byKey[key]; gr != nil {
				gr.types = append(gr.types, t)
				continue
			}
			gr := &group{g: g, types: []string{t}}
			byKey[key] = gr
			groups = append(groups, gr)
		}
	}
	var alts [][]*search.Criterion
	for _, gr := range groups {
		var parts []*search.Criterion
		if len(gr.types) != len(all) {
			parts = append(parts, search.Types(false, gr.types...))
		}
		if gr.g.Patient != "" {
			parts = append(parts, search.InCompartments(false, "Patient", gr.g.Patient))
		}
		ok := true
		for _, c := range gr.g.Constraints {
			crit, err := search.Parse(gr.types[0], c.Param, escapeValues(c.Values))
			if err != nil {
				ok = false // a constraint that cannot be applied grants nothing
				break
			}
			parts = append(parts, crit)
		}
		if ok {
			alts = append(alts, parts)
		}
	}
	return search.AnyOf(alts...), pinned, nil
}

// escapeValues joins constraint values into a search parameter value.
func escapeValues(vs []string) string {
	esc := make([]string, len(vs))
	for i, v := range vs {
		esc[i] = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `$`, `\$`).Replace(v)
	}
	return strings.Join(esc, ",")
}

// consentRestrict compiles the Consents of the patients on file, and the
// configured default for the others, into conjuncts: for each patient, a
// resource in their compartment must pass their Restriction.
//
// A search pinned to one patient whose Consent cannot be compiled exactly
// is refused (errNotCompiled). In a search not pinned to them, such a
// patient's data is left out entirely (the safe side); their data is still
// reachable by reads and pinned searches that are exact. Patients without
// Consents fall under the default: with deny, only resources outside every
// Patient compartment or in a compartment of a patient whose Consent
// permits are found; with permit, only the sensitive labels are excluded.
// A resource in the compartments of several patients passes each of their
// conjuncts; recheck refuses the search if one of them has no policy on
// file and the default would hide it.
func (s *Server) consentRestrict(r *http.Request, p *auth.Principal, pinned string, a *access) ([]*search.Criterion, error) {
	ctx := r.Context()
	known, err := s.consents.all(ctx)
	if err != nil {
		return nil, err
	}
	caller, cfg, now := auth.CallerOf(p), s.consentConfig(), s.cfg.Now()
	var out []*search.Criterion
	handled := []string{}
	handle := func(pid string, pol *auth.Policy) error {
		handled = append(handled, pid)
		f := pol.Filter(caller, auth.ActionRead, now, cfg)
		res, exact := f.Restriction()
		if exact && res.All() {
			return nil
		}
		if f.BreakGlass {
			a.breakGlass = append(a.breakGlass, pid)
			return nil
		}
		if !exact {
			if pid == pinned {
				return errNotCompiled
			}
			res = auth.Restriction{None: true}
		}
		if c := patientConjunct(pid, res); c != nil {
			out = append(out, c)
		}
		return nil
	}
	if pinned != "" {
		pol, err := s.consents.policy(ctx, pinned)
		if err != nil {
			return nil, err
		}
		if err := handle(pinned, pol); err != nil {
			return nil, err
		}
	}
	if self, ok := strings.CutPrefix(p.FHIRUser, "Patient/"); ok && self != pinned {
		pol, err := s.consents.policy(ctx, self)
		if err != nil {
			return nil, err
		}
		handle(self, pol)
	}
	for pid, pol := range known {
		if !contains(handled, pid) {
			if err := handle(pid, pol); err != nil {
				return nil, err
			}
		}
	}
	if pinned != "" {
		return out, nil // others' data in this compartment is checked by recheck
	}
	// Everyone else: the default.
	f := (*auth.Policy)(nil).Filter(caller, auth.ActionRead, now, cfg)
	res, _ := f.Restriction()
	if res.All() {
		return out, nil
	}
	if f.BreakGlass {
		a.breakGlass = append(a.breakGlass, "")
		return out, nil
	}
	alts := [][]*search.Criterion{{search.InCompartments(true, "Patient", "")}}
	if len(handled) > 0 {
		alts = append(alts, []*search.Criterion{search.InCompartments(false, "Patient", handled...)})
	}
	if !res.None {
		alts = append(alts, restrictionParts(res))
	}
	if c := search.AnyOf(alts...); c != nil {
		out = append(out, c)
	}
	return out, nil
}

// patientConjunct is "not in pid's compartment, or visible under res".
func patientConjunct(pid string, res auth.Restriction) *search.Criterion {
	notHis := search.InCompartments(true, "Patient", pid)
	if res.None {
		return notHis
	}
	return search.AnyOf([]*search.Criterion{notHis}, restrictionParts(res))
}

// restrictionParts compiles a Restriction (not None) into criteria.
func restrictionParts(res auth.Restriction) []*search.Criterion {
	var parts []*search.Criterion
	if res.AllowedTypes != nil {
		parts = append(parts, search.Types(false, res.AllowedTypes...))
	}
	if len(res.DeniedTypes) > 0 {
		parts = append(parts, search.Types(true, res.DeniedTypes...))
	}
	if len(res.DeniedLabels) > 0 {
		var vals []string
		for _, l := range res.DeniedLabels {
			vals = append(vals, l)
			// Labels written with the pre-R4 system spelling are the same
			// label (auth.NormalizeLabel).
			if rest, ok := strings.CutPrefix(l, "http://terminology.hl7.org/CodeSystem/v3-"); ok {
				vals = append(vals, "http://hl7.org/fhir/v3/"+rest)
			}
		}
		if c, err := search.Parse("Resource", "_security:not", escapeValues(vals)); err == nil {
			parts = append(parts, c)
		} else {
			parts = append(parts, search.Types(false)) // cannot express: nothing
		}
	}
	for _, ref := range res.DeniedRefs {
		typ, id, ok := strings.Cut(ref, "/")
		if !ok {
			continue
		}
		idNot, err := search.Parse("Resource", "_id:not", id)
		if err != nil {
			parts = append(parts, search.Types(true, typ))
			continue
		}
		parts = append(parts, search.AnyOf([]*search.Criterion{search.Types(true, typ)}, []*search.Criterion{idNot}))
	}
	if len(parts) == 0 {
		return []*search.Criterion{search.Types(true)}
	}
	return parts
}

// restrictChains places the restriction inside every level of the chains
// and _has criteria of crit, so that a search cannot select resources by
// data the caller may not see (R4 search.html#chaining, #has).
func restrictChains(crit []*search.Criterion, restrict []*search.Criterion) {
	if len(restrict) == 0 {
		return
	}
	for _, c := range crit {
		for i, inner := range c.Chain {
			restrictChains([]*search.Criterion{inner}, restrict)
			c.Chain[i] = search.AllOf(inner.Type, append([]*search.Criterion{inner}, restrict...)...)
		}
		for _, v := range c.Values {
			restrictChains(v.Parts, restrict)
		}
	}
}

// recheck passes every resource a search returns through the complete
// decision again, in memory. The query was restricted exactly, so a
// resource that fails here means the decision could not be compiled for it
// (for instance a resource in the compartments of two patients with
// different Consents): the search is refused rather than filtered. It
// returns the patients whose data is released, and those released only by
// break-glass.
func (s *Server) recheck(r *http.Request, bodies [][]byte) (patients, breakGlass []string, err error) {
	for _, b := range bodies {
		if s.consentFree(r, b) {
			continue
		}
		n, out := fhir.Parse(b, fhir.Limits{})
		if n == nil || out.HasErrors() {
			return nil, nil, errNotCompiled
		}
		facts := s.facts(r, n)
		d, err := s.authorize(r, auth.InteractionSearch, facts)
		if err != nil {
			return nil, nil, err
		}
		if !d.Allowed {
			s.log.Warn("search result failed the in-memory access check", "request_id", requestID(r), "reason", d.Reason)
			return nil, nil, errNotCompiled
		}
		for _, pid := range facts.Patients {
			if !contains(patients, pid) {
				patients = append(patients, pid)
			}
			if d.BreakGlass && !contains(breakGlass, pid) {
				breakGlass = append(breakGlass, pid)
			}
		}
	}
	return patients, breakGlass, nil
}

// interactionOf maps a Bundle entry's method to an interaction.
func interactionOf(method string, hasID bool) auth.Interaction {
	switch method {
	case "POST":
		return auth.InteractionCreate
	case "PUT":
		return auth.InteractionUpdate
	case "PATCH":
		return auth.InteractionPatch
	case "DELETE":
		return auth.InteractionDelete
	}
	if hasID {
		return auth.InteractionRead
	}
	return auth.InteractionSearch
}

// errNotFoundPlain is a 404 for non-FHIR documents.
var errNotFoundPlain = &httpError{status: http.StatusNotFound, code: "not-found", msg: "not found"}

// checkHistory applies the complete decision to the versions of a type or
// system history, which the store cannot restrict: one version the caller
// may not see refuses the whole page (403) rather than leave it out.
func (s *Server) checkHistory(r *http.Request, versions []store.Version) error {
	for _, v := range versions {
		if v.Deleted() {
			continue
		}
		if err := s.permitBytes(r, v.Body); err != nil {
			return &httpError{status: http.StatusForbidden, code: "forbidden",
				msg: "this history holds resources the caller may not see; search instead"}
		}
	}
	return nil
}

// checkBundleWrites applies the complete decision to the new content of
// each write entry of a batch or transaction before anything is written
// (scopes were checked per entry already; this adds the patient pin and
// the Consents of the patients the new content belongs to).
func (s *Server) checkBundleWrites(r *http.Request, entries []*bundleEntry) error {
	for _, e := range entries {
		if e.resource == nil || (e.method != "POST" && e.method != "PUT") {
			continue
		}
		if err := s.permitAs(r, interactionOf(e.method, true), e.resource); err != nil {
			return entryError(e, fhir.ErrForbidden)
		}
	}
	return nil
}

// checkBundleReads applies the complete decision to the read and search
// entries of a batch after they ran: a read of a resource the caller may
// not see becomes 404, and a search runs again with the caller's decision
// compiled into it (bundleSearch), its unrestricted result discarded.
func (s *Server) checkBundleReads(r *http.Request, entries []*bundleEntry) {
	for _, e := range entries {
		if e.method != "GET" && e.method != "HEAD" {
			continue
		}
		var err error
		switch {
		case e.version != nil && !e.version.Deleted():
			n, out := fhir.Parse(e.version.Body, fhir.Limits{})
			if n == nil || out.HasErrors() {
				err = fhir.ErrNotFound
			} else {
				err = s.permitAs(r, auth.InteractionRead, n)
			}
		case e.body != nil:
			e.body, err = s.bundleSearch(r, e.url)
		}
		if err != nil {
			e.status, e.outcome = s.classify(r, err)
			e.version, e.body = nil, nil
		}
	}
}

// bundleSearch runs the search of a batch entry (url "Type?params") with
// the caller's access decision, as serveSearch does, and returns the
// searchset Bundle.
func (s *Server) bundleSearch(r *http.Request, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, badRequest("invalid request url")
	}
	typ := strings.Trim(u.Path, "/")
	sr, err := s.parseSearch([]string{typ}, u.Query(), false)
	if err != nil {
		return nil, err
	}
	acc, err := s.searchRestrict(r, auth.InteractionSearch, sr.query.Types)
	if err != nil {
		return nil, err
	}
	q := &sr.query
	q.Count = s.cfg.DefaultCount
	q.Restrict = append(q.Restrict, acc.restrict...)
	restrictChains(q.Criteria, acc.restrict)
	page, err := s.cfg.Store.Search(r.Context(), q)
	if err != nil {
		return nil, err
	}
	var bodies [][]byte
	for _, m := range page.Matches {
		bodies = append(bodies, m.Body)
	}
	for _, m := range page.Included {
		bodies = append(bodies, m.Body)
	}
	if _, glass, err := s.recheck(r, bodies); err != nil {
		return nil, err
	} else if len(acc.breakGlass) > 0 || len(glass) > 0 {
		if err := s.auditBreakGlass(r, auth.InteractionSearch, "", typ, append(acc.breakGlass, glass...), nil); err != nil {
			return nil, err
		}
	}
	bw := newBundle("searchset", page.Total)
	for _, m := range page.Matches {
		bw.add(entry{fullURL: s.fullURL(m.Type, m.ID), resource: m.Body, searchMode: "match"})
	}
	for _, m := range page.Included {
		bw.add(entry{fullURL: s.fullURL(m.Type, m.ID), resource: m.Body, searchMode: "include"})
	}
	return bw.bytes(), nil
}
