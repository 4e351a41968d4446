package search

// Criteria that carry an access decision into a query (store.Query
// Restrict). Unlike parsed query parameters they make sense for every
// resource type, so they can restrict matches, included resources and the
// inner levels of chains alike. Clients cannot write them: Parse never
// produces the parameter names used here.

// Types returns the criterion "the resource type is one of types"; with
// not set, "none of types". An empty list matches nothing (or, negated,
// everything).
func Types(not bool, types ...string) *Criterion {
	c := &Criterion{Param: "_type"}
	if not {
		c.Modifier = "not"
	}
	for _, t := range types {
		c.Values = append(c.Values, Value{Text: t})
	}
	return c
}

// InCompartments returns the criterion "in the compartment of code/id for
// one of ids" (Compartment with several ids); with not set, "in none of
// them". An id of "" stands for every resource of type code: the
// criterion then means "in some compartment of that kind".
func InCompartments(not bool, code string, ids ...string) *Criterion {
	c := &Criterion{Param: "_compartment"}
	if not {
		c.Modifier = "not"
	}
	for _, id := range ids {
		c.Values = append(c.Values, Value{Type: code, Text: id})
	}
	return c
}

// AllOf returns the conjunction of parts as one criterion on resources of
// typ ("" when the parts make sense for every type). It lets a restriction
// be placed inside a chain or _has, whose inner criterion must be a single
// one.
func AllOf(typ string, parts ...*Criterion) *Criterion {
	return &Criterion{Type: typ, Param: "_all", Values: []Value{{Parts: parts}}}
}

// AnyOf returns the disjunction of alternatives, each the conjunction of
// its criteria. An empty alternative always holds, and AnyOf then returns
// nil (no condition); no alternatives at all match nothing.
func AnyOf(alternatives ...[]*Criterion) *Criterion {
	if len(alternatives) == 0 {
		return Types(false)
	}
	c := &Criterion{Param: "_any"}
	for _, alt := range alternatives {
		if len(alt) == 0 {
			return nil
		}
		c.Values = append(c.Values, Value{Parts: alt})
	}
	return c
}
