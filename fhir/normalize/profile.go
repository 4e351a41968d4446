package normalize

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
	"go.yaml.in/yaml/v3"
)

// Profile is the normalisation profile of one sending system. Profiles are
// read from YAML (ParseProfile, LoadProfiles) and built on the default
// profile unless they say otherwise; once built they are never modified, so
// one Profile may normalise resources from many goroutines at once.
type Profile struct {
	clientID string
	name     string
	source   string
	baseURL  string
	loc      *time.Location

	systems     *systemTable
	units       map[string]string
	ucumTargets map[string]bool
	inferUnit   bool
	conversions []Conversion
	idAliases   map[string]string // local system -> canonical
	idTypes     map[string]string // canonical system -> v2-0203 code
	extAllow    []string
	extDeny     []string
	values      map[string]map[string]string // element path -> from -> to
	foldCase    bool
	utcInstants bool
}

// ClientID returns the client_id the profile applies to ("" for the
// default profile).
func (p *Profile) ClientID() string { return p.clientID }

// Source returns the URI recorded as the source of the resources this
// profile normalises (meta.source, Provenance.agent).
func (p *Profile) Source() string { return p.source }

// DefaultSource is the source URI of resources from a client without a
// profile of its own.
const DefaultSource = "urn:fhirseal:source:default"

// Default returns the built-in profile: the code system aliases (OIDs,
// names and old URIs of LOINC, SNOMED CT, RxNorm, ICD-10(-CM), ICD-9-CM,
// CPT, CVX, NDC, UCUM, NUCC and of every code system in the R4 package),
// the unit spellings and case folding of codes with a required binding.
// It has no time zone, base URL, identifier rules or extension lists,
// because those depend on the source.
//
// It applies to every write from a client without a profile of its own,
// so it holds only rewrites that make data findable: a code under an OID
// or a unit spelled "mg/dl" is invisible to a search by its canonical name.
// It leaves instants as they were sent. An instant that carries an offset
// already names one moment exactly, and searches compare moments, not
// text, so writing it in UTC would make nothing findable; it would drop
// the sender's offset (the local clock of the device or lab that recorded
// it) from the stored resource, change what clients read back from what
// they wrote (about one in ten of the official R4 examples has such an
// instant), and give each of those writes a Provenance of its own. Source
// profiles, which an operator writes for one sending system, do write
// instants in UTC unless they say utc_instants: false.
func Default() *Profile { return defaultProfile() }

var defaultProfile = sync.OnceValue(func() *Profile {
	p := &Profile{
		source:   DefaultSource,
		systems:  defaultSystems(),
		units:    unitAliases,
		foldCase: true,
	}
	p.ucumTargets = targets(p.units)
	return p
})

func targets(m map[string]string) map[string]bool {
	t := make(map[string]bool, len(m))
	for _, v := range m {
		t[v] = true
	}
	return t
}

// ProfileError is one problem found in a profile file.
type ProfileError struct {
	File  string
	Line  int    // 0 when unknown
	Field string // e.g. "identifiers[1].type"
	Msg   string
}

