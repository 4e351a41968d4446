package normalize

import (
	"strconv"
	"strings"
	"sync"

	"github.com/fhirseal/fhirseal/fhir"
)

// systemTable maps the names a sender may use for a code system to its
// canonical URI.
type systemTable struct {
	exact     map[string]string // alias as sent -> canonical
	folded    map[string]string // foldSystem(alias) -> canonical
	canonical map[string]bool   // URIs that are never rewritten
}

// lookup returns the canonical URI for s, or s itself when s is canonical
// or unknown.
func (t *systemTable) lookup(s string) string {
	if s == "" || t.canonical[s] {
		return s
	}
	if c, ok := t.exact[s]; ok {
		return c
	}
	if c, ok := t.folded[foldSystem(s)]; ok {
		return c
	}
	return s
}

// add records alias as a name of canonical. Later calls win.
func (t *systemTable) add(alias, canonical string) {
	t.exact[alias] = canonical
	t.folded[foldSystem(alias)] = canonical
}

func (t *systemTable) clone() *systemTable {
	c := &systemTable{exact: make(map[string]string, len(t.exact)), folded: make(map[string]string, len(t.folded)), canonical: make(map[string]bool, len(t.canonical))}
	for k, v := range t.exact {
		c.exact[k] = v
	}
	for k, v := range t.folded {
		c.folded[k] = v
	}
	for k := range t.canonical {
		c.canonical[k] = true
	}
	return c
}

// foldSystem returns the comparison key of a system: OIDs with or without
// urn:oid:, URIs ignoring case, scheme, "www." and a trailing slash, bare
// names ignoring case, spaces, '-' and '_'.
func foldSystem(s string) string {
	s = strings.TrimSpace(s)
	if isOID(s) {
		return "oid:" + s
	}
	l := strings.ToLower(s)
	if oid, ok := strings.CutPrefix(l, "urn:oid:"); ok {
		return "oid:" + oid
	}
	if rest, ok := strings.CutPrefix(l, "https://"); ok {
		l = "http://" + rest
	}
	if rest, ok := strings.CutPrefix(l, "http://"); ok {
		rest = strings.TrimPrefix(rest, "www.")
		return "http://" + strings.TrimRight(rest, "/")
	}
	if strings.Contains(l, ":") {
		return l
	}
	return "name:" + strings.NewReplacer(" ", "", "-", "", "_", "").Replace(l)
}

// isOID reports whether s is a bare OID (digits and dots, no leading zeros
// except a lone 0).
func isOID(s string) bool {
	if s == "" {
		return false
	}
	for _, arc := range strings.Split(s, ".") {
		if arc == "" || len(arc) > 1 && arc[0] == '0' {
			return false
		}
		for i := 0; i < len(arc); i++ {
			if arc[i] < '0' || arc[i] > '9' {
				return false
			}
		}
	}
	return strings.Contains(s, ".")
}

// defaultSystems is the built-in table: the R4 package's code systems (OIDs
// and pre-R4 URLs), HL7 v2 table OIDs (2.16.840.1.113883.12.N), and the
// external systems with their names and variant URIs.
var defaultSystems = sync.OnceValue(func() *systemTable {
	t := &systemTable{exact: map[string]string{}, folded: map[string]string{}, canonical: map[string]bool{}}
	for _, cs := range r4CodeSystems {
		t.canonical[cs.url] = true
	}
	for _, cs := range r4CodeSystems {
		if !strings.HasPrefix(cs.url, "http") {
			continue // systems whose canonical URL is itself an OID stay as they are
		}
		for _, oid := range cs.oids {
			t.add("urn:oid:"+oid, cs.url)
		}
		if cs.legacy != "" {
			t.add(cs.legacy, cs.url)
		}
		if table, ok := strings.CutPrefix(cs.url, V2Prefix); ok && len(table) == 4 {
			if n, err := strconv.Atoi(table); err == nil {
				t.add("urn:oid:2.16.840.1.113883.12."+strconv.Itoa(n), cs.url)
			}
		}
	}
	for _, x := range externalSystems {
		t.canonical[x.url] = true
		for _, oid := range x.oids {
			t.add("urn:oid:"+oid, x.url)
		}
		for _, n := range x.names {
			t.add(n, x.url)
		}
		for _, u := range x.uris {
			t.add(u, x.url)
		}
	}
	// A canonical URI of one system must never be an alias of another.
	for c := range t.canonical {
		delete(t.exact, c)
	}
	return t
})

