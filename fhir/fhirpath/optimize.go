package fhirpath

// optimize rewrites a parsed expression into a faster equivalent. It is
// the identity for now beyond removing parentheses.
func optimize(n node) node {
	if p, ok := n.(*paren); ok {
		return optimize(p.x)
	}
	return n
}
