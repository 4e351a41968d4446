package sqlite

import (
	"fmt"
	"math"
	"strings"

	"github.com/fhirseal/fhirseal/fhir/search"
)

// tableOf is the index table of each parameter kind.
var tableOf = map[search.Kind]string{
	search.Token: "idx_token", search.String: "idx_string", search.Reference: "idx_reference",
	search.URI: "idx_uri", search.Date: "idx_date", search.Number: "idx_number", search.Quantity: "idx_quantity",
}

// criterionSQL compiles one criterion into a condition on the current
// version row c, following R4 search.html for each type, prefix and
// modifier. Every form uses an index lookup on (rtype, param, value).
//
// Chains, _has and compartments become subqueries over the reference index
// (chain.go): one SQL statement however deep, never a loop in Go.
func criterionSQL(c *search.Criterion) (string, []any, error) {
	switch {
	case c.Param == "_compartment":
		cond, args, err := compartmentSQL(c)
		if err == nil && c.Modifier == "not" {
			cond = "NOT " + cond
		}
		return cond, args, err
	case c.Param == "_type":
		// search.Types: an access restriction on the resource type.
		if len(c.Values) == 0 {
			if c.Modifier == "not" {
				return "1", nil, nil
			}
			return "0", nil, nil
		}
		var args []any
		for _, v := range c.Values {
			args = append(args, v.Text)
		}
		cond := "c.rtype IN (" + placeholders(len(args)) + ")"
		if c.Modifier == "not" {
			cond = "c.rtype NOT IN (" + placeholders(len(args)) + ")"
		}
		return cond, args, nil
	case len(c.Values) > 0 && len(c.Values[0].Parts) > 0:
		// A composite: each value is the AND of its components.
		var alts []string
		var args []any
		for _, v := range c.Values {
			var ands []string
			for _, part := range v.Parts {
				cond, pargs, err := criterionSQL(part)
				if err != nil {
					return "", nil, err
				}
				ands = append(ands, cond)
				args = append(args, pargs...)
			}
			alts = append(alts, "("+strings.Join(ands, " AND ")+")")
		}
		return "(" + strings.Join(alts, " OR ") + ")", args, nil
	case len(c.Chain) > 0:
		ids, args, err := idSetSQL(c)
		if err != nil {
			return "", nil, err
		}
		// A row-value IN on the primary key lets SQLite start from the
		// (selective) subquery rather than scan the type.
		return "(c.rtype, c.id) IN (SELECT ?, t.id FROM (" + ids + ") t)", append([]any{c.Type}, args...), nil
	}
	if c.Param == "_id" {
		var alts []string
		var args []any
		for _, v := range c.Values {
			alts = append(alts, "?")
			args = append(args, v.Text)
		}
		cond := "c.id IN (" + strings.Join(alts, ",") + ")"
		if c.Modifier == "not" {
			cond = "NOT " + cond
		}
		return cond, args, nil
	}
	table := tableOf[c.Kind]
	if table == "" {
		return "", nil, fmt.Errorf("sqlite: no index for parameter %s", c.Param)
	}
	exists := "EXISTS (SELECT 1 FROM " + table + " x WHERE x.rtype = c.rtype AND x.id = c.id AND x.param = ?"
	if c.Modifier == "missing" {
		// Values are ORed: missing=true,false matches everything.
		var alts []string
		for _, v := range c.Values {
			if v.Missing {
				alts = append(alts, "NOT "+exists+")")
			} else {
				alts = append(alts, exists+")")
			}
		}
		args := make([]any, len(alts))
		for i := range args {
			args[i] = c.Param
		}
		return "(" + strings.Join(alts, " OR ") + ")", args, nil
	}
	alts, args := valuesSQL(c)
	cond := exists + " AND " + alts + ")"
	args = append([]any{c.Param}, args...)
	if c.Modifier == "not" {
		cond = "NOT " + cond
	}
	return cond, args, nil
}

// likeEscape escapes LIKE wildcards; conditions use ESCAPE '\'.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

