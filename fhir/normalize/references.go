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
	prefix := r.p.baseURL + "/"
	walk(res, r.root(res), func(n *fhir.Node, p path) {
		if n.Type != "Reference" {
			return
		}
		ref := n.First("reference")
		if ref == nil || ref.Kind != fhir.StringValue {
			return
		}
		rest, ok := strings.CutPrefix(ref.Value, prefix)
		if !ok {
			return
		}
		if _, ok := fhir.ParseRef(rest); !ok {
			return
		}
		r.record(p.sub("reference"), ref.Value, rest, RuleReference)
		ref.Value = rest
	})
}
