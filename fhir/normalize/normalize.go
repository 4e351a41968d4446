package normalize

import (
	"errors"
	"math"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// run is one normalisation of one resource.
type run struct {
	p       *Profile
	changes []Change
	buf     path // reused by the steps' walks
}

// root returns the path of res, reusing the run's buffer.
func (r *run) root(res *fhir.Node) path {
	if r.buf == nil {
		r.buf = root(res)
	}
	r.buf = r.buf[:1]
	r.buf[0] = seg{name: res.Type, index: -1}
	return r.buf
}

func (r *run) record(path, before, after, rule string) {
	r.changes = append(r.changes, Change{Path: path, Before: before, After: after, Rule: rule})
}

// steps are applied in this order. Extensions go first so that nothing is
// reported inside an extension that is then removed; merging codings needs
// the systems already mapped.
var steps = []struct {
	name string
	fn   func(*run, *fhir.Node)
}{
	{"extensions", (*run).extensions},
	{"values", (*run).values},
	{"code-systems", (*run).codeSystems},
	{"merge-codings", (*run).mergeCodings},
	{"units", (*run).units},
	{"identifiers", (*run).identifiers},
	{"references", (*run).references},
	{"dates", (*run).dates},
}

// ErrNotResource is returned for a tree that is not a resource.
var ErrNotResource = errors.New("normalize: not a resource")

// Normalize rewrites res in place into the canonical form and returns the
// changes made, in the order they were made. Resources inside res
// (contained resources, Bundle entries, Parameters) are normalised too.
//
// Normalising a canonical resource changes nothing and returns no changes.
// When res was valid, it still is afterwards. To keep the original, pass
// res.Clone().
func (p *Profile) Normalize(res *fhir.Node) ([]Change, error) {
	if res == nil || !res.IsResource() {
		return nil, ErrNotResource
	}
	r := &run{p: p}
	for _, s := range steps {
		s.fn(r, res)
	}
	return r.changes, nil
}

// Parse reads and validates a resource (fhir.Parse) and normalises it.
//
// Some of what sources send is invalid only until it is normalised: a
// dateTime without a UTC offset, "M" for a gender, "FINAL" for a status.
// When the input has errors and normalisation changed something, the result
// is validated again and the outcome lists what is still wrong: the new
// issues, plus the original ones that a fresh parse cannot see (such as
// unknown elements, which the parser leaves out of the tree). The tree is
// nil only when the input could not be read as a resource at all.
func (p *Profile) Parse(data []byte, lim fhir.Limits) (*fhir.Node, []Change, *fhir.Outcome) {
	var changes []Change
	n, out := p.parse(data, lim, func(n *fhir.Node) bool {
		changes, _ = p.Normalize(n)
		return len(changes) > 0
	})
	return n, changes, out
}

// Entry is what normalising the resource of one Bundle entry did.
type Entry struct {
	// Received is the resource as received, serialised by fhir.Marshal
	// (nil when nothing changed, or the entry has no resource).
	Received []byte
	// Changes are the edits made; their paths start at the resource's
	// type ("Observation.code..."), as if it had been sent alone.
	Changes []Change
}

// ParseBundle is Parse for a batch or transaction Bundle: the resource of
// each entry is normalised on its own, exactly as Parse would normalise it
// sent alone, and entries[i] says what was done to Bundle.entry[i]. The
// Bundle's own elements are left as they are.
func (p *Profile) ParseBundle(data []byte, lim fhir.Limits) (*fhir.Node, []Entry, *fhir.Outcome) {
	var entries []Entry
	n, out := p.parse(data, lim, func(b *fhir.Node) bool {
		if b.Type != "Bundle" {
			return false
		}
		changed := false
		entries = make([]Entry, len(b.Get("entry")))
		for i, e := range b.Get("entry") {
			f := e.Field("resource")
			if f == nil || len(f.Nodes) != 1 || !f.Nodes[0].IsResource() {
				continue
			}
			// The entry's resource is normalised in place; a copy keeps the
			// received form for the Provenance, kept only when it differs.
			orig := f.Nodes[0].Clone()
			cs, _ := p.Normalize(f.Nodes[0])
			if len(cs) > 0 {
				entries[i] = Entry{Received: fhir.Marshal(orig), Changes: cs}
				changed = true
			}
		}
		return changed
	})
	return n, entries, out
}

// parse reads data, applies normalize to the tree (which reports whether
// it changed anything) and, when the input had errors and something
// changed, validates the result again (see Parse).
func (p *Profile) parse(data []byte, lim fhir.Limits, normalize func(*fhir.Node) bool) (*fhir.Node, *fhir.Outcome) {
	n, out := fhir.Parse(data, lim)
	if n == nil {
		return nil, out
	}
	changed := normalize(n)
	if !out.HasErrors() || !changed {
		return n, out
	}
	n2, out2 := fhir.Parse(fhir.Marshal(n), lim)
	if n2 == nil {
		return n, out
	}
	if truncated(out) {
		// Some issues of the input were not listed; list them all so that
		// none that the fresh parse cannot see is lost.
		full := lim
		full.MaxIssues = math.MaxInt32
		_, out = fhir.Parse(data, full)
	}
	merged := &fhir.Outcome{}
	seen := map[fhir.Issue]bool{}
	for _, is := range out2.Issues {
		seen[is] = true
		merged.Issues = append(merged.Issues, is)
	}
	for _, is := range out.Issues {
		if is.Code == "value" || is.Code == "code-invalid" || is.Code == "required" || seen[is] {
			continue // a fresh parse judged these again
		}
		merged.Issues = append(merged.Issues, is)
	}
	return n2, merged
}

// Normalizer picks the profile of the client that sent a resource.
type Normalizer struct {
	profiles map[string]*Profile
}

// NewNormalizer returns a Normalizer for the given profiles, keyed by
// client_id as LoadProfiles returns them.
func NewNormalizer(profiles map[string]*Profile) *Normalizer {
	return &Normalizer{profiles: profiles}
}

// Lookup returns the profile of clientID, if there is one.
func (z *Normalizer) Lookup(clientID string) (*Profile, bool) {
	p, ok := z.profiles[clientID]
	return p, ok
}

// Profile returns the profile of clientID, or the default profile when the
// client has none.
func (z *Normalizer) Profile(clientID string) *Profile {
	if p, ok := z.profiles[clientID]; ok {
		return p
	}
	return Default()
}

// Normalize normalises res with the profile of clientID.
func (z *Normalizer) Normalize(res *fhir.Node, clientID string) ([]Change, error) {
	return z.Profile(clientID).Normalize(res)
}

// truncated reports whether fhir.Parse stopped listing issues.
func truncated(out *fhir.Outcome) bool {
	for _, is := range out.Issues {
		if is.Code == "too-costly" && is.Expression == "" && strings.HasPrefix(is.Diagnostics, "too many issues") {
			return true
		}
	}
	return false
}