func (e *ProfileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// maxProfileBytes bounds a profile file.
const maxProfileBytes = 1 << 20

// LoadProfiles reads every *.yaml and *.yml file of dir as a profile and
// returns them keyed by client_id. It reports every problem of every file
// (as *ProfileError values joined with errors.Join), including two files
// for one client_id, and returns no profiles when there is any.
func LoadProfiles(dir string) (map[string]*Profile, error) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	out := map[string]*Profile{}
	from := map[string]string{}
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p, err := ParseProfile(f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, ok := from[p.clientID]; ok {
			errs = append(errs, &ProfileError{File: f, Field: "client_id", Msg: fmt.Sprintf("%q is also the client_id of %s", p.clientID, prev)})
			continue
		}
		from[p.clientID] = f
		out[p.clientID] = p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ParseProfile reads one profile. file names it in errors.
func ParseProfile(file string, data []byte) (*Profile, error) {
	d := &decoder{file: file}
	if len(data) > maxProfileBytes {
		d.fail(nil, "", "the file is larger than %d bytes", maxProfileBytes)
		return nil, d.err()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
			_, msg, _ = strings.Cut(msg, ": ")
		}
		d.errs = append(d.errs, &ProfileError{File: file, Line: line, Msg: "invalid YAML: " + msg})
		return nil, d.err()
	}
	if len(doc.Content) == 0 {
		d.fail(nil, "", "the file is empty")
		return nil, d.err()
	}
	p := d.profile(doc.Content[0])
	if err := d.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// decoder turns a YAML node tree into a Profile, collecting every problem.
type decoder struct {
	file string
	errs []error
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

func (d *decoder) fail(n *yaml.Node, field, format string, args ...any) {
	e := &ProfileError{File: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
	}
	d.errs = append(d.errs, e)
}

// mapping calls fn for each member of a mapping node, rejecting aliases,
// duplicate keys and non-scalar keys.
func (d *decoder) mapping(n *yaml.Node, field string, fn func(key string, k, v *yaml.Node)) {
	if !d.plain(n, field) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, field, "must be a mapping, not %s", kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, field, "keys must be plain text")
			continue
		}
		if seen[k.Value] {
			d.fail(k, join(field, k.Value), "given twice")
			continue
		}
		seen[k.Value] = true
		if !d.plain(v, join(field, k.Value)) {
			continue
		}
		fn(k.Value, k, v)
	}
}

// plain rejects YAML anchors, aliases and merge keys, which a profile has
// no use for and which would let a small file expand into a huge one.
func (d *decoder) plain(n *yaml.Node, field string) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		d.fail(n, field, "anchors and aliases are not supported")
		return false
	}
	return true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return "a single value"
	}
	return "something else"
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func (d *decoder) str(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.fail(n, field, "must be a text value, not %s", kindName(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		d.fail(n, field, "must not be empty")
		return "", false
	}
	return n.Value, true
}

func (d *decoder) boolean(n *yaml.Node, field string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.fail(n, field, "must be true or false")
		return false
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
}

func (d *decoder) list(n *yaml.Node, field string, fn func(i int, v *yaml.Node, field string)) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "must be a list, not %s", kindName(n))
		return
	}
	for i, v := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		if d.plain(v, f) {
			fn(i, v, f)
		}
	}
}

func (d *decoder) strList(n *yaml.Node, field string, check func(s string) string) []string {
	var out []string
	d.list(n, field, func(_ int, v *yaml.Node, f string) {
		s, ok := d.str(v, f)
		if !ok {
			return
		}
		if msg := check(s); msg != "" {
			d.fail(v, f, "%s", msg)
			return
		}
		out = append(out, s)
	})
	return out
}

// checkURI returns what is wrong with s as an absolute URI, or "".
func checkURI(s string) string {
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Sprintf("%q is not a URI: it contains white space", s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return fmt.Sprintf("%q is not an absolute URI", s)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return fmt.Sprintf("%q has no host", s)
		}
	case "urn":
		if oid, ok := strings.CutPrefix(s, "urn:oid:"); ok && !isOID(oid) {
			return fmt.Sprintf("%q is not a valid OID URI", s)
		}
		if strings.Count(s, ":") < 2 {
			return fmt.Sprintf("%q is not a valid URN", s)
		}
	}
	return ""
}

func checkLocalSystem(s string) string {
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Sprintf("%q contains white space", s)
	}
	return ""
}

func checkPrefix(s string) string {
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Sprintf("%q contains white space", s)
	}
	if !strings.Contains(s, ":") {
		return fmt.Sprintf("%q is not the start of an absolute URL", s)
	}
	return ""
}

