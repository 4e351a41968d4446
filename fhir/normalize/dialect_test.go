package normalize

import (
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
)

// A dialect turns a canonical resource into what a source using profile p
// could have sent: it applies the inverse of the profile's rules at sites
// picked at random (seeded, so the corpus is the same on every run) and
// returns the changes that normalising the result must report. Every edit
// is checked against the forward rule before it is made, so the expected
// changes are exact.
type dialect struct {
	p       *Profile
	rng     *rand.Rand
	style   string // code system names: "oid" prefers OIDs, "name" bare names, "legacy" old and variant URLs
	offset  *time.Location
	changes []Change
}

func newDialect(p *Profile, style, seed string) *dialect {
	h := fnv.New64a()
	h.Write([]byte(seed))
	d := &dialect{p: p, style: style, rng: rand.New(rand.NewPCG(h.Sum64(), 0x5eed))}
	d.offset = p.loc
	if d.offset == nil {
		d.offset = time.FixedZone("", 2*3600)
	}
	return d
}

func (d *dialect) want(p, before, after, rule string) {
	d.changes = append(d.changes, Change{Path: p, Before: before, After: after, Rule: rule})
}

func (d *dialect) coin(pct int) bool { return d.rng.IntN(100) < pct }

// degrade edits res in place.
func (d *dialect) degrade(res *fhir.Node) {
	walk(res, root(res), func(n *fhir.Node, p path) {
		switch {
		case n.Type == "CodeableConcept":
			d.duplicateCoding(n, p)
		case n.Type == "Coding":
			d.codingSystem(n, p)
		case quantityTypes[n.Type] && n.Kind == fhir.NoValue:
			d.quantity(n, p)
		case n.Type == "Identifier":
			d.identifier(n, p)
		case n.Type == "Reference":
			d.reference(n, p)
		case n.Kind == fhir.StringValue:
			d.primitive(n, p)
		}
	})
	d.extensions(res)
}

// systemAlias picks a name that p maps to canonical, in the dialect's style.
func (d *dialect) systemAlias(canonical string) string {
	var all, styled []string
	for alias, c := range d.p.systems.exact {
		if c != canonical || alias == canonical || d.p.systems.lookup(alias) != canonical {
			continue
		}
		all = append(all, alias)
		oid := strings.HasPrefix(alias, "urn:oid:")
		if d.style == "oid" && oid || d.style == "name" && !strings.Contains(alias, ":") || d.style == "legacy" && strings.HasPrefix(alias, "http") {
			styled = append(styled, alias)
		}
	}
	if len(styled) > 0 {
		all = styled
	}
	if len(all) == 0 {
		return ""
	}
	sort.Strings(all)
	return all[d.rng.IntN(len(all))]
}

func (d *dialect) codingSystem(n *fhir.Node, p path) {
	s := n.First("system")
	if s == nil || s.Kind != fhir.StringValue || !d.coin(50) {
		return
	}
	if a := d.systemAlias(s.Value); a != "" {
		d.want(p.sub("system"), a, s.Value, RuleCodeSystem)
		s.Value = a
	}
}

// duplicateCoding appends a copy of a coding whose system and code are
// unique in the concept; the copy sometimes names its system otherwise.
func (d *dialect) duplicateCoding(n *fhir.Node, p path) {
	f := n.Field("coding")
	if f == nil || !d.coin(20) {
		return
	}
	c := f.Nodes[d.rng.IntN(len(f.Nodes))]
	sys, code := c.String("system"), c.String("code")
	if sys == "" || code == "" {
		return
	}
	for _, o := range f.Nodes {
		if o != c && o.String("system") == sys && o.String("code") == code {
			return
		}
	}
	dup := c.Clone()
	i := len(f.Nodes)
	f.Nodes = append(f.Nodes, dup)
	cp := append(p[:len(p):len(p)], seg{name: "coding", index: i})
	if a := d.systemAlias(sys); a != "" && d.coin(50) {
		dup.First("system").Value = a
		d.want(cp.sub("system"), a, sys, RuleCodeSystem)
	}
	d.want(cp.String(), sys+"|"+code, "", RuleMergeCodings)
}

