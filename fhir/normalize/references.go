package normalize

import (
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// references rewrites absolute references to the source's own FHIR base
// ("https://ehr.example/fhir/Patient/123") as local ones ("Patient/123").
// Only Reference.reference is touched, and only when the rest of the URL is
// a valid "Type/id" or "Type/id/_history/vid"; contained ("#x"), urn:uuid:
// and other servers' references stay as they are.
func (r *run) references(res *fhir.Node) {
	if r.p.baseURL == "" {
		return
	}
	walk(res, r.root(res), func(n *fhir.Node, p path) {
		if n.Type != "Reference" {
			return
		}
		ref := n.First("reference")
		if ref == nil || ref.Kind != fhir.StringValue {
			return
		}
		rest, ok := r.p.LocalReference(ref.Value)
		if !ok {
			return
		}
		r.record(p.sub("reference"), ref.Value, rest, RuleReference)
		ref.Value = rest
	})
}

// LocalReference returns ref as the references step writes it: an absolute
// URL of a resource ("Type/id" or "Type/id/_history/vid") at the source's
// own base, made local. ok is false for anything else.
func (p *Profile) LocalReference(ref string) (local string, ok bool) {
	if p.baseURL == "" {
		return "", false
	}
	rest, ok := strings.CutPrefix(ref, p.baseURL)
	if !ok || len(rest) < 2 || rest[0] != '/' {
		return "", false
	}
	rest = rest[1:]
	if _, ok := fhir.ParseRef(rest); !ok {
		return "", false
	}
	return rest, true
}