func validClientID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// profile decodes the top-level mapping.
func (d *decoder) profile(n *yaml.Node) *Profile {
	def := Default()
	p := &Profile{foldCase: true, utcInstants: true}
	inherit := true
	var ownSystems [][3]any // alias, canonical, node
	var ownUnits [][3]any
	var idRules []IdentifierRule
	var idNodes []*yaml.Node
	var convNodes []*yaml.Node
	var valueNodes = map[string]*yaml.Node{}
	sawClient := false
	d.mapping(n, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "client_id":
			sawClient = true
			if s, ok := d.str(v, key); ok {
				if !validClientID(s) {
					d.fail(v, key, "%q is not a valid client id (letters, digits, '-', '.', '_'; at most 64)", s)
				}
				p.clientID = s
			}
		case "name":
			p.name, _ = d.str(v, key)
		case "source":
			if s, ok := d.str(v, key); ok {
				if msg := checkURI(s); msg != "" {
					d.fail(v, key, "%s", msg)
				} else if strings.Contains(s, "#") {
					d.fail(v, key, "%q must not have a fragment: the request id is added after '#'", s)
				}
				p.source = s
			}
		case "base_url":
			if s, ok := d.str(v, key); ok {
				u, err := url.Parse(s)
				switch {
				case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
					d.fail(v, key, "%q is not an http or https URL", s)
				case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?"):
					d.fail(v, key, "%q must not have a query or fragment", s)
				default:
					p.baseURL = strings.TrimRight(s, "/")
				}
			}
		case "time_zone":
			if s, ok := d.str(v, key); ok {
				loc, err := time.LoadLocation(s)
				if err != nil || s == "Local" {
					d.fail(v, key, "%q is not an IANA time zone name (e.g. America/Chicago)", s)
				} else {
					p.loc = loc
				}
			}
		case "inherit_defaults":
			inherit = d.boolean(v, key)
		case "fold_case":
			p.foldCase = d.boolean(v, key)
		case "utc_instants":
			p.utcInstants = d.boolean(v, key)
		case "code_systems":
			d.mapping(v, key, func(alias string, k, cv *yaml.Node) {
				f := key + "." + alias
				c, ok := d.str(cv, f)
				if !ok {
					return
				}
				if msg := checkURI(c); msg != "" {
					d.fail(cv, f, "%s", msg)
					return
				}
				ownSystems = append(ownSystems, [3]any{alias, c, cv})
			})
		case "identifiers":
			d.list(v, key, func(_ int, item *yaml.Node, f string) {
				r, ok := d.identifierRule(item, f)
				if ok {
					idRules = append(idRules, r)
					idNodes = append(idNodes, item)
				}
			})
		case "units":
			d.mapping(v, key, func(sub string, k, uv *yaml.Node) {
				f := key + "." + sub
				switch sub {
				case "aliases":
					d.mapping(uv, f, func(from string, k, tv *yaml.Node) {
						to, ok := d.str(tv, f+"."+from)
						if !ok {
							return
						}
						if !validUCUM(to) {
							d.fail(tv, f+"."+from, "%q is not a valid UCUM code", to)
							return
						}
						ownUnits = append(ownUnits, [3]any{from, to, tv})
					})
				case "infer_from_display":
					p.inferUnit = d.boolean(uv, f)
				case "convert":
					d.list(uv, f, func(_ int, item *yaml.Node, cf string) {
						if c, ok := d.conversion(item, cf); ok {
							p.conversions = append(p.conversions, c)
							convNodes = append(convNodes, item)
						}
					})
				default:
					d.fail(k, f, "unknown key (expected aliases, infer_from_display or convert)")
				}
			})
		case "extensions":
			d.mapping(v, key, func(sub string, k, lv *yaml.Node) {
				f := key + "." + sub
				switch sub {
				case "allow":
					p.extAllow = d.strList(lv, f, checkPrefix)
				case "deny":
					p.extDeny = d.strList(lv, f, checkPrefix)
				default:
					d.fail(k, f, "unknown key (expected allow or deny)")
				}
			})
		case "values":
			p.values = map[string]map[string]string{}
			d.mapping(v, key, func(elem string, k, mv *yaml.Node) {
				f := key + "." + elem
				e, msg := elementForValues(elem)
				if msg != "" {
					d.fail(k, f, "%s", msg)
					return
				}
				m := map[string]string{}
				d.mapping(mv, f, func(from string, k, tv *yaml.Node) {
					to, ok := d.str(tv, f+"."+from)
					if !ok {
						return
					}
					if b := e.BindingOf(); b != nil && !b.Contains("", to) {
						d.fail(tv, f+"."+from, "%q is not in the required value set %s", to, b.ValueSet)
						return
					}
					m[from] = to
				})
				p.values[elem] = m
				valueNodes[elem] = mv
			})
		default:
			d.fail(k, key, "unknown key")
		}
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if !sawClient {
		d.fail(n, "client_id", "is required")
	}
	if p.source == "" {
		p.source = p.baseURL
	}
	if p.source == "" && p.clientID != "" {
		p.source = "urn:fhirseal:source:" + p.clientID
	}

	// Code systems: the profile's aliases over the defaults.
	if inherit {
		p.systems = def.systems.clone()
	} else {
		p.systems = &systemTable{exact: map[string]string{}, folded: map[string]string{}, canonical: map[string]bool{}}
	}
	for _, s := range ownSystems {
		alias, c := s[0].(string), s[1].(string)
		delete(p.systems.canonical, alias)
		p.systems.add(alias, c)
		p.systems.canonical[c] = true
	}
	for _, s := range ownSystems {
		alias, c, node := s[0].(string), s[1].(string), s[2].(*yaml.Node)
		if p.systems.exact[c] != "" && p.systems.exact[c] != c {
			d.fail(node, "code_systems."+alias, "%q is itself mapped to %q; map straight to the final URI", c, p.systems.exact[c])
		}
	}

	// Units.
	p.units = map[string]string{}
	if inherit {
		for k, v := range def.units {
			p.units[k] = v
		}
	}
	for _, u := range ownUnits {
		p.units[u[0].(string)] = u[1].(string)
	}
	for _, u := range ownUnits {
		from, to, node := u[0].(string), u[1].(string), u[2].(*yaml.Node)
		if next, ok := p.units[to]; ok && next != to {
			d.fail(node, "units.aliases."+from, "%q is itself an alias of %q; map straight to the final code", to, next)
		}
	}
	p.ucumTargets = targets(p.units)
	for i := range p.conversions {
		c := &p.conversions[i]
		for j := range p.conversions {
			if p.conversions[j].From == c.To {
				d.fail(convNodes[i], fmt.Sprintf("units.convert[%d].to", i), "%q is converted again by units.convert[%d]; convert straight to the final unit", c.To, j)
			}
			if j < i && p.conversions[j].From == c.From && overlap(p.conversions[j].Elements, c.Elements) {
				d.fail(convNodes[i], fmt.Sprintf("units.convert[%d].from", i), "%q is already converted by units.convert[%d]", c.From, j)
			}
		}
	}

	// Identifiers.
	p.idAliases = map[string]string{}
	p.idTypes = map[string]string{}
	systems := map[string]int{}
	for i, r := range idRules {
		f := fmt.Sprintf("identifiers[%d]", i)
		if j, ok := systems[r.System]; ok {
			d.fail(idNodes[i], f+".system", "%q is also the system of identifiers[%d]", r.System, j)
			continue
		}
		systems[r.System] = i
		if r.Type != "" {
			p.idTypes[r.System] = r.Type
		}
	}
	for i, r := range idRules {
		f := fmt.Sprintf("identifiers[%d]", i)
		for _, a := range r.Aliases {
			if j, ok := systems[a]; ok {
				d.fail(idNodes[i], f+".aliases", "%q is the canonical system of identifiers[%d]", a, j)
				continue
			}
			if prev, ok := p.idAliases[a]; ok && prev != r.System {
				d.fail(idNodes[i], f+".aliases", "%q is already an alias of %q", a, prev)
				continue
			}
			p.idAliases[a] = r.System
		}
	}
	_ = valueNodes
	return p
}

func overlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func (d *decoder) identifierRule(n *yaml.Node, field string) (IdentifierRule, bool) {
	var r IdentifierRule
	ok := true
	d.mapping(n, field, func(key string, k, v *yaml.Node) {
		f := field + "." + key
		switch key {
		case "system":
			s, good := d.str(v, f)
			if good {
				if msg := checkURI(s); msg != "" {
					d.fail(v, f, "%s", msg)
					good = false
				}
			}
			ok = ok && good
			r.System = s
		case "aliases":
			r.Aliases = d.strList(v, f, checkLocalSystem)
		case "type":
			s, good := d.str(v, f)
			if good && identifierTypes[s] == "" {
				d.fail(v, f, "%q is not a code of %s", s, identifierTypeSystem)
				good = false
			}
			ok = ok && good
			r.Type = s
		default:
			d.fail(k, f, "unknown key (expected system, aliases or type)")
		}
	})
	if n.Kind == yaml.MappingNode && r.System == "" && ok {
		d.fail(n, field+".system", "is required")
		ok = false
	}
	return r, ok && n.Kind == yaml.MappingNode
}

func (d *decoder) conversion(n *yaml.Node, field string) (Conversion, bool) {
	var c Conversion
	ok := n.Kind == yaml.MappingNode
	unit := func(v *yaml.Node, f string) string {
		s, good := d.str(v, f)
		if good && !validUCUM(s) {
			d.fail(v, f, "%q is not a valid UCUM code", s)
			good = false
		}
		ok = ok && good
		return s
	}
	d.mapping(n, field, func(key string, k, v *yaml.Node) {
		f := field + "." + key
		switch key {
		case "from":
			c.From = unit(v, f)
		case "to":
			c.To = unit(v, f)
		case "factor":
			s, good := d.str(v, f)
			if good {
				dec, valid := parseDecimal(s)
				if !valid || strings.ContainsAny(s, "eE+") || dec.unscaled.Sign() <= 0 || len(s) > 40 {
					d.fail(v, f, "%q is not a positive decimal number (write it as text, e.g. \"0.45359237\")", s)
					good = false
				}
				c.factor = dec
			}
			ok = ok && good
			c.Factor = s
		case "display":
			c.Display, _ = d.str(v, f)
		case "elements":
			c.Elements = d.strList(v, f, func(s string) string {
				e := elementByPath(s)
				if e == nil {
					return fmt.Sprintf("%q is not an R4 element path", s)
				}
				for _, t := range e.Types {
					if quantityTypes[t] {
						return ""
					}
				}
				return fmt.Sprintf("%s is not a Quantity", s)
			})
		default:
			d.fail(k, f, "unknown key (expected from, to, factor, display or elements)")
		}
	})
	for _, req := range []struct{ name, v string }{{"from", c.From}, {"to", c.To}, {"factor", c.Factor}} {
		if n.Kind == yaml.MappingNode && req.v == "" {
			d.fail(n, field+"."+req.name, "is required")
			ok = false
		}
	}
	if ok && c.From == c.To {
		d.fail(n, field+".to", "converts %q to itself", c.From)
		ok = false
	}
	return c, ok
}