// codeSystems rewrites Coding.system aliases to canonical URIs.
func (r *run) codeSystems(res *fhir.Node) {
	walk(res, r.root(res), func(n *fhir.Node, p path) {
		if n.Type != "Coding" {
			return
		}
		r.mapSystem(n, p)
	})
}

// mapSystem rewrites the system child of n (a Coding or a Quantity).
func (r *run) mapSystem(n *fhir.Node, p path) {
	s := n.First("system")
	if s == nil || s.Kind != fhir.StringValue {
		return
	}
	if c := r.p.systems.lookup(s.Value); c != s.Value {
		r.record(p.sub("system"), s.Value, c, RuleCodeSystem)
		s.Value = c
	}
}

// mergeCodings removes a coding of a CodeableConcept that repeats an
// earlier one (same system and code), moving into the earlier one whatever
// it lacks (display, version, userSelected, extensions). Codings whose
// other elements conflict are both kept.
func (r *run) mergeCodings(res *fhir.Node) {
	walk(res, r.root(res), func(n *fhir.Node, p path) {
		if n.Type != "CodeableConcept" {
			return
		}
		f := n.Field("coding")
		if f == nil || len(f.Nodes) < 2 {
			return
		}
		kept := make([]*fhir.Node, 0, len(f.Nodes))
		for i, c := range f.Nodes {
			sys, code := c.String("system"), c.String("code")
			merged := false
			if sys != "" && code != "" {
				for ki, k := range kept {
					if k.String("system") == sys && k.String("code") == code && compatible(k, c) {
						cp := append(p[:len(p):len(p)], seg{name: "coding", index: i})
						r.record(cp.String(), sys+"|"+code, "", RuleMergeCodings)
						kp := append(p[:len(p):len(p)], seg{name: "coding", index: ki})
						for _, cf := range c.Fields {
							if k.Field(cf.Name) == nil {
								r.record(append(kp, seg{name: cf.Elem.Name, index: -1}).String(), "", summary(cf.Nodes[0]), RuleMergeCodings)
								k.Fields = append(k.Fields, cf)
							}
						}
						merged = true
						break
					}
				}
			}
			if !merged {
				kept = append(kept, c)
			}
		}
		f.Nodes = kept
	})
}

// compatible reports whether every element of b is absent from a or equal
// in a.
func compatible(a, b *fhir.Node) bool {
	for _, bf := range b.Fields {
		af := a.Field(bf.Name)
		if af == nil {
			continue
		}
		if len(af.Nodes) != len(bf.Nodes) {
			return false
		}
		for i := range af.Nodes {
			if !equal(af.Nodes[i], bf.Nodes[i]) {
				return false
			}
		}
	}
	return true
}

// equal reports whether two subtrees carry the same content.
func equal(a, b *fhir.Node) bool {
	if a.Type != b.Type || a.Kind != b.Kind || a.Value != b.Value || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		bf := b.Field(a.Fields[i].Name)
		if bf == nil || len(bf.Nodes) != len(a.Fields[i].Nodes) {
			return false
		}
		for j := range bf.Nodes {
			if !equal(a.Fields[i].Nodes[j], bf.Nodes[j]) {
				return false
			}
		}
	}
	return true
}

// summary is a short text for a node in a Change: the value of a
// primitive, "system|code" for a Coding, the JSON of anything else.
func summary(n *fhir.Node) string {
	if n.Kind != fhir.NoValue {
		return n.Value
	}
	switch n.Type {
	case "Coding":
		return n.String("system") + "|" + n.String("code")
	case "CodeableConcept":
		if c := n.First("coding"); c != nil {
			return summary(c)
		}
	case "Extension":
		return n.String("url")
	}
	return string(fhir.AppendJSON(nil, n))
}
