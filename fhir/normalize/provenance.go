package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
)

// ChangeExtension is the URL of the Provenance extension that records one
// normalisation change. It is a complex extension with the sub-extensions
// "path" (valueString, the FHIRPath of the element), "rule" (valueCode),
// "before" and "after" (valueString, absent when the element was absent).
// R4's Provenance has no element for a list of edits (policy and reason
// name why, not what), so the edits travel as extensions on the Provenance
// itself.
const ChangeExtension = "urn:fhirseal:extension:normalization-change"

// ReceivedHashSystem is the identifier system of the Provenance entity
// that stands for the bytes as received.
const ReceivedHashSystem = "urn:fhirseal:received-sha256"

// SetSource sets res.meta.source to "<sourceURI>#<requestID>" (R4
// Meta.source: the system the resource came from, with a fragment naming
// the request).
func SetSource(res *fhir.Node, sourceURI, requestID string) {
	v := sourceURI
	if requestID != "" {
		v += "#" + requestID
	}
	if m := res.Ensure("meta"); m != nil {
		setPrimitive(m, "source", v)
	}
}

// ProvenanceFor builds the JSON of an R4 Provenance recording that res was
// received from source and normalised:
//
//   - target: res ("Type/id", with "/_history/vid" when res has
//     meta.versionId);
//   - recorded: the given time, in UTC;
//   - activity: v3-DataOperation UPDATE when something was changed, CREATE
//     otherwise;
//   - agent: the source, as who.identifier (system urn:ietf:rfc:3986, the
//     source URI) with who.display, type "author";
//   - entity: role "source", what.identifier the SHA-256 of the received
//     bytes ("sha256:<hex>");
//   - one ChangeExtension per change.
//
// The result passes fhir.Parse without errors. res must have a type and an
// id; source must be an absolute URI.
func ProvenanceFor(res *fhir.Node, received []byte, changes []Change, source string, recorded time.Time) ([]byte, error) {
	n, err := Provenance(res, received, changes, source, recorded)
	if err != nil {
		return nil, err
	}
	return fhir.Marshal(n), nil
}

// Provenance is ProvenanceFor returning the parsed tree, ready to be
// stored (it has no id).
func Provenance(res *fhir.Node, received []byte, changes []Change, source string, recorded time.Time) (*fhir.Node, error) {
	if res == nil || !res.IsResource() {
		return nil, ErrNotResource
	}
	id := res.ID()
	if !fhir.ValidID(id) {
		return nil, errors.New("normalize: the resource has no valid id")
	}
	if msg := checkURI(source); msg != "" {
		return nil, fmt.Errorf("normalize: source: %s", msg)
	}
	target := fhir.Ref{Type: res.Type, ID: id}
	if m := res.First("meta"); m != nil {
		if v := m.String("versionId"); fhir.ValidID(v) {
			target.Version = v
		}
	}
	sum := sha256.Sum256(received)
	activity := coding{System: "http://terminology.hl7.org/CodeSystem/v3-DataOperation", Code: "CREATE", Display: "create"}
	if len(changes) > 0 {
		activity = coding{System: "http://terminology.hl7.org/CodeSystem/v3-DataOperation", Code: "UPDATE", Display: "revise"}
	}
	p := provenance{
		ResourceType: "Provenance",
		Target:       []reference{{Reference: target.String()}},
		Recorded:     recorded.UTC().Format(time.RFC3339Nano),
		Activity:     &concept{Coding: []coding{activity}},
		Agent: []agent{{
			Type: &concept{Coding: []coding{{System: "http://terminology.hl7.org/CodeSystem/provenance-participant-type", Code: "author", Display: "Author"}}},
			Who:  reference{Identifier: &identifier{System: "urn:ietf:rfc:3986", Value: source}, Display: source},
		}},
		Entity: []entity{{
			Role: "source",
			What: reference{Identifier: &identifier{System: ReceivedHashSystem, Value: "sha256:" + hex.EncodeToString(sum[:])}},
		}},
	}
	for _, c := range changes {
		x := extension{URL: ChangeExtension}
		x.Extension = append(x.Extension, extension{URL: "path", ValueString: c.Path})
		x.Extension = append(x.Extension, extension{URL: "rule", ValueCode: c.Rule})
		if strings.TrimSpace(c.Before) != "" {
			x.Extension = append(x.Extension, extension{URL: "before", ValueString: c.Before})
		}
		if strings.TrimSpace(c.After) != "" {
			x.Extension = append(x.Extension, extension{URL: "after", ValueString: c.After})
		}
		p.Extension = append(p.Extension, x)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	n, out := fhir.Parse(raw, fhir.Limits{})
	if n == nil || out.HasErrors() {
		return nil, fmt.Errorf("normalize: the Provenance does not validate: %s", out)
	}
	return n, nil
}

type provenance struct {
	ResourceType string      `json:"resourceType"`
	Extension    []extension `json:"extension,omitempty"`
	Target       []reference `json:"target"`
	Recorded     string      `json:"recorded"`
	Activity     *concept    `json:"activity,omitempty"`
	Agent        []agent     `json:"agent"`
	Entity       []entity    `json:"entity,omitempty"`
}

type extension struct {
	URL         string      `json:"url"`
	Extension   []extension `json:"extension,omitempty"`
	ValueString string      `json:"valueString,omitempty"`
	ValueCode   string      `json:"valueCode,omitempty"`
}

type reference struct {
	Reference  string      `json:"reference,omitempty"`
	Identifier *identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

type identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value"`
}

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type concept struct {
	Coding []coding `json:"coding"`
}

type agent struct {
	Type *concept  `json:"type,omitempty"`
	Who  reference `json:"who"`
}

type entity struct {
	Role string    `json:"role"`
	What reference `json:"what"`
}
