package normalize

import (
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// extensions removes the extensions the profile does not allow: those whose
// URL starts with a denied prefix, and, when the profile has an allow list,
// those whose URL starts with none of its prefixes. The extensions of a
// complex extension are judged with it, not on their own. modifierExtension
// is never removed: dropping one would change the meaning of what it
// modifies. An element that held nothing but removed extensions is
// removed with them, unless it is required: then it is kept as sent, so
// that a valid resource stays valid.
func (r *run) extensions(res *fhir.Node) {
	if len(r.p.extAllow) == 0 && len(r.p.extDeny) == 0 {
		return
	}
	r.filterExtensions(res, r.root(res))
}

func (r *run) filterExtensions(n *fhir.Node, p path) {
	if n.Type != "Extension" {
		if f := n.Field("extension"); f != nil {
			kept := f.Nodes[:0]
			for i, x := range f.Nodes {
				if u := x.String("url"); !r.p.extensionAllowed(u) {
					r.record(append(p, seg{name: "extension", index: i}).String(), u, "", RuleExtension)
					continue
				}
				kept = append(kept, x)
			}
			for i := len(kept); i < len(f.Nodes); i++ {
				f.Nodes[i] = nil
			}
			f.Nodes = kept
			if len(kept) == 0 {
				n.Remove("extension")
			}
		}
	}
	for fi := 0; fi < len(n.Fields); fi++ {
		f := &n.Fields[fi]
		if f.Elem.Min > 0 && r.allEmptied(f.Nodes) {
			continue // a required element would be left empty: keep it as sent
		}
		kept := f.Nodes[:0]
		for i, v := range f.Nodes {
			r.filterExtensions(v, append(p, child(f, v, i)))
			if v.Kind == fhir.NoValue && len(v.Fields) == 0 && !v.IsResource() {
				continue // only removed extensions were in it
			}
			kept = append(kept, v)
		}
		f.Nodes = kept
		if len(kept) == 0 {
			n.Fields = append(n.Fields[:fi], n.Fields[fi+1:]...)
			fi--
		}
	}
}

func (p *Profile) extensionAllowed(url string) bool {
	for _, d := range p.extDeny {
		if strings.HasPrefix(url, d) {
			return false
		}
	}
	if len(p.extAllow) == 0 {
		return true
	}
	for _, a := range p.extAllow {
		if strings.HasPrefix(url, a) {
			return true
		}
	}
	return false
}

// allEmptied reports whether filtering would leave nothing of any of ns.
func (r *run) allEmptied(ns []*fhir.Node) bool {
	for _, v := range ns {
		if !r.emptied(v) {
			return false
		}
	}
	return true
}

// emptied reports whether v holds nothing but extensions the profile
// denies.
func (r *run) emptied(v *fhir.Node) bool {
	if v.Kind != fhir.NoValue || v.Type == "Extension" || v.IsResource() {
		return false
	}
	for _, f := range v.Fields {
		if f.Name == "extension" {
			for _, x := range f.Nodes {
				if r.p.extensionAllowed(x.String("url")) {
					return false
				}
			}
			continue
		}
		if !r.allEmptied(f.Nodes) {
			return false
		}
	}
	return true
}
