package fhirpath

import (
	"strconv"

	"github.com/fhirseal/fhirseal/fhir"
	"strings"
)

// maxNesting bounds the nesting of parentheses, function calls and unary
// operators in an expression, so that compiling cannot exhaust the stack.
const maxNesting = 200

// parser is a precedence-climbing parser over the token list.
type parser struct {
	src   string
	toks  []token
	pos   int
	depth int
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) isOp(v string) bool {
	t := p.peek()
	return t.kind == tOp && t.val == v
}

func (p *parser) expect(v string) error {
	t := p.next()
	if t.kind != tOp || t.val != v {
		return errAt(t.pos, "expected %q, found %s", v, describe(t))
	}
	return nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string " + strconv.Quote(t.val)
	case tIdent:
		return "identifier " + t.val
	}
	return strconv.Quote(t.val)
}

// binary operator precedence, lowest first.
var precedence = map[string]int{
	"implies": 1,
	"or":      2, "xor": 2,
	"and": 3,
	"in":  4, "contains": 4,
	"=": 5, "~": 5, "!=": 5, "!~": 5,
	"<": 6, ">": 6, "<=": 6, ">=": 6,
	"|":  7,
	"is": 8, "as": 8,
	"+": 9, "-": 9, "&": 9,
	"*": 10, "/": 10, "div": 10, "mod": 10,
}

// binaryOp returns the operator at the current token and its precedence.
func (p *parser) binaryOp() (string, int) {
	t := p.peek()
	switch t.kind {
	case tOp:
		if pr, ok := precedence[t.val]; ok {
			return t.val, pr
		}
	case tIdent:
		if !t.quoted {
			switch t.val {
			case "implies", "or", "xor", "and", "in", "contains", "is", "as", "div", "mod":
				return t.val, precedence[t.val]
			}
		}
	}
	return "", 0
}

