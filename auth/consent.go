package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/fhirseal/fhirseal/fhir"
)

// Code systems used by Consent evaluation.
const (
	SystemConsentScope    = "http://terminology.hl7.org/CodeSystem/consentscope"
	SystemConsentAction   = "http://terminology.hl7.org/CodeSystem/consentaction"
	SystemActReason       = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	SystemActCode         = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	SystemConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	SystemResourceTypes   = "http://hl7.org/fhir/resource-types"
)

// Consent is the part of a FHIR R4 Consent resource that access decisions
// use, decoded from JSON. Elements not listed are ignored.
// See https://hl7.org/fhir/R4/consent.html.
type Consent struct {
	ResourceType string           `json:"resourceType"`
	ID           string           `json:"id"`
	Status       string           `json:"status"`
	Scope        CodeableConcept  `json:"scope"`
	Patient      Reference        `json:"patient"`
	DateTime     string           `json:"dateTime"`
	Performer    []Reference      `json:"performer"`
	Organization []Reference      `json:"organization"`
	PolicyRule   *CodeableConcept `json:"policyRule"`
	Provision    *Provision       `json:"provision"`
}

// Provision is a Consent rule. A nested provision is an exception to its
// parent: it applies when the parent applies and its own conditions match,
// and its type then overrides the parent's.
type Provision struct {
	Type          string            `json:"type"` // permit | deny
	Period        *Period           `json:"period"`
	Actor         []ProvisionActor  `json:"actor"`
	Action        []CodeableConcept `json:"action"`
	SecurityLabel []Coding          `json:"securityLabel"`
	Purpose       []Coding          `json:"purpose"`
	Class         []Coding          `json:"class"`
	Code          []CodeableConcept `json:"code"`
	DataPeriod    *Period           `json:"dataPeriod"`
	Data          []ProvisionData   `json:"data"`
	Provision     []Provision       `json:"provision"`
}

// ProvisionActor names who a provision is about.
type ProvisionActor struct {
	Role      CodeableConcept `json:"role"`
	Reference Reference       `json:"reference"`
}

// ProvisionData names resources a provision is about.
type ProvisionData struct {
	Meaning   string    `json:"meaning"` // instance | related | dependents | authoredby
	Reference Reference `json:"reference"`
}

// Coding is a FHIR Coding (system and code only).
type Coding struct {
	System string `json:"system,omitempty"`
	Code   string `json:"code,omitempty"`
}

// CodeableConcept is a FHIR CodeableConcept (codings only).
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
}

// Reference is a FHIR Reference (the literal reference only).
type Reference struct {
	Reference string `json:"reference,omitempty"`
}

// Period is a FHIR Period with its date texts.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// Limits on Consent structure, so that evaluation cost stays bounded.
const (
	maxProvisionDepth = 8
	maxProvisions     = 256
)

// ErrConsent is wrapped by ParseConsent errors.
var ErrConsent = errors.New("consent not understood")

// ParseConsent decodes a Consent resource from JSON and checks everything
// evaluation relies on: resource type, status and provision type codes,
// data meanings, dates and the nesting limits. A Consent that fails here
// cannot be evaluated; CompilePolicy then refuses access to the patient's
// data rather than guess (fail closed).
func ParseConsent(b []byte) (*Consent, error) {
	var c Consent
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConsent, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrConsent, err)
	}
	return &c, nil
}

func (c *Consent) check() error {
	if c.ResourceType != "Consent" {
		return errors.New("resourceType is not Consent")
	}
	switch c.Status {
	case "draft", "proposed", "active", "rejected", "inactive", "entered-in-error":
	default:
		return fmt.Errorf("unknown status %q", c.Status)
	}
	if c.DateTime != "" {
		if _, _, err := parseFHIRTime(c.DateTime); err != nil {
			return errors.New("dateTime: " + err.Error())
		}
	}
	if c.Provision == nil {
		return nil
	}
	n := 0
	return c.Provision.check(0, &n)
}

func (p *Provision) check(depth int, n *int) error {
	*n++
	if depth >= maxProvisionDepth || *n > maxProvisions {
		return errors.New("provisions nested too deep or too many")
	}
	switch p.Type {
	case "", "permit", "deny":
	default:
		return fmt.Errorf("unknown provision type %q", p.Type)
	}
	if _, _, err := parsePeriod(p.Period); err != nil {
		return errors.New("period: " + err.Error())
	}
	if _, _, err := parsePeriod(p.DataPeriod); err != nil {
		return errors.New("dataPeriod: " + err.Error())
	}
	for _, d := range p.Data {
		switch d.Meaning {
		case "instance", "related", "dependents", "authoredby":
		default:
			return fmt.Errorf("unknown data meaning %q", d.Meaning)
		}
		if d.Reference.Reference == "" {
			return errors.New("data without reference")
		}
	}
	for i := range p.Provision {
		if err := p.Provision[i].check(depth+1, n); err != nil {
			return err
		}
	}
	return nil
}

// PatientID returns the id of the Consent's patient ("Patient/123" ->
// "123"), or "" when the reference is not a local Patient reference.
func (c *Consent) PatientID(base string) string {
	ref := localRef(c.Patient.Reference, base)
	id, ok := strings.CutPrefix(ref, "Patient/")
	if !ok || !fhir.ValidID(id) {
		return ""
	}
	return id
}

// HasScope reports whether the Consent's scope has the code in the
// consentscope system (e.g. "patient-privacy", "research").
func (c *Consent) HasScope(code string) bool {
	for _, cd := range c.Scope.Coding {
		if cd.System == SystemConsentScope && cd.Code == code {
			return true
		}
	}
	return false
}

// InForce reports whether the Consent is active and now lies within its
// root provision's period.
func (c *Consent) InForce(now time.Time) bool {
	if c.Status != "active" {
		return false
	}
	if c.Provision == nil {
		return true
	}
	from, to, err := parsePeriod(c.Provision.Period)
	return err == nil && within(now, from, to)
}

// End returns the end of the Consent's period (exclusive), or the zero time
// when it has none.
func (c *Consent) End() time.Time {
	if c.Provision == nil {
		return time.Time{}
	}
	_, to, _ := parsePeriod(c.Provision.Period)
	return to
}
