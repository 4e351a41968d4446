package auth

import (
	"errors"
	"net/netip"
	"time"

	"github.com/go-json-experiment/json"
)

// Outcome is an AuditEvent outcome code
// (http://hl7.org/fhir/audit-event-outcome).
type Outcome string

// Audit outcomes.
const (
	OutcomeSuccess Outcome = "0"
	OutcomeMinor   Outcome = "4" // the request failed: denied, not found, invalid
	OutcomeSerious Outcome = "8" // the server failed
	OutcomeMajor   Outcome = "12"
)

// OutcomeForStatus maps an HTTP status code to an audit outcome.
func OutcomeForStatus(status int) Outcome {
	switch {
	case status < 400:
		return OutcomeSuccess
	case status < 500:
		return OutcomeMinor
	}
	return OutcomeSerious
}

// AuditInput is everything an AuditEvent records, as plain values.
// Nothing from the request body or query string belongs here: queries
// carry patient data.
type AuditInput struct {
	Interaction Interaction
	Recorded    time.Time
	Outcome     Outcome
	// OutcomeDesc is a fixed phrase (e.g. a Decision.Reason); never
	// resource content or internal error text.
	OutcomeDesc string
	Purposes    []string // v3 ActReason codes

	// Who: FHIRUser ("Practitioner/7") when known, else Subject at Issuer.
	FHIRUser string
	Subject  string
	Issuer   string
	Client   string // client_id
	JTI      string
	Address  string // the client's network address (IP or host name)

	// Server identifies this server (its base URL); Site is optional.
	Server string
	Site   string

	// Resource is the reference ("Type/id" or "Type/id/_history/vid") of
	// the resource acted on; empty for a search. ResourceType names the
	// searched type.
	Resource     string
	ResourceType string
	// Patients are the ids of the patients whose data was involved; each
	// becomes an entity with role Patient so a patient can find the
	// events about them.
	Patients []string
	// Consents are the ids of Consents that decided access.
	Consents  []string
	RequestID string // X-Request-Id
	// BreakGlass records an emergency override of a consent deny: the event
	// becomes a security alert (DICOM 110113) with the BALP AuthZ-Consent
	// subtype beside the interaction.
	BreakGlass bool
}

// Code systems and codes of the IHE Basic Audit Log Patterns (BALP).
const (
	systemAuditEventType   = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	systemRestful          = "http://hl7.org/fhir/restful-interaction"
	systemDICOM            = "http://dicom.nema.org/resources/ontology/DCM"
	systemParticipation    = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemBALPUserAgent    = "https://profiles.ihe.net/ITI/BALP/CodeSystem/UserAgentTypes"
	systemBALPAuthZ        = "https://profiles.ihe.net/ITI/BALP/CodeSystem/AuthZsubType"
	systemBALPEntityType   = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
	systemEntityType       = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole       = "http://terminology.hl7.org/CodeSystem/object-role"
	systemSecuritySource   = "http://terminology.hl7.org/CodeSystem/security-source-type"
	systemNetworkType      = "http://hl7.org/fhir/network-type"
	jtiPrefix              = "urn:ietf:params:oauth:jti:"
	balpSourceRoleID       = "110153"
	balpDestinationRoleID  = "110152"
	dicomSecurityAlert     = "110113"
	objectRolePatient      = "1"
	objectRoleDomain       = "4"
	objectRoleQuery        = "24"
	entityTypePerson       = "1"
	entityTypeSystemObject = "2"
)

type aeCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type aeConcept struct {
	Coding []aeCoding `json:"coding,omitempty"`
}

type aeIdentifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type aeReference struct {
	Reference  string        `json:"reference,omitempty"`
	Identifier *aeIdentifier `json:"identifier,omitempty"`
}

type aeNetwork struct {
	Address string `json:"address,omitempty"`
	Type    string `json:"type,omitempty"`
}

