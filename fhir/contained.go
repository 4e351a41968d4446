package fhir

import (
	"strconv"
	"strings"
)

// checkContained applies the DomainResource rules for contained resources
// (dom-2 to dom-5, https://hl7.org/fhir/R4/domainresource.html#invs) to a
// resource that has some.
func (p *parser) checkContained(res *Node, rpath string) {
	{
		f := res.Field("contained")
		if f == nil {
			return
		}
		refs := map[string]bool{}
		collectLocalRefs(res, refs, true)
		for i, c := range f.Nodes {
			cpath := rpath + ".contained[" + strconv.Itoa(i) + "]"
			if c.Field("contained") != nil {
				p.issue(Error, "invariant", &elemPath{name: cpath, index: -1}, "dom-2: a contained resource must not contain other resources")
			}
			if m := c.First("meta"); m != nil {
				if m.First("versionId") != nil || m.First("lastUpdated") != nil {
					p.issue(Error, "invariant", &elemPath{name: cpath, index: -1}, "dom-4: a contained resource must not have meta.versionId or meta.lastUpdated")
				}
				if m.First("security") != nil {
					p.issue(Error, "invariant", &elemPath{name: cpath, index: -1}, "dom-5: a contained resource must not have security labels")
				}
			}
			id := c.ID()
			if id == "" {
				p.issue(Error, "invariant", &elemPath{name: cpath, index: -1}, "a contained resource must have an id")
				continue
			}
			if !refs[id] {
				// dom-3 also accepts a reference from another contained
				// resource or back to the container ("#"), both collected above.
				p.issue(Error, "invariant", &elemPath{name: cpath, index: -1}, "dom-3: the contained resource %q is not referenced from the rest of the resource", id)
			}
		}
	}
}

// collectLocalRefs gathers the ids named by "#id" references and
// canonicals in n, looking into contained resources but not into other
// nested resources (their references are their own).
func collectLocalRefs(n *Node, refs map[string]bool, top bool) {
	for _, f := range n.Fields {
		for _, c := range f.Nodes {
			if c.IsResource() && !(top && f.Name == "contained") {
				continue
			}
			if c.Kind == StringValue && (c.Type == "string" || c.Type == "uri" || c.Type == "url" || c.Type == "canonical") && strings.HasPrefix(c.Value, "#") {
				refs[c.Value[1:]] = true
			}
			collectLocalRefs(c, refs, false)
		}
	}
}
