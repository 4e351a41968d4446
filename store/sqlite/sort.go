package sqlite

import (
	"strconv"

	"github.com/fhirseal/fhirseal/fhir/search"
)

// sortSQL compiles _sort keys (R4 search.html#sort). Each key becomes a
// column s0, s1, ... of the page query: the resource's smallest value of
// the parameter for ascending order and its largest for descending (a date
// range sorts by its start ascending and by its end descending). Resources
// without a value sort last in either direction, and ties are broken by
// type and id so that pages are stable.
//
// It returns the extra select columns with their arguments, the ORDER BY of
// the inner query (on c and the column aliases) and that of the outer query
// (on m); without keys, matches keep the order they were written in.
func sortSQL(keys []search.SortKey) (cols string, args []any, inner, outer string) {
	if len(keys) == 0 {
		return "", nil, "c.ledger_index", "m.ledger_index"
	}
	for i, k := range keys {
		col := "s" + strconv.Itoa(i)
		expr, arg := sortExpr(k)
		cols += ", " + expr + " AS " + col
		if arg != "" {
			args = append(args, arg)
		}
		dir := " ASC"
		if k.Desc {
			dir = " DESC"
		}
		inner += "(" + col + " IS NULL), " + col + dir + ", "
		outer += "(m." + col + " IS NULL), m." + col + dir + ", "
	}
	return cols, args, inner + "c.rtype, c.id", outer + "m.rtype, m.id"
}

// sortExpr is the value of one key for the current row c, and the
// parameter code it binds ("" when none).
func sortExpr(k search.SortKey) (string, string) {
	agg := "min"
	if k.Desc {
		agg = "max"
	}
	switch k.Param {
	case "_id":
		return "c.id", ""
	case "_lastUpdated":
		return "(SELECT v2.last_updated FROM resource_version v2 WHERE v2.ledger_index = c.ledger_index)", ""
	}
	var column string
	switch k.Kind {
	case search.String, search.URI:
		column = "value"
	case search.Token:
		column = "code"
	case search.Reference:
		column = "target"
	case search.Date:
		column = "lo"
		if k.Desc {
			column = "hi"
		}
	case search.Number, search.Quantity:
		column = "num"
	default:
		return "NULL", ""
	}
	return "(SELECT " + agg + "(x." + column + ") FROM " + tableOf[k.Kind] + " x WHERE x.rtype = c.rtype AND x.id = c.id AND x.param = ?)", k.Param
}