type aeAgent struct {
	Type         *aeConcept  `json:"type,omitempty"`
	Who          aeReference `json:"who"`
	Requestor    bool        `json:"requestor"`
	Policy       []string    `json:"policy,omitempty"`
	Network      *aeNetwork  `json:"network,omitempty"`
	PurposeOfUse []aeConcept `json:"purposeOfUse,omitempty"`
}

type aeSource struct {
	Site     string      `json:"site,omitempty"`
	Observer aeReference `json:"observer"`
	Type     []aeCoding  `json:"type,omitempty"`
}

type aeEntity struct {
	What *aeReference `json:"what,omitempty"`
	Type *aeCoding    `json:"type,omitempty"`
	Role *aeCoding    `json:"role,omitempty"`
	Name string       `json:"name,omitempty"`
}

type auditEvent struct {
	ResourceType   string      `json:"resourceType"`
	Type           aeCoding    `json:"type"`
	Subtype        []aeCoding  `json:"subtype,omitempty"`
	Action         string      `json:"action"`
	Recorded       string      `json:"recorded"`
	Outcome        Outcome     `json:"outcome"`
	OutcomeDesc    string      `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []aeConcept `json:"purposeOfEvent,omitempty"`
	Agent          []aeAgent   `json:"agent"`
	Source         aeSource    `json:"source"`
	Entity         []aeEntity  `json:"entity,omitempty"`
}

// AuditEvent builds a FHIR R4 AuditEvent in the shape of the IHE BALP
// RESTful profiles (https://profiles.ihe.net/ITI/BALP/): type rest, subtype
// the interaction, action C/R/U/D/E, agents for the user (BALP
// UserOauthAgent and information recipient, with the token's jti in
// policy), the client and the server, the server as source, and entities
// for the resource, each patient (role Patient), the Consents and the
// request id. Search parameters are never recorded.
//
// It returns the resource's JSON without id or meta; the store assigns
// those.
func AuditEvent(in AuditInput) ([]byte, error) {
	if in.Recorded.IsZero() {
		return nil, errors.New("auth: audit event needs a recorded time")
	}
	if in.Outcome == "" {
		return nil, errors.New("auth: audit event needs an outcome")
	}
	if in.Server == "" {
		return nil, errors.New("auth: audit event needs the server identity")
	}
	clientID := in.Client
	if clientID == "" {
		clientID = "unknown"
	}
	if in.FHIRUser == "" && in.Subject == "" {
		in.Subject = "anonymous"
	}
	ae := auditEvent{
		ResourceType: "AuditEvent",
		Type:         aeCoding{System: systemAuditEventType, Code: "rest", Display: "Restful Operation"},
		Subtype:      []aeCoding{{System: systemRestful, Code: in.Interaction.String()}},
		Action:       auditAction(in.Interaction),
		Recorded:     in.Recorded.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Outcome:      in.Outcome,
		OutcomeDesc:  in.OutcomeDesc,
	}
	if in.BreakGlass {
		ae.Type = aeCoding{System: systemDICOM, Code: dicomSecurityAlert, Display: "Security Alert"}
		ae.Subtype = append(ae.Subtype, aeCoding{System: systemBALPAuthZ, Code: "AuthZ-Consent"})
	}
	var purposes []aeConcept
	for _, p := range in.Purposes {
		purposes = append(purposes, aeConcept{Coding: []aeCoding{{System: SystemActReason, Code: p}}})
	}
	ae.PurposeOfEvent = purposes

	// The user (or the application when there is no user).
	user := aeAgent{
		Type: &aeConcept{Coding: []aeCoding{
			{System: systemParticipation, Code: "IRCP", Display: "information recipient"},
			{System: systemBALPUserAgent, Code: "UserOauthAgent"},
		}},
		Requestor:    true,
		PurposeOfUse: purposes,
	}
	switch {
	case in.FHIRUser != "":
		user.Who = aeReference{Reference: in.FHIRUser}
	default:
		user.Who = aeReference{Identifier: &aeIdentifier{System: in.Issuer, Value: in.Subject}}
	}
	if in.JTI != "" {
		user.Policy = []string{jtiPrefix + in.JTI}
	}
	// BALP: data flowing to the client makes the client the destination
	// (reads); for queries and writes the client is the source.
	clientRole, serverRole := balpSourceRoleID, balpDestinationRoleID
	if in.Interaction == InteractionRead || in.Interaction == InteractionVRead || in.Interaction == InteractionHistoryInstance {
		clientRole, serverRole = balpDestinationRoleID, balpSourceRoleID
	}
	client := aeAgent{
		Type: &aeConcept{Coding: []aeCoding{{System: systemDICOM, Code: clientRole}}},
		Who:  aeReference{Identifier: &aeIdentifier{Value: clientID}},
	}
	if in.Address != "" {
		client.Network = &aeNetwork{Address: in.Address, Type: networkType(in.Address)}
	}
	server := aeAgent{
		Type:    &aeConcept{Coding: []aeCoding{{System: systemDICOM, Code: serverRole}}},
		Who:     aeReference{Identifier: &aeIdentifier{Value: in.Server}},
		Network: &aeNetwork{Address: in.Server, Type: "5"},
	}
	ae.Agent = []aeAgent{user, client, server}
	ae.Source = aeSource{
		Site:     in.Site,
		Observer: aeReference{Identifier: &aeIdentifier{Value: in.Server}},
		Type:     []aeCoding{{System: systemSecuritySource, Code: "4", Display: "Application Server"}},
	}

	switch {
	case in.Resource != "":
		ae.Entity = append(ae.Entity, aeEntity{
			What: &aeReference{Reference: in.Resource},
			Type: &aeCoding{System: systemEntityType, Code: entityTypeSystemObject},
			Role: &aeCoding{System: systemObjectRole, Code: objectRoleDomain},
		})
	case in.ResourceType != "":
		// A query: the searched type as the entity name, never the query.
		ae.Entity = append(ae.Entity, aeEntity{
			Type: &aeCoding{System: systemEntityType, Code: entityTypeSystemObject},
			Role: &aeCoding{System: systemObjectRole, Code: objectRoleQuery},
			Name: in.ResourceType,
		})
	}
	for _, p := range in.Patients {
		ae.Entity = append(ae.Entity, aeEntity{
			What: &aeReference{Reference: "Patient/" + p},
			Type: &aeCoding{System: systemEntityType, Code: entityTypePerson},
			Role: &aeCoding{System: systemObjectRole, Code: objectRolePatient},
		})
	}
	for _, c := range in.Consents {
		ae.Entity = append(ae.Entity, aeEntity{
			What: &aeReference{Reference: "Consent/" + c},
			Type: &aeCoding{System: SystemResourceTypes, Code: "Consent"},
		})
	}
	if in.RequestID != "" {
		ae.Entity = append(ae.Entity, aeEntity{
			What: &aeReference{Identifier: &aeIdentifier{Value: in.RequestID}},
			Type: &aeCoding{System: systemBALPEntityType, Code: "XrequestId"},
		})
	}
	return json.Marshal(ae)
}

// auditAction maps an interaction to the AuditEvent action code; BALP
// records queries (search, history of a type) and operations as execute.
func auditAction(in Interaction) string {
	switch in {
	case InteractionCreate:
		return "C"
	case InteractionRead, InteractionVRead, InteractionHistoryInstance:
		return "R"
	case InteractionUpdate, InteractionPatch:
		return "U"
	case InteractionDelete:
		return "D"
	}
	return "E"
}

// networkType returns the network-type code: 2 for an IP address, 1 for a
// machine name.
func networkType(addr string) string {
	if _, err := netip.ParseAddr(addr); err == nil {
		return "2"
	}
	if _, err := netip.ParseAddrPort(addr); err == nil {
		return "2"
	}
	return "1"
}
