package normalize

import (
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// values rewrites coded primitives that differ from the expected code only
// by spelling or case: first the profile's value maps, by element path
// ("Patient.gender": {M: male}), then, when the profile folds case, a code
// that is not in its element's required value set but equals exactly one of
// its codes ignoring case ("FINAL" -> "final").
func (r *run) values(res *fhir.Node) {
	if len(r.p.values) == 0 && !r.p.foldCase {
		return
	}
	walk(res, r.root(res), func(n *fhir.Node, p path) {
		if n.Kind != fhir.StringValue || n.Elem == nil {
			return
		}
		if m, ok := r.p.values[n.Elem.Path]; ok {
			if to, ok := m[n.Value]; ok && to != n.Value {
				r.record(p.String(), n.Value, to, RuleValueMap)
				n.Value = to
				return
			}
		}
		if !r.p.foldCase || n.Type != "code" || n.Elem.Binding == 0 {
			return
		}
		b := n.Elem.BindingOf()
		if b.Contains("", n.Value) {
			return
		}
		if to, ok := foldCode(b, n.Value); ok {
			r.record(p.String(), n.Value, to, RuleValueCase)
			n.Value = to
		}
	})
}

// foldCode returns the one code of b equal to s ignoring case.
func foldCode(b *fhir.Binding, s string) (string, bool) {
	found := ""
	for _, c := range b.Codes {
		if strings.EqualFold(c.Code, s) && c.Code != found {
			if found != "" {
				return "", false
			}
			found = c.Code
		}
	}
	return found, found != ""
}
