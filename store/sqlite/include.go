package sqlite

import (
	"sort"
	"strings"

	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/store"
)

// maxIterate bounds the rounds of :iterate includes; each round is one
// query per directive and source type.
const maxIterate = 8

type resKey struct{ typ, id string }

// include adds to page the resources that q.Includes reach from its
// matches (R4 search.html#include). Each directive is one query per
// resource type of its sources, whatever the number of sources; :iterate
// directives run again on what the previous round added, until nothing is
// new. Included resources pass q.Restrict and q.AsOf like matches do. At
// most MaxIncluded are kept; the query asks for one more than it can keep,
// so the cap is reported exactly when something was left out.
func include(db queryer, q *store.Query, page *store.Page) error {
	max := q.MaxIncluded
	if max <= 0 {
		max = store.DefaultMaxIncluded
	}
	seen := map[resKey]bool{}
	var frontier []resKey
	for _, m := range page.Matches {
		k := resKey{m.Type, m.ID}
		seen[k] = true
		frontier = append(frontier, k)
	}
	var found []resKey
	vids := map[resKey]int64{}
	for round := 0; round < maxIterate && len(frontier) > 0; round++ {
		var next []resKey
		for _, inc := range q.Includes {
			if round > 0 && !inc.Iterate {
				continue
			}
			for typ, ids := range groupByType(frontier) {
				// Ask for enough rows to fill the cap even if some are
				// already known, plus one to tell whether it overflows.
				limit := max - len(found) + len(seen) + 1
				keys, err := includeKeys(db, q, inc, typ, ids, limit)
				if err != nil {
					return err
				}
				for _, k := range keys {
					rk := resKey{k.typ, k.id}
					if seen[rk] {
						continue
					}
					if len(found) == max {
						page.IncludedCapped = true
						break
					}
					seen[rk] = true
					vids[rk] = k.vid
					found = append(found, rk)
					next = append(next, rk)
				}
			}
		}
		frontier = next
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].typ != found[j].typ {
			return found[i].typ < found[j].typ
		}
		return found[i].id < found[j].id
	})
	var err error
	page.Included, err = readVersions(db, found, vids)
	return err
}

func groupByType(keys []resKey) map[string][]string {
	m := map[string][]string{}
	for _, k := range keys {
		m[k.typ] = append(m[k.typ], k.id)
	}
	return m
}

type includedKey struct {
	typ, id string
	vid     int64
}

// includeKeys runs one directive from the resources typ/ids and returns
// the distinct current resources it reaches, in a stable order.
func includeKeys(db queryer, q *store.Query, inc search.Include, typ string, ids []string, limit int) ([]includedKey, error) {
	var conds []string
	var args []any
	var from string
	if inc.Rev {
		// Resources (of inc.Source) whose reference points at one of ids.
		if inc.Target != "" && inc.Target != typ {
			return nil, nil
		}
		from = "idx_reference x JOIN resource_current c ON c.rtype = x.rtype AND c.id = x.id"
		conds = append(conds, "x.target IN ("+placeholders(len(ids))+")")
		for _, id := range ids {
			args = append(args, typ+"/"+id)
		}
	} else {
		// Resources that the references of ids point at.
		if inc.Source != "" && inc.Source != typ {
			return nil, nil
		}
		from = "idx_reference x JOIN resource_current c ON c.rtype = substr(x.target, 1, instr(x.target, '/') - 1) AND c.id = x.target_id"
		conds = append(conds, "x.rtype = ?", "x.id IN ("+placeholders(len(ids))+")")
		args = append(args, typ)
		for _, id := range ids {
			args = append(args, id)
		}
		if inc.Target != "" {
			conds = append(conds, "c.rtype = ?")
			args = append(args, inc.Target)
		}
	}
	if inc.Rev && inc.Source != "" {
		conds = append(conds, "x.rtype = ?")
		args = append(args, inc.Source)
	}
	if inc.Param != "*" {
		conds = append(conds, "x.param = ?")
		args = append(args, inc.Param)
	}
	conds = append(conds, "c.deleted = 0")
	if q.AsOf > 0 {
		conds = append(conds, "c.ledger_index < ?")
		args = append(args, q.AsOf)
	}
	for _, r := range q.Restrict {
		cond, rargs, err := criterionSQL(r)
		if err != nil {
			return nil, err
		}
		conds = append(conds, cond)
		args = append(args, rargs...)
	}
	rows, err := db.Query("SELECT DISTINCT c.rtype, c.id, c.vid FROM "+from+" WHERE "+strings.Join(conds, " AND ")+
		" ORDER BY c.rtype, c.id LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []includedKey
	for rows.Next() {
		var k includedKey
		if err := rows.Scan(&k.typ, &k.id, &k.vid); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// readVersions reads the given versions, one query per type, in the order
// of keys.
func readVersions(db queryer, keys []resKey, vids map[resKey]int64) ([]store.Version, error) {
	byKey := map[resKey]store.Version{}
	groups := groupByType(keys)
	types := make([]string, 0, len(groups))
	for t := range groups {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, typ := range types {
		ids := groups[typ]
		var alts []string
		args := []any{typ}
		for _, id := range ids {
			alts = append(alts, "(v.id = ? AND v.vid = ?)")
			args = append(args, id, vids[resKey{typ, id}])
		}
		rows, err := db.Query(`SELECT v.rtype, v.id, v.vid, v.last_updated, v.op, v.body, v.ledger_index FROM resource_version v
			WHERE v.rtype = ? AND (`+strings.Join(alts, " OR ")+`)`, args...)
		if err != nil {
			return nil, err
		}
		vs, err := scanVersions(rows)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			byKey[resKey{v.Type, v.ID}] = v
		}
	}
	out := make([]store.Version, 0, len(keys))
	for _, k := range keys {
		if v, ok := byKey[k]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}