func valueSQL(c *search.Criterion, v search.Value) (string, []any) {
	switch c.Kind {
	case search.Token:
		switch {
		case c.Modifier == "text":
			return `x.text LIKE ? ESCAPE '\'`, []any{likeEscape(v.Text) + "%"}
		case v.AnySystem:
			return "x.code = ?", []any{v.Code}
		case v.NoSystem:
			return "x.code = ? AND x.system = ''", []any{v.Code}
		case v.Code == "":
			return "x.system = ?", []any{v.System}
		}
		return "x.code = ? AND x.system = ?", []any{v.Code, v.System}
	case search.String:
		switch c.Modifier {
		case "exact":
			// The index holds normalised text; an exact match must also
			// equal the normalised form, and is then confirmed by value.
			return "x.value = ?", []any{search.Normalize(v.Text)}
		case "contains":
			return `x.value LIKE ? ESCAPE '\'`, []any{"%" + likeEscape(v.Text) + "%"}
		}
		return "x.value >= ? AND x.value < ?", []any{v.Text, v.Text + "\U0010FFFF"}
	case search.URI:
		switch c.Modifier {
		case "below":
			return `x.value LIKE ? ESCAPE '\'`, []any{likeEscape(v.Text) + "%"}
		case "above":
			return `? LIKE (replace(replace(replace(x.value, '\', '\\'), '%', '\%'), '_', '\_') || '%') ESCAPE '\'`, []any{v.Text}
		}
		return "x.value = ?", []any{v.Text}
	case search.Reference:
		typ := v.Type
		if typ == "" && c.Modifier != "" {
			typ = c.Modifier
		}
		switch {
		case typ != "":
			return "x.target = ?", []any{typ + "/" + v.Text}
		case strings.Contains(v.Text, "/") || strings.Contains(v.Text, ":"):
			return "x.target = ?", []any{v.Text}
		}
		return "x.target_id = ?", []any{v.Text}
	case search.Date:
		return rangeSQL(v.Prefix, "x.lo", "x.hi", float64(v.Low), float64(v.High), true)
	case search.Number:
		return numberSQL(v)
	case search.Quantity:
		cond, args := numberSQL(v)
		if v.Code != "" {
			cond += " AND x.code = ?"
			args = append(args, v.Code)
		}
		if v.System != "" {
			cond += " AND x.system = ?"
			args = append(args, v.System)
		}
		return cond, args
	}
	return "0", nil
}

// rangeSQL compares a stored range [lo, hi) with the search range [slo,
// shi) (R4 search.html#prefix).
func rangeSQL(prefix, lo, hi string, slo, shi float64, integer bool) (string, []any) {
	arg := func(f float64) any {
		if integer {
			return int64(f)
		}
		return f
	}
	contained := lo + " >= ? AND " + hi + " <= ?"
	switch prefix {
	case "ne":
		return "NOT (" + contained + ")", []any{arg(slo), arg(shi)}
	case "gt":
		return hi + " > ?", []any{arg(shi)}
	case "lt":
		return lo + " < ?", []any{arg(slo)}
	case "ge":
		return hi + " > ? OR (" + contained + ")", []any{arg(shi), arg(slo), arg(shi)}
	case "le":
		return lo + " < ? OR (" + contained + ")", []any{arg(slo), arg(slo), arg(shi)}
	case "sa":
		return lo + " >= ?", []any{arg(shi)}
	case "eb":
		return hi + " <= ?", []any{arg(slo)}
	case "ap":
		// Approximately: the ranges overlap once the search range is
		// widened by 10% of its distance from now, at least a day.
		w := math.Max((shi-slo)*0.1, 86_400_000)
		return lo + " < ? AND " + hi + " > ?", []any{arg(shi + w), arg(slo - w)}
	}
	return contained, []any{arg(slo), arg(shi)}
}

// numberSQL compares the stored value with a number or quantity search
// value: eq and ne use the search value's implicit range (R4
// search.html#number), the others its exact value.
func numberSQL(v search.Value) (string, []any) {
	switch v.Prefix {
	case "ne":
		return "NOT (x.num >= ? AND x.num < ?)", []any{v.LowNum, v.HighNum}
	case "gt", "sa":
		return "x.num > ?", []any{v.Num}
	case "lt", "eb":
		return "x.num < ?", []any{v.Num}
	case "ge":
		return "x.num >= ?", []any{v.Num}
	case "le":
		return "x.num <= ?", []any{v.Num}
	case "ap":
		d := math.Abs(v.Num) * 0.1
		return "x.num >= ? AND x.num <= ?", []any{v.Num - d, v.Num + d}
	}
	return "x.num >= ? AND x.num < ?", []any{v.LowNum, v.HighNum}
}

// valuesSQL is the OR of c's values as one parenthesised condition on the
// index row x.
func valuesSQL(c *search.Criterion) (string, []any) {
	var alts []string
	var args []any
	for _, v := range c.Values {
		cond, vargs := valueSQL(c, v)
		alts = append(alts, "("+cond+")")
		args = append(args, vargs...)
	}
	return "(" + strings.Join(alts, " OR ") + ")", args
}
