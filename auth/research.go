package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
)

// ResearchFilter compiles the policy for research use (purpose HRESCH) by
// caller c at now. Research needs an explicit permit: from a Consent with
// scope research, or from a patient-privacy provision that names the
// HRESCH purpose; the configured default never applies, break-glass never
// applies, and every deny (research or privacy) still wins.
//
// cfg.Default is ignored; cfg.Sensitive applies as for Filter.
func (p *Policy) ResearchFilter(c Caller, now time.Time, cfg ConsentConfig) *Filter {
	c.Purposes = []string{PurposeResearch}
	c.Consent = ""
	cfg.Default = Deny
	return p.filter(c, ActionRead, now, cfg, ScopeResearch, ScopePrivacy)
}

// ResearchPermitted reports whether the patient's Consents permit research
// use of at least some of their data by c at now. Each resource must then
// still pass the ResearchFilter's Check.
func (p *Policy) ResearchPermitted(c Caller, now time.Time) bool {
	f := p.ResearchFilter(c, now, ConsentConfig{})
	return !f.None()
}

// Deidentifier removes direct identifiers from resources for research
// export and shifts their dates by a per-patient offset.
//
// It works on a generic JSON tree as decoded by encoding/json (objects as
// map[string]any, arrays as []any, numbers as json.Number or float64) and
// returns a new tree, leaving its input untouched. What it does:
//
//   - removes identifier, name, address, telecom, photo, contact, and the
//     narrative (text) everywhere, including in contained resources;
//   - removes free text: note, comment, description, summary, conclusion,
//     patientInstruction, valueString, valueMarkdown, CodeableConcept.text
//     and Reference.display;
//   - removes attachments (any object with contentType) and meta.source;
//   - removes extensions, and refuses resources with modifierExtension
//     (their meaning cannot be kept without them);
//   - replaces resource ids and references "Type/id" by keyed pseudonyms
//     (HMAC-SHA-256 with the secret), so links between exported resources
//     survive but the server's ids do not;
//   - shifts every date, dateTime and instant (recognised by its text) by
//     a whole number of days between -365 and 365, never 0, derived from
//     an HMAC of the patient id: intervals within one patient's record
//     keep their length. Month precision dates are shifted from the middle
//     of the month; year-only dates are kept (they are indistinguishable
//     from other four-digit strings).
//
// Limitations: this is a rule list, not a certified de-identification
// (HIPAA Safe Harbor or expert determination). Codes, quantities and
// remaining strings may still identify a person (rare diagnoses, ages over
// 89, free text inside elements not listed, codes like a postal code in an
// Observation); a date shift is reversible for anyone who knows one true
// date of the patient; pseudonyms are stable per secret, so the secret must
// be kept like a key and rotated between unrelated exports.
type Deidentifier struct {
	secret []byte
}

// NewDeidentifier returns a Deidentifier keyed by secret (at least 32
// bytes).
func NewDeidentifier(secret []byte) (*Deidentifier, error) {
	if len(secret) < 32 {
		return nil, errors.New("auth: de-identification secret must be at least 32 bytes")
	}
	return &Deidentifier{secret: append([]byte(nil), secret...)}, nil
}

func (d *Deidentifier) mac(label, msg string) []byte {
	m := hmac.New(sha256.New, d.secret)
	m.Write([]byte("fhirseal/v1/" + label + "\n" + msg))
	return m.Sum(nil)
}

// DateOffset returns the patient's date shift in days: in [-365, 365],
// never 0.
func (d *Deidentifier) DateOffset(patientID string) int {
	v := binary.BigEndian.Uint64(d.mac("date-shift", patientID))
	days := int(v%365) + 1
	if v>>63 == 1 {
		days = -days
	}
	return days
}

// Pseudonym returns the pseudonymous id for resource type/id.
func (d *Deidentifier) Pseudonym(resourceType, id string) string {
	return hex.EncodeToString(d.mac("pseudonym", resourceType+"/"+id)[:16])
}

// removedKeys are dropped wherever they occur.
var removedKeys = map[string]bool{
	"identifier": true, "name": true, "address": true, "telecom": true, "photo": true,
	"contact": true, "text": true, "note": true, "comment": true, "description": true,
	"summary": true, "conclusion": true, "patientInstruction": true,
	"valueString": true, "valueMarkdown": true, "extension": true,
}

