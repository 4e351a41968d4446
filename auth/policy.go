package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
)

// Effect is the outcome a consent rule or the configured default gives.
type Effect uint8

// Effects. The zero Effect decides nothing.
const (
	Permit Effect = iota + 1
	Deny
)

func (e Effect) String() string {
	switch e {
	case Permit:
		return "permit"
	case Deny:
		return "deny"
	}
	return ""
}

// ParseEffect parses "permit" or "deny" (the --consent-default values).
func ParseEffect(s string) (Effect, error) {
	switch s {
	case "permit":
		return Permit, nil
	case "deny":
		return Deny, nil
	}
	return 0, fmt.Errorf("auth: consent effect %q: want permit or deny", s)
}

// MarshalText implements encoding.TextMarshaler.
func (e Effect) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *Effect) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*e = 0
		return nil
	}
	v, err := ParseEffect(string(b))
	*e = v
	return err
}

// Action is what a request does with patient data, as Consent rules see it.
// Read matches the consentaction codes access, use and disclose; Write
// matches correct and collect.
type Action uint8

// Actions.
const (
	ActionRead Action = iota + 1
	ActionWrite
)

func (a Action) String() string {
	if a == ActionWrite {
		return "write"
	}
	return "read"
}

// ConsentConfig is the server-wide consent configuration.
type ConsentConfig struct {
	// Default applies when no Consent decides (--consent-default).
	// The zero value means Deny.
	Default Effect
	// Sensitive lists security labels ("system|code") that only an
	// explicit permit naming the label unlocks. Nil means
	// DefaultSensitiveLabels.
	Sensitive []string
}

// DefaultSensitiveLabels are the confidentiality codes restricted (R) and
// very restricted (V), and the v3 ActCode information sensitivity
// categories for behavioural health, substance use, HIV, psychiatry,
// genetic, sexual and reproductive health, and abuse.
var DefaultSensitiveLabels = []string{
	SystemConfidentiality + "|R",
	SystemConfidentiality + "|V",
	SystemActCode + "|BH",
	SystemActCode + "|ETH",
	SystemActCode + "|GDIS",
	SystemActCode + "|HIV",
	SystemActCode + "|MST",
	SystemActCode + "|PSY",
	SystemActCode + "|PSYTHPN",
	SystemActCode + "|SCA",
	SystemActCode + "|SDV",
	SystemActCode + "|SEX",
	SystemActCode + "|STD",
	SystemActCode + "|SUD",
	SystemActCode + "|TBOO",
}

// Caller is who asks, as Consent rules see it. CallerOf fills what the
// token says; the server adds what it looks up (organisation, roles,
// groups) from the fhirUser's PractitionerRole and the like.
type Caller struct {
	Who          string   // "Practitioner/123" (the fhirUser), or ""
	Organization string   // "Organization/9" the caller acts for, or ""
	Roles        []string // role codings "system|code"
	Groups       []string // "Group/x", "CareTeam/y" the caller belongs to
	Client       string   // client_id (recorded, not matched against actors)
	Purposes     []string // v3 ActReason codes
	// Consent binds a consent token: only this Consent's permits count and
	// no default applies.
	Consent string
}

// CallerOf returns the Caller facts a Principal carries.
func CallerOf(p *Principal) Caller {
	return Caller{Who: p.FHIRUser, Client: p.Client, Purposes: p.Purposes, Consent: p.Consent}
}

// Purpose codes with a meaning in this package.
const (
	PurposeTreatment          = "TREAT"
	PurposeEmergencyTreatment = "ETREAT"
	PurposeBreakTheGlass      = "BTG"
	PurposeResearch           = "HRESCH"
)

// breakGlass reports whether the purposes ask for emergency access.
func breakGlass(purposes []string) bool {
	return slices.Contains(purposes, PurposeEmergencyTreatment) || slices.Contains(purposes, PurposeBreakTheGlass)
}

