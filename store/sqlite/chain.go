package sqlite

import (
	"fmt"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
)

// idSetSQL compiles a criterion into a SELECT of the ids (column id) of
// the current resources of type c.Type that match it. Chains and _has nest
// these selects over the reference index, so a search of any depth is one
// statement that SQLite evaluates from the innermost, most selective
// condition outwards (R4 search.html#chaining, #has).
//
// Index rows exist only for current, undeleted versions (a delete or an
// erasure removes them), so positive criteria read the index alone.
func idSetSQL(c *search.Criterion) (string, []any, error) {
	if c.Type == "" || c.Type == "Resource" {
		return "", nil, fmt.Errorf("sqlite: %s needs a resource type", c.Param)
	}
	switch {
	case c.Param == "_has":
		// Resources of c.Type that the matching resources refer to.
		inner := c.Chain[0]
		ids, args, err := idSetSQL(inner)
		if err != nil {
			return "", nil, err
		}
		q := "SELECT x.target_id AS id FROM idx_reference x WHERE x.rtype = ? AND x.param = ? AND x.target = ? || x.target_id AND x.id IN (" + ids + ")"
		return q, append([]any{inner.Type, c.HasParam, c.Type + "/"}, args...), nil
	case len(c.Chain) > 0:
		// Resources of c.Type whose reference parameter points at a
		// matching resource of one of the target types.
		var targets []string
		var args []any
		for _, inner := range c.Chain {
			ids, iargs, err := idSetSQL(inner)
			if err != nil {
				return "", nil, err
			}
			targets = append(targets, "SELECT ? || t.id FROM ("+ids+") t")
			args = append(append(args, inner.Type+"/"), iargs...)
		}
		q := "SELECT x.id AS id FROM idx_reference x WHERE x.rtype = ? AND x.param = ? AND x.target IN (" + strings.Join(targets, " UNION ALL ") + ")"
		return q, append([]any{c.Type, c.Param}, args...), nil
	case positive(c):
		alts, args := valuesSQL(c)
		q := "SELECT x.id AS id FROM " + tableOf[c.Kind] + " x WHERE x.rtype = ? AND x.param = ? AND " + alts
		return q, append([]any{c.Type, c.Param}, args...), nil
	}
	// Negations, :missing and _id: a condition on the current rows.
	cond, args, err := criterionSQL(c)
	if err != nil {
		return "", nil, err
	}
	return "SELECT c.id AS id FROM resource_current c WHERE c.rtype = ? AND c.deleted = 0 AND " + cond, append([]any{c.Type}, args...), nil
}

// positive reports whether c matches by index rows alone.
func positive(c *search.Criterion) bool {
	if c.Param == "_id" || c.Param == "_compartment" || tableOf[c.Kind] == "" || (len(c.Values) > 0 && len(c.Values[0].Parts) > 0) {
		return false
	}
	return c.Modifier != "not" && c.Modifier != "missing"
}

// compartmentSQL compiles search.Compartment into a condition on c: the
// compartment's own resource, or a resource whose reference index points
// at it through one of the parameters the compartment definition lists for
// the resource's type.
func compartmentSQL(c *search.Criterion) (string, []any, error) {
	var alts []string
	var args []any
	for _, v := range c.Values {
		var pairs []any
		for _, comp := range fhir.Compartments() {
			if comp.Code != v.Type {
				continue
			}
			for _, r := range comp.Resources {
				for _, p := range r.Params {
					pairs = append(pairs, r.Type+":"+p)
				}
			}
		}
		if len(pairs) == 0 {
			return "", nil, fmt.Errorf("sqlite: no compartment %q", v.Type)
		}
		if v.Text == "" {
			// Some compartment of this kind (search.InCompartments).
			alts = append(alts, "c.rtype = ?",
				"EXISTS (SELECT 1 FROM idx_reference x WHERE x.rtype = c.rtype AND x.id = c.id AND substr(x.target, 1, ?) = ? AND x.rtype || ':' || x.param IN ("+placeholders(len(pairs))+"))")
			args = append(args, v.Type, len(v.Type)+1, v.Type+"/")
			args = append(args, pairs...)
			continue
		}
		alts = append(alts, "(c.rtype = ? AND c.id = ?)",
			"EXISTS (SELECT 1 FROM idx_reference x WHERE x.target = ? AND x.rtype = c.rtype AND x.id = c.id AND x.rtype || ':' || x.param IN ("+placeholders(len(pairs))+"))")
		args = append(args, v.Type, v.Text, v.Type+"/"+v.Text)
		args = append(args, pairs...)
	}
	return "(" + strings.Join(alts, " OR ") + ")", args, nil
}
