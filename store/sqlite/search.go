package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/store"
)

// Search implements store.Store. The count, the page and the included
// resources are read in one read transaction, so they agree with each
// other.
func (s *Store) Search(ctx context.Context, q *store.Query) (*store.Page, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return runSearch(tx, q)
}

// where compiles the conditions every match satisfies: current, of the
// types asked, within AsOf, and every criterion and restriction.
func where(q *store.Query) ([]string, []any, error) {
	conds := []string{"c.deleted = 0"}
	var args []any
	if len(q.Types) > 0 {
		// With a chain or _has the type is not the way in: the unary
		// plus keeps SQLite from scanning every resource of the type in
		// write order and leaves it the key lookups of the subquery.
		col := "c.rtype"
		for _, c := range q.Criteria {
			if len(c.Chain) > 0 {
				col = "+c.rtype"
			}
		}
		conds = append(conds, col+" IN ("+placeholders(len(q.Types))+")")
		for _, t := range q.Types {
			args = append(args, t)
		}
	}
	if q.AsOf > 0 {
		conds = append(conds, "c.ledger_index < ?")
		args = append(args, q.AsOf)
	}
	for _, list := range [][]*search.Criterion{q.Restrict, q.Criteria} {
		for _, c := range list {
			cond, cargs, err := criterionSQL(c)
			if err != nil {
				return nil, nil, err
			}
			conds = append(conds, cond)
			args = append(args, cargs...)
		}
	}
	return conds, args, nil
}

// runSearch compiles a query into SQL over the current versions.
func runSearch(db queryer, q *store.Query) (*store.Page, error) {
	conds, args, err := where(q)
	if err != nil {
		return nil, err
	}
	base := " FROM resource_current c WHERE " + strings.Join(conds, " AND ")
	page := &store.Page{Total: -1}
	if q.Total {
		if err := db.QueryRow("SELECT count(*)"+base, args...).Scan(&page.Total); err != nil {
			return nil, err
		}
	}
	if q.Count == 0 && q.Total {
		return page, nil
	}
	limit := q.Count
	if limit <= 0 {
		limit = 20
	}
	cols, sortArgs, inner, outer := sortSQL(q.Sort)
	sqlText := `SELECT v.rtype, v.id, v.vid, v.last_updated, v.op, v.body, v.ledger_index FROM resource_version v JOIN (SELECT c.rtype, c.id, c.vid, c.ledger_index` +
		cols + base + ` ORDER BY ` + inner + ` LIMIT ? OFFSET ?) m ON v.ledger_index = m.ledger_index ORDER BY ` + outer
	all := append(append(sortArgs, args...), limit+1, q.Offset)
	rows, err := db.Query(sqlText, all...)
	if err != nil {
		return nil, err
	}
	page.Matches, err = scanVersions(rows)
	if err != nil {
		return nil, err
	}
	if len(page.Matches) > limit {
		page.Matches = page.Matches[:limit]
		page.More = true
	}
	if len(q.Includes) > 0 && len(page.Matches) > 0 {
		if err := include(db, q, page); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// scanVersions reads rows of (rtype, id, vid, last_updated, op, body,
// ledger_index) and closes them.
func scanVersions(rows *sql.Rows) ([]store.Version, error) {
	defer rows.Close()
	var out []store.Version
	for rows.Next() {
		var v store.Version
		var op string
		if err := rows.Scan(&v.Type, &v.ID, &v.VersionID, &v.LastUpdated, &op, &v.Body, &v.LedgerIndex); err != nil {
			return nil, err
		}
		v.Op = store.Op(op)
		out = append(out, v)
	}
	return out, rows.Err()
}