func (p *parser) expr(minPrec int) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, errAt(p.peek().pos, "expression nested too deeply")
	}
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op, prec := p.binaryOp()
		if op == "" || prec < minPrec {
			return left, nil
		}
		opTok := p.next()
		if op == "is" || op == "as" {
			ts, err := p.typeSpecifier()
			if err != nil {
				return nil, err
			}
			left = &typeOp{op: op, x: left, t: ts}
			continue
		}
		right, err := p.expr(prec + 1)
		if err != nil {
			return nil, err
		}
		left, err = newBinary(op, left, right, opTok.pos)
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) unary() (node, error) {
	if p.isOp("-") || p.isOp("+") {
		op := p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxNesting {
			return nil, errAt(op.pos, "expression nested too deeply")
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if op.val == "+" {
			return &unaryOp{neg: false, x: x}, nil
		}
		// Fold negative numeric literals so that -2147483648 and -5.5 'mg'
		// are constants.
		if l, ok := x.(*literal); ok && len(l.val) == 1 {
			if v, ok := negate(l.val[0]); ok {
				return &literal{val: Collection{v}}, nil
			}
		}
		return &unaryOp{neg: true, x: x}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (node, error) {
	x, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("."):
			p.next()
			inv, err := p.invocation(x)
			if err != nil {
				return nil, err
			}
			x = inv
		case p.isOp("["):
			t := p.next()
			idx, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			x = &indexer{x: x, idx: idx, pos: t.pos}
		default:
			return x, nil
		}
	}
}

// calendarUnits are the time-valued units that may follow a number
// without quotes (1 year, 3 'days' is also a quantity).
var calendarUnits = map[string]bool{
	"year": true, "years": true, "month": true, "months": true, "week": true, "weeks": true,
	"day": true, "days": true, "hour": true, "hours": true, "minute": true, "minutes": true,
	"second": true, "seconds": true, "millisecond": true, "milliseconds": true,
}

func (p *parser) term() (node, error) {
	t := p.peek()
	switch t.kind {
	case tEOF:
		return nil, errAt(t.pos, "unexpected end of expression")
	case tNumber, tLong:
		p.next()
		if t.kind == tLong {
			i, err := strconv.ParseInt(t.val, 10, 64)
			if err != nil {
				return nil, errAt(t.pos, "integer %s out of range", t.val)
			}
			return &literal{val: Collection{Integer(i)}}, nil
		}
		u := p.peek()
		if u.kind == tString || (u.kind == tIdent && !u.quoted && calendarUnits[u.val]) {
			p.next()
			d, err := ParseDecimal(t.val)
			if err != nil {
				return nil, errAt(t.pos, "invalid number %s", t.val)
			}
			return &literal{val: Collection{Quantity{Value: d, Unit: u.val}}}, nil
		}
		if !strings.Contains(t.val, ".") {
			i, err := strconv.ParseInt(t.val, 10, 32)
			if err != nil {
				// Too large for Integer: it is a Decimal.
				d, derr := ParseDecimal(t.val)
				if derr != nil {
					return nil, errAt(t.pos, "invalid number %s", t.val)
				}
				return &literal{val: Collection{d}}, nil
			}
			return &literal{val: Collection{Integer(i)}}, nil
		}
		d, err := ParseDecimal(t.val)
		if err != nil {
			return nil, errAt(t.pos, "invalid number %s", t.val)
		}
		return &literal{val: Collection{d}}, nil
	case tString:
		p.next()
		return &literal{val: Collection{String(t.val)}}, nil
	case tDate:
		p.next()
		v, err := parseTemporalLiteral(t.val)
		if err != nil {
			return nil, errAt(t.pos, "%s", err.Error())
		}
		return &literal{val: Collection{v}}, nil
	case tExtConst:
		p.next()
		return &envVar{name: t.val}, nil
	case tOp:
		switch t.val {
		case "(":
			p.next()
			x, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			// Parentheses only group: the node is the inner expression.
			return x, nil
		case "{":
			p.next()
			if err := p.expect("}"); err != nil {
				return nil, err
			}
			return &literal{}, nil
		}
		return nil, errAt(t.pos, "unexpected %s", describe(t))
	case tIdent:
		if !t.quoted {
			switch t.val {
			case "true", "false":
				p.next()
				return &literal{val: Collection{Boolean(t.val == "true")}}, nil
			case "and", "or", "xor", "implies", "div", "mod":
				return nil, errAt(t.pos, "unexpected operator %s", t.val)
			}
		}
		return p.invocation(nil)
	}
	return nil, errAt(t.pos, "unexpected %s", describe(t))
}

// invocation parses an identifier, a function call or $this/$index/$total,
// applied to the result of recv (nil at the start of an expression).
func (p *parser) invocation(recv node) (node, error) {
	t := p.next()
	if t.kind != tIdent {
		return nil, errAt(t.pos, "expected a name, found %s", describe(t))
	}
	if !t.quoted && strings.HasPrefix(t.val, "$") {
		var n node
		switch t.val {
		case "$this":
			n = &thisNode{}
		case "$index":
			n = &indexVar{}
		case "$total":
			n = &totalVar{}
		default:
			return nil, errAt(t.pos, "unknown special variable %s", t.val)
		}
		if recv != nil {
			return nil, errAt(t.pos, "%s cannot follow '.'", t.val)
		}
		return n, nil
	}
	if !t.quoted && p.isOp("(") {
		p.next()
		p.depth++
		defer func() { p.depth-- }()
		var args []node
		if !p.isOp(")") {
			for {
				a, err := p.expr(0)
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if p.isOp(",") {
					p.next()
					continue
				}
				break
			}
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return newCall(t.val, t.pos, recv, args)
	}
	if recv == nil {
		return headMember(t.val), nil
	}
	if ts, ok := castType(recv); ok && !typeHasChild(ts, t.val) {
		return nil, errAt(t.pos, "%s is not an element of %s", t.val, ts)
	}
	return chainMember(recv, t.val), nil
}

// typeSpecifier parses a possibly qualified type name (FHIR.Patient,
// System.String, Quantity).
func (p *parser) typeSpecifier() (typeSpec, error) {
	t := p.next()
	if t.kind != tIdent {
		return typeSpec{}, errAt(t.pos, "expected a type name, found %s", describe(t))
	}
	name := t.val
	if p.isOp(".") && p.toks[p.pos+1].kind == tIdent {
		p.next()
		n := p.next()
		name += "." + n.val
	}
	ts, ok := resolveType(name)
	if !ok {
		return typeSpec{}, errAt(t.pos, "unknown type %s", name)
	}
	return ts, nil
}

// Compile parses a FHIRPath expression. The result can be evaluated any
// number of times, concurrently.
func Compile(expr string) (*Expr, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{src: expr, toks: toks}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, errAt(t.pos, "unexpected %s after the expression", describe(t))
	}
	return &Expr{src: expr, root: root}, nil
}

// MustCompile is Compile for expressions known to be valid; it panics on a
// syntax error.
func MustCompile(expr string) *Expr {
	e, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return e
}

// castType returns the FHIR type a node's result is known to have: the
// type of "x as T", x.as(T) and x.ofType(T).
func castType(n node) (string, bool) {
	switch x := n.(type) {
	case *typeOp:
		if x.op == "as" && x.t.fhir && !x.t.system {
			return x.t.name, true
		}
	case *call:
		if (x.name == "as" || x.name == "ofType") && x.t.fhir && !x.t.system {
			return x.t.name, true
		}
	}
	return "", false
}

// typeHasChild reports whether name is an element of the FHIR type.
func typeHasChild(typ, name string) bool {
	td := fhir.Type(typ)
	if td == nil {
		return true
	}
	for _, k := range td.RootElement().Kids {
		if fhir.ElementAt(k).Name == name {
			return true
		}
	}
	return false
}
