package normalize

import "github.com/fhirseal/fhirseal/fhir"

// IdentifierRule says how a source writes one identifier namespace: the
// exchange's canonical System, the local Aliases the source uses for it,
// and optionally the v2-0203 Type code (MR, SS, NPI, ...) that identifiers
// of this system have.
type IdentifierRule struct {
	System  string
	Aliases []string
	Type    string
}

// identifiers maps local identifier systems to canonical ones and fills
// Identifier.type when the profile names the type of a system and the
// identifier has none.
func (r *run) identifiers(res *fhir.Node) {
	if len(r.p.idAliases) == 0 && len(r.p.idTypes) == 0 {
		return
	}
	walk(res, r.root(res), func(n *fhir.Node, p path) {
		if n.Type != "Identifier" {
			return
		}
		s := n.First("system")
		if s == nil || s.Kind != fhir.StringValue {
			return
		}
		if c, ok := r.p.idAliases[s.Value]; ok && c != s.Value {
			r.record(p.sub("system"), s.Value, c, RuleIdentifierSystem)
			s.Value = c
		}
		code, ok := r.p.idTypes[s.Value]
		if !ok || n.First("type") != nil {
			return
		}
		t := n.Ensure("type")
		c := t.Append("coding")
		c.Set("system", identifierTypeSystem)
		c.Set("code", code)
		if d := identifierTypes[code]; d != "" {
			c.Set("display", d)
		}
		r.record(p.sub("type"), "", identifierTypeSystem+"|"+code, RuleIdentifierType)
	})
}