// Policy is the materialised form of one patient's Consents: the active
// Consents with scope patient-privacy or research, their dates parsed and
// codes normalised, ready for fast decisions. It is immutable, safe for
// concurrent use, and serialises to JSON (MarshalJSON) so a store can save
// it in the same transaction as the Consent write that changed it; it must
// be recompiled whenever one of the patient's Consents changes.
type Policy struct {
	patient  string
	consents []*pconsent
	broken   []string
}

type pconsent struct {
	ID    string    `json:"id"`
	Scope string    `json:"scope"`
	Base  Effect    `json:"base,omitzero"`
	From  time.Time `json:"from,omitzero"`
	To    time.Time `json:"to,omitzero"`
	Root  *rule     `json:"root,omitempty"`
}

// rule is a compiled provision. Codes that cannot be interpreted are kept
// as unknownCode; evaluation resolves them the safe way.
type rule struct {
	Type     Effect      `json:"type,omitzero"`
	From     time.Time   `json:"from,omitzero"`
	To       time.Time   `json:"to,omitzero"`
	Actors   []actorRule `json:"actors,omitempty"`
	Actions  []string    `json:"actions,omitempty"`
	Labels   []string    `json:"labels,omitempty"`
	Purposes []string    `json:"purposes,omitempty"`
	Classes  []string    `json:"classes,omitempty"`
	Codes    []string    `json:"codes,omitempty"`
	DataFrom time.Time   `json:"dataFrom,omitzero"`
	DataTo   time.Time   `json:"dataTo,omitzero"`
	Data     []DataMatch `json:"data,omitempty"`
	Children []*rule     `json:"children,omitempty"`
}

type actorRule struct {
	Ref   string   `json:"ref,omitempty"`
	Roles []string `json:"roles,omitempty"`
}

// DataMatch is a Consent provision.data entry: Meaning is instance,
// related, dependents or authoredby; Ref a local reference "Type/id".
type DataMatch struct {
	Meaning string `json:"meaning"`
	Ref     string `json:"ref"`
}

const unknownCode = "?"

// Scopes of Consent kept in a Policy.
const (
	ScopePrivacy  = "patient-privacy"
	ScopeResearch = "research"
)

// CompilePolicy builds the Policy of the patient with id patientID from the
// JSON of that patient's Consent resources. base is the server base URL,
// used to recognise absolute references to local resources.
//
// Consents that are not active, belong to another patient or have another
// scope are left out (and reported). An active Consent that cannot be
// understood makes the policy deny all access to the patient's data except
// break-glass and the patient's own (reported too): guessing the patient's
// wishes would be worse.
func CompilePolicy(patientID, base string, consents [][]byte) (*Policy, []error) {
	p := &Policy{patient: patientID}
	var problems []error
	for i, raw := range consents {
		var head struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			p.broken = append(p.broken, fmt.Sprintf("#%d", i))
			problems = append(problems, fmt.Errorf("consent #%d: %w: %v", i, ErrConsent, err))
			continue
		}
		if head.Status != "active" {
			continue
		}
		c, err := ParseConsent(raw)
		if err != nil {
			p.broken = append(p.broken, head.ID)
			problems = append(problems, fmt.Errorf("consent %q: %w", head.ID, err))
			continue
		}
		if err := p.add(c, base); err != nil {
			problems = append(problems, fmt.Errorf("consent %q: %w", c.ID, err))
		}
	}
	return p, problems
}

// NewPolicy builds a Policy from decoded Consents, as CompilePolicy does.
func NewPolicy(patientID, base string, consents []*Consent) (*Policy, []error) {
	p := &Policy{patient: patientID}
	var problems []error
	for _, c := range consents {
		if c.Status != "active" {
			continue
		}
		if err := c.check(); err != nil {
			p.broken = append(p.broken, c.ID)
			problems = append(problems, fmt.Errorf("consent %q: %w: %s", c.ID, ErrConsent, err))
			continue
		}
		if err := p.add(c, base); err != nil {
			problems = append(problems, fmt.Errorf("consent %q: %w", c.ID, err))
		}
	}
	return p, problems
}