// unitSpelling picks a spelling that p maps to the UCUM code c.
func (d *dialect) unitSpelling(c string, r *run, explicit bool) string {
	var all []string
	for s, to := range d.p.units {
		if to == c && r.ucumAlias(s, explicit) == c {
			all = append(all, s)
		}
	}
	if len(all) == 0 {
		return ""
	}
	sort.Strings(all)
	return all[d.rng.IntN(len(all))]
}

func (d *dialect) quantity(n *fhir.Node, p path) {
	sys, code := n.First("system"), n.First("code")
	if sys == nil || sys.Value != UCUM || code == nil || code.Kind != fhir.StringValue || !d.coin(60) {
		return
	}
	r := &run{p: d.p}
	c := code.Value
	switch d.rng.IntN(4) {
	case 0: // a spelling, still marked UCUM
		if s := d.unitSpelling(c, r, true); s != "" {
			d.want(p.sub("code"), s, c, RuleUnit)
			code.Value = s
		}
	case 1: // a spelling without a system
		if s := d.unitSpelling(c, r, false); s != "" {
			d.want(p.sub("system"), "", UCUM, RuleUnit)
			d.want(p.sub("code"), s, c, RuleUnit)
			removeField(n, "system")
			code.Value = s
		}
	case 2: // only the display
		u := n.First("unit")
		if !d.p.inferUnit || u == nil || u.Kind != fhir.StringValue || len(u.Fields) > 0 || len(sys.Fields) > 0 || len(code.Fields) > 0 {
			return
		}
		to := r.ucumAlias(u.Value, false)
		if to == "" && d.p.ucumTargets[u.Value] {
			to = u.Value
		}
		if to != c {
			return
		}
		d.want(p.sub("system"), "", UCUM, RuleUnit)
		d.want(p.sub("code"), "", c, RuleUnit)
		removeField(n, "system")
		removeField(n, "code")
	case 3: // UCUM by another name
		if a := d.systemAlias(UCUM); a != "" {
			d.want(p.sub("system"), a, UCUM, RuleCodeSystem)
			sys.Value = a
		}
	}
}

func (d *dialect) identifier(n *fhir.Node, p path) {
	s := n.First("system")
	if s == nil || s.Kind != fhir.StringValue || !d.coin(70) {
		return
	}
	canonical := s.Value
	if code, ok := d.p.idTypes[canonical]; ok && isFilledType(n.First("type"), code) {
		d.want(p.sub("type"), "", identifierTypeSystem+"|"+code, RuleIdentifierType)
		removeField(n, "type")
	}
	var aliases []string
	for a, c := range d.p.idAliases {
		if c == canonical {
			aliases = append(aliases, a)
		}
	}
	if len(aliases) == 0 {
		return
	}
	sort.Strings(aliases)
	a := aliases[d.rng.IntN(len(aliases))]
	d.want(p.sub("system"), a, canonical, RuleIdentifierSystem)
	s.Value = a
}

// isFilledType reports whether t is exactly what the identifiers step adds.
func isFilledType(t *fhir.Node, code string) bool {
	if t == nil || len(t.Fields) != 1 {
		return false
	}
	cs := t.Get("coding")
	if len(cs) != 1 {
		return false
	}
	c := cs[0]
	want := 2
	if identifierTypes[code] != "" {
		want = 3
	}
	return len(c.Fields) == want && c.String("system") == identifierTypeSystem && c.String("code") == code &&
		c.String("display") == identifierTypes[code] && len(c.First("system").Fields) == 0 && len(c.First("code").Fields) == 0
}

func (d *dialect) reference(n *fhir.Node, p path) {
	ref := n.First("reference")
	if d.p.baseURL == "" || ref == nil || ref.Kind != fhir.StringValue || !d.coin(70) {
		return
	}
	if _, ok := fhir.ParseRef(ref.Value); !ok {
		return
	}
	abs := d.p.baseURL + "/" + ref.Value
	d.want(p.sub("reference"), abs, ref.Value, RuleReference)
	ref.Value = abs
}