// Resource de-identifies one resource tree of the patient with the given
// id (the Patient resource itself included).
func (d *Deidentifier) Resource(tree map[string]any, patientID string) (map[string]any, error) {
	rt, _ := tree["resourceType"].(string)
	if !isResourceType(rt) {
		return nil, errors.New("auth: de-identify: not a resource")
	}
	w := deidWalker{d: d, offset: d.DateOffset(patientID)}
	out, err := w.object(tree, 0)
	if err != nil {
		return nil, err
	}
	return out, nil
}

type deidWalker struct {
	d      *Deidentifier
	offset int
}

const maxDeidDepth = 64

func (w *deidWalker) object(m map[string]any, depth int) (map[string]any, error) {
	if depth > maxDeidDepth {
		return nil, errors.New("auth: de-identify: nesting too deep")
	}
	if _, ok := m["modifierExtension"]; ok {
		return nil, errors.New("auth: de-identify: modifierExtension present")
	}
	rt, _ := m["resourceType"].(string)
	out := make(map[string]any, len(m))
	_, isReference := m["reference"]
	for k, v := range m {
		switch {
		case removedKeys[k]:
			continue
		case k == "display" && isReference:
			continue
		case k == "id" && depth == 0 && rt != "":
			// Contained resources keep their local ids ("#x" anchors).
			id, _ := v.(string)
			out[k] = w.d.Pseudonym(rt, id)
			continue
		case k == "reference":
			s, _ := v.(string)
			out[k] = w.reference(s)
			continue
		case k == "meta":
			mm, ok := v.(map[string]any)
			if !ok {
				continue
			}
			meta, err := w.object(mm, depth+1)
			if err != nil {
				return nil, err
			}
			delete(meta, "source")
			out[k] = meta
			continue
		}
		nv, keep, err := w.value(v, depth+1)
		if err != nil {
			return nil, err
		}
		if keep {
			out[k] = nv
		}
	}
	return out, nil
}

func (w *deidWalker) value(v any, depth int) (any, bool, error) {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t["contentType"]; ok {
			return nil, false, nil // an Attachment
		}
		m, err := w.object(t, depth)
		return m, err == nil, err
	case []any:
		out := make([]any, 0, len(t))
		for _, e := range t {
			nv, keep, err := w.value(e, depth+1)
			if err != nil {
				return nil, false, err
			}
			if keep {
				out = append(out, nv)
			}
		}
		if len(out) == 0 {
			return nil, false, nil
		}
		return out, true, nil
	case string:
		return shiftDate(t, w.offset), true, nil
	}
	return v, true, nil
}

// reference pseudonymises a literal reference: "Type/id" (optionally
// absolute or versioned) becomes "Type/<pseudonym>"; a contained reference
// ("#x") is kept; anything else is dropped.
func (w *deidWalker) reference(s string) string {
	if strings.HasPrefix(s, "#") {
		return s
	}
	s = localRef(s, "")
	parts := strings.Split(s, "/")
	if len(parts) < 2 {
		return ""
	}
	typ, id := parts[len(parts)-2], parts[len(parts)-1]
	if !isResourceType(typ) || !fhir.ValidID(id) {
		return ""
	}
	return typ + "/" + w.d.Pseudonym(typ, id)
}

// shiftDate moves a FHIR date, dateTime or instant text by days, keeping
// its precision, time of day and zone; other strings are returned as is.
func shiftDate(s string, days int) string {
	switch {
	case len(s) == 7 && isDigits(s[:4]) && s[4] == '-' && isDigits(s[5:]):
		t, err := time.Parse("2006-01", s)
		if err != nil {
			return s
		}
		return t.AddDate(0, 0, 14+days).Format("2006-01")
	case len(s) >= 10 && isDigits(s[:4]) && s[4] == '-' && isDigits(s[5:7]) && s[7] == '-' && isDigits(s[8:10]):
		rest := s[10:]
		if rest != "" {
			if rest[0] != 'T' {
				return s
			}
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return s
			}
		}
		t, err := time.Parse("2006-01-02", s[:10])
		if err != nil {
			return s
		}
		return t.AddDate(0, 0, days).Format("2006-01-02") + rest
	}
	return s
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