func (p *Policy) add(c *Consent, base string) error {
	if c.PatientID(base) != p.patient {
		return errors.New("consent is about another patient; ignored")
	}
	pc := &pconsent{ID: c.ID}
	switch {
	case c.HasScope(ScopePrivacy):
		pc.Scope = ScopePrivacy
	case c.HasScope(ScopeResearch):
		pc.Scope = ScopeResearch
	default:
		return errors.New("consent scope is neither patient-privacy nor research; ignored")
	}
	if c.PolicyRule != nil {
		for _, cd := range c.PolicyRule.Coding {
			if normSystem(cd.System) != SystemActCode {
				continue
			}
			switch cd.Code {
			case "OPTIN", "OPTINR":
				pc.Base = Permit
			case "OPTOUT", "OPTOUTE":
				pc.Base = Deny
			}
		}
	}
	if c.Provision != nil {
		pc.From, pc.To, _ = parsePeriod(c.Provision.Period)
		pc.Root = compileRule(c.Provision, base)
		// The root period is the Consent's own period, checked as such.
		pc.Root.From, pc.Root.To = time.Time{}, time.Time{}
	}
	p.consents = append(p.consents, pc)
	return nil
}

func compileRule(pr *Provision, base string) *rule {
	r := &rule{}
	switch pr.Type {
	case "permit":
		r.Type = Permit
	case "deny":
		r.Type = Deny
	}
	r.From, r.To, _ = parsePeriod(pr.Period)
	r.DataFrom, r.DataTo, _ = parsePeriod(pr.DataPeriod)
	for _, a := range pr.Actor {
		ar := actorRule{Ref: localRef(a.Reference.Reference, base)}
		for _, cd := range a.Role.Coding {
			ar.Roles = append(ar.Roles, codingKey(cd))
		}
		r.Actors = append(r.Actors, ar)
	}
	for _, cc := range pr.Action {
		r.Actions = append(r.Actions, knownCode(cc.Coding, SystemConsentAction, isConsentAction))
	}
	for _, cd := range pr.SecurityLabel {
		r.Labels = append(r.Labels, codingKey(cd))
	}
	for _, cd := range pr.Purpose {
		r.Purposes = append(r.Purposes, knownCode([]Coding{cd}, SystemActReason, isCode))
	}
	for _, cd := range pr.Class {
		r.Classes = append(r.Classes, knownCode([]Coding{cd}, SystemResourceTypes, isResourceType))
	}
	for _, cc := range pr.Code {
		for _, cd := range cc.Coding {
			if cd.System == "" || cd.Code == "" {
				r.Codes = append(r.Codes, unknownCode)
				continue
			}
			r.Codes = append(r.Codes, codingKey(cd))
		}
		if len(cc.Coding) == 0 {
			r.Codes = append(r.Codes, unknownCode)
		}
	}
	for _, d := range pr.Data {
		r.Data = append(r.Data, DataMatch{Meaning: d.Meaning, Ref: localRef(d.Reference.Reference, base)})
	}
	for i := range pr.Provision {
		r.Children = append(r.Children, compileRule(&pr.Provision[i], base))
	}
	return r
}

// knownCode returns the code of the first coding in system that valid
// accepts, or unknownCode.
func knownCode(cs []Coding, system string, valid func(string) bool) string {
	for _, cd := range cs {
		if normSystem(cd.System) == system && valid(cd.Code) {
			return cd.Code
		}
	}
	return unknownCode
}

func isConsentAction(c string) bool {
	switch c {
	case "access", "collect", "use", "disclose", "correct":
		return true
	}
	return false
}

func codingKey(c Coding) string { return normSystem(c.System) + "|" + c.Code }

// normSystem maps pre-R4 spellings of HL7 code systems to their R4 URIs.
func normSystem(s string) string {
	if rest, ok := strings.CutPrefix(s, "http://hl7.org/fhir/v3/"); ok {
		return "http://terminology.hl7.org/CodeSystem/v3-" + rest
	}
	switch s {
	case "http://hl7.org/fhir/consentaction":
		return SystemConsentAction
	case "http://hl7.org/fhir/consentscope":
		return SystemConsentScope
	}
	return s
}