// elementByPath finds the element with the path as the R4 definitions
// write it ("Patient.gender", "Observation.value[x]", "Identifier.use").
func elementByPath(p string) *fhir.Element {
	parts := strings.Split(p, ".")
	t := fhir.Type(parts[0])
	if t == nil {
		return nil
	}
	e := t.RootElement()
	typ := t.Name
	for _, part := range parts[1:] {
		var next *fhir.Element
		for _, k := range fhir.Children(e, typ) {
			c := fhir.ElementAt(k)
			if c.Name == part || c.Choice && c.Name+"[x]" == part {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		e = next
		typ = ""
		if len(e.Types) > 0 {
			typ = e.Types[0]
		}
	}
	return e
}

// elementForValues checks a value-map key: an element path that is written
// as the definitions write it and holds a code or string.
func elementForValues(p string) (*fhir.Element, string) {
	e := elementByPath(p)
	if e == nil {
		return nil, fmt.Sprintf("%q is not an R4 element path", p)
	}
	if e.Path != p {
		return nil, fmt.Sprintf("write the element as the definitions do: %q", e.Path)
	}
	for _, t := range e.Types {
		switch t {
		case "code", "string", "uri", "id":
			return e, ""
		}
	}
	return nil, fmt.Sprintf("%s is not a code or string element", p)
}