func (d *dialect) primitive(n *fhir.Node, p path) {
	switch n.Type {
	case "dateTime":
		if d.p.loc == nil || len(n.Value) < 25 || !d.coin(70) {
			return
		}
		local := n.Value[:len(n.Value)-6]
		if v, ok := withOffset(local, d.p.loc); ok && v == n.Value {
			d.want(p.String(), local, n.Value, RuleDateTimeZone)
			n.Value = local
		}
		return
	case "instant":
		if !d.p.utcInstants || !strings.HasSuffix(n.Value, "Z") || !d.coin(60) {
			return
		}
		t, err := time.Parse(time.RFC3339Nano, n.Value)
		if err != nil {
			return
		}
		frac := ""
		if n.Value[19] == '.' {
			frac = n.Value[19 : len(n.Value)-1]
		}
		l := t.In(d.offset)
		v := l.Format("2006-01-02T15:04:05") + frac + l.Format("-07:00")
		if back, ok := instantUTC(v); ok && back == n.Value {
			d.want(p.String(), v, n.Value, RuleInstantUTC)
			n.Value = v
		}
		return
	}
	if n.Elem == nil {
		return
	}
	if m, ok := d.p.values[n.Elem.Path]; ok && d.coin(80) {
		var keys []string
		for k, v := range m {
			if v == n.Value && k != v {
				keys = append(keys, k)
			}
		}
		if len(keys) > 0 {
			sort.Strings(keys)
			k := keys[d.rng.IntN(len(keys))]
			d.want(p.String(), k, n.Value, RuleValueMap)
			n.Value = k
			return
		}
	}
	if !d.p.foldCase || n.Type != "code" || n.Elem.Binding == 0 || !d.coin(40) {
		return
	}
	up := strings.ToUpper(n.Value)
	if d.coin(50) && len(n.Value) > 1 {
		up = strings.ToUpper(n.Value[:1]) + n.Value[1:]
	}
	b := n.Elem.BindingOf()
	if _, mapped := d.p.values[n.Elem.Path][up]; up == n.Value || mapped || b.Contains("", up) {
		return
	}
	if to, ok := foldCode(b, up); ok && to == n.Value {
		d.want(p.String(), up, n.Value, RuleValueCase)
		n.Value = up
	}
}

// extensions adds vendor extensions the profile denies: one on the
// resource, one on a primitive.
func (d *dialect) extensions(res *fhir.Node) {
	if len(d.p.extDeny) == 0 {
		return
	}
	url := d.p.extDeny[0] + "vendor-flag"
	if !d.coin(60) {
		return
	}
	add := func(n *fhir.Node, p path) bool {
		f := n.Field("extension")
		i := 0
		if f != nil {
			i = len(f.Nodes)
		}
		x := n.Append("extension")
		if x == nil {
			return false
		}
		x.Set("url", url)
		x.Fields = append(x.Fields, extensionValue(x))
		d.want(append(p[:len(p):len(p)], seg{name: "extension", index: i}).String(), url, "", RuleExtension)
		return true
	}
	if t := fhir.Type(res.Type); t != nil && t.IsA("DomainResource") {
		add(res, root(res))
	}
	// And on the first primitive with a value at the top level.
	for fi := range res.Fields {
		f := &res.Fields[fi]
		if len(f.Nodes) == 0 || f.Nodes[0].Kind == fhir.NoValue || !isPrimitive(f.Nodes[0].Type) || f.Name == "id" {
			continue
		}
		add(f.Nodes[0], append(root(res), child(f, f.Nodes[0], 0)))
		return
	}
}

// extensionValue returns a valueString field for the Extension x.
func extensionValue(x *fhir.Node) fhir.Field {
	for _, k := range fhir.Children(x.Elem, "Extension") {
		e := fhir.ElementAt(k)
		if e.Choice && e.Name == "value" {
			return fhir.Field{Name: "valueString", Elem: e, Nodes: []*fhir.Node{{Type: "string", Elem: e, Kind: fhir.StringValue, Value: "legacy"}}}
		}
	}
	panic("Extension has no value[x]")
}

// sortChanges orders changes for comparison.
func sortChanges(cs []Change) []Change {
	out := append([]Change(nil), cs...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Before < b.Before
	})
	return out
}