// NormalizeLabel maps a "system|code" security label to the spelling a
// Policy compares, so that old system URIs still match.
func NormalizeLabel(l string) string {
	s, c, ok := strings.Cut(l, "|")
	if !ok {
		return l
	}
	return normSystem(s) + "|" + c
}

// Patient returns the id of the patient the policy is about.
func (p *Policy) Patient() string { return p.patient }

// ConsentIDs returns the ids of the Consents the policy holds.
func (p *Policy) ConsentIDs() []string {
	ids := make([]string, 0, len(p.consents))
	for _, c := range p.consents {
		ids = append(ids, c.ID)
	}
	return ids
}

// Broken reports whether an active Consent could not be understood.
func (p *Policy) Broken() bool { return len(p.broken) > 0 }

// policyVersion is the version of the serialised form.
const policyVersion = 1

type policyWire struct {
	V        int         `json:"v"`
	Patient  string      `json:"patient"`
	Consents []*pconsent `json:"consents,omitempty"`
	Broken   []string    `json:"broken,omitempty"`
}

// MarshalJSON serialises the policy.
func (p *Policy) MarshalJSON() ([]byte, error) {
	return json.Marshal(policyWire{V: policyVersion, Patient: p.patient, Consents: p.consents, Broken: p.broken},
		json.Deterministic(true))
}

// UnmarshalJSON restores a policy saved by MarshalJSON. An unknown version
// is an error: the caller recompiles from the Consents.
func (p *Policy) UnmarshalJSON(b []byte) error {
	var w policyWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.V != policyVersion {
		return fmt.Errorf("auth: policy version %d, want %d", w.V, policyVersion)
	}
	*p = Policy{patient: w.Patient, consents: w.Consents, broken: w.Broken}
	return nil
}

// tri is a three-valued truth: whether a condition holds, does not hold,
// or cannot be told from what is known.
type tri uint8

const (
	no tri = iota
	yes
	unknown
)

func and(a, b tri) tri {
	if a == no || b == no {
		return no
	}
	if a == unknown || b == unknown {
		return unknown
	}
	return yes
}

func or(a, b tri) tri {
	if a == yes || b == yes {
		return yes
	}
	if a == unknown || b == unknown {
		return unknown
	}
	return no
}

// resolve turns unknown into assume (the safe answer for the caller).
func resolve(t tri, assume bool) bool {
	if t == unknown {
		return assume
	}
	return t == yes
}

// callerTri evaluates the conditions of r that depend on the caller, the
// action and the time, not on the resource.
func (r *rule) callerTri(c *Caller, a Action, now time.Time) tri {
	if !within(now, r.From, r.To) {
		return no
	}
	t := yes
	if len(r.Actors) > 0 {
		m := no
		for _, ar := range r.Actors {
			m = or(m, ar.match(c))
		}
		t = and(t, m)
	}
	if len(r.Actions) > 0 {
		m := no
		for _, code := range r.Actions {
			m = or(m, actionTri(code, a))
		}
		t = and(t, m)
	}
	if len(r.Purposes) > 0 {
		m := no
		for _, code := range r.Purposes {
			switch {
			case code == unknownCode:
				m = or(m, unknown)
			case slices.Contains(c.Purposes, code):
				m = yes
			}
		}
		t = and(t, m)
	}
	return t
}

func (ar actorRule) match(c *Caller) tri {
	if ar.Ref != "" {
		if ar.Ref == c.Who || ar.Ref == c.Organization || slices.Contains(c.Groups, ar.Ref) {
			return yes
		}
		return no
	}
	if len(ar.Roles) == 0 {
		return unknown
	}
	for _, r := range ar.Roles {
		if slices.Contains(c.Roles, r) {
			return yes
		}
	}
	return no
}

func actionTri(code string, a Action) tri {
	switch code {
	case unknownCode:
		return unknown
	case "access", "use", "disclose":
		if a == ActionRead {
			return yes
		}
	case "correct", "collect":
		if a == ActionWrite {
			return yes
		}
	}
	return no
}
