package fhirpath

import (
	"sort"
	"strings"
	"sync"

	"github.com/fhirseal/fhirseal/fhir"
)

// fnImpl implements a function. in is the input collection; args are the
// unevaluated arguments (evaluated by the function, once or per item).
type fnImpl func(e *env, in Collection, args []node) (Collection, error)

type funcDef struct {
	min, max int
	impl     fnImpl
	typeArg  bool // the argument is a type specifier (is, as, ofType)
}

// funcs is the function table. It is filled on first use: the functions
// evaluate nodes, and nodes refer to the table.
var funcs = sync.OnceValue(func() map[string]funcDef {
	return map[string]funcDef{
		// Existence
		"empty":      {0, 0, fnEmpty, false},
		"exists":     {0, 1, fnExists, false},
		"all":        {1, 1, fnAll, false},
		"allTrue":    {0, 0, boolAgg(true, true), false},
		"anyTrue":    {0, 0, boolAgg(false, true), false},
		"allFalse":   {0, 0, boolAgg(true, false), false},
		"anyFalse":   {0, 0, boolAgg(false, false), false},
		"subsetOf":   {1, 1, fnSubsetOf, false},
		"supersetOf": {1, 1, fnSupersetOf, false},
		"count":      {0, 0, fnCount, false},
		"distinct":   {0, 0, fnDistinct, false},
		"isDistinct": {0, 0, fnIsDistinct, false},
		// Filtering and projection
		"where":  {1, 1, fnWhere, false},
		"select": {1, 1, fnSelect, false},
		"repeat": {1, 1, fnRepeat, false},
		"ofType": {1, 1, nil, true},
		// Subsetting
		"single":    {0, 0, fnSingle, false},
		"first":     {0, 0, fnFirst, false},
		"last":      {0, 0, fnLast, false},
		"tail":      {0, 0, fnTail, false},
		"skip":      {1, 1, fnSkip, false},
		"take":      {1, 1, fnTake, false},
		"intersect": {1, 1, fnIntersect, false},
		"exclude":   {1, 1, fnExclude, false},
		// Combining
		"union":   {1, 1, fnUnion, false},
		"combine": {1, 1, fnCombine, false},
		// Conversion
		"iif":                {2, 3, fnIif, false},
		"toBoolean":          {0, 0, conv(toBoolean, false), false},
		"convertsToBoolean":  {0, 0, conv(toBoolean, true), false},
		"toInteger":          {0, 0, conv(toInteger, false), false},
		"convertsToInteger":  {0, 0, conv(toInteger, true), false},
		"toDecimal":          {0, 0, conv(toDecimalV, false), false},
		"convertsToDecimal":  {0, 0, conv(toDecimalV, true), false},
		"toString":           {0, 0, conv(toStringV, false), false},
		"convertsToString":   {0, 0, conv(toStringV, true), false},
		"toDate":             {0, 0, conv(toDateV, false), false},
		"convertsToDate":     {0, 0, conv(toDateV, true), false},
		"toDateTime":         {0, 0, conv(toDateTimeV, false), false},
		"convertsToDateTime": {0, 0, conv(toDateTimeV, true), false},
		"toTime":             {0, 0, conv(toTimeV, false), false},
		"convertsToTime":     {0, 0, conv(toTimeV, true), false},
		"toQuantity":         {0, 1, fnToQuantity(false), false},
		"convertsToQuantity": {0, 1, fnToQuantity(true), false},
		// Strings
		"indexOf":        {1, 1, fnIndexOf, false},
		"lastIndexOf":    {1, 1, fnLastIndexOf, false},
		"substring":      {1, 2, fnSubstring, false},
		"startsWith":     {1, 1, strPred(strings.HasPrefix), false},
		"endsWith":       {1, 1, strPred(strings.HasSuffix), false},
		"contains":       {1, 1, strPred(strings.Contains), false},
		"upper":          {0, 0, strMap(strings.ToUpper), false},
		"lower":          {0, 0, strMap(strings.ToLower), false},
		"trim":           {0, 0, strMap(strings.TrimSpace), false},
		"replace":        {2, 2, fnReplace, false},
		"matches":        {1, 1, fnMatches(false), false},
		"matchesFull":    {1, 1, fnMatches(true), false},
		"replaceMatches": {2, 2, fnReplaceMatches, false},
		"length":         {0, 0, fnLength, false},
		"toChars":        {0, 0, fnToChars, false},
		"split":          {1, 1, fnSplit, false},
		"join":           {0, 1, fnJoin, false},
		"encode":         {1, 1, fnEncode, false},
		"decode":         {1, 1, fnDecode, false},
		"escape":         {1, 1, fnEscape, false},
		"unescape":       {1, 1, fnUnescape, false},
		// Math
		"abs":      {0, 0, fnAbs, false},
		"ceiling":  {0, 0, fnCeiling, false},
		"floor":    {0, 0, fnFloor, false},
		"truncate": {0, 0, fnTruncate, false},
		"round":    {0, 1, fnRound, false},
		"exp":      {0, 0, floatFn("exp"), false},
		"ln":       {0, 0, floatFn("ln"), false},
		"sqrt":     {0, 0, floatFn("sqrt"), false},
		"log":      {1, 1, fnLog, false},
		"power":    {1, 1, fnPower, false},
		// Tree navigation
		"children":    {0, 0, fnChildren, false},
		"descendants": {0, 0, fnDescendants, false},
		// Utility
		"trace":     {1, 2, fnTrace, false},
		"now":       {0, 0, fnNow, false},
		"today":     {0, 0, fnToday, false},
		"timeOfDay": {0, 0, fnTimeOfDay, false},
		"aggregate": {1, 2, fnAggregate, false},
		"sort":      {0, 16, fnSort, false},
		"not":       {0, 0, fnNot, false},
		"type":      {0, 0, fnType, false},
		// Types
		"is": {1, 1, nil, true},
		"as": {1, 1, nil, true},
		// Precision and boundaries
		"precision":    {0, 0, fnPrecision, false},
		"lowBoundary":  {0, 1, fnBoundary(false), false},
		"highBoundary": {0, 1, fnBoundary(true), false},
		"comparable":   {1, 1, fnComparable, false},
		// FHIR additions
		"extension":         {1, 1, fnExtension, false},
		"hasValue":          {0, 0, fnHasValue, false},
		"hasExtension":      {1, 1, fnHasExtension, false},
		"getValue":          {0, 0, fnGetValue, false},
		"resolve":           {0, 0, fnResolve, false},
		"memberOf":          {1, 1, fnMemberOf, false},
		"conformsTo":        {1, 1, fnConformsTo, false},
		"htmlChecks":        {0, 0, fnHTMLChecks, false},
		"htmlChecks2":       {0, 0, fnHTMLChecks, false},
		"elementDefinition": {0, 0, fnNothing, false},
		"slice":             {2, 2, fnNothing, false},
		"checkModifiers":    {1, 1, fnIdentity, false},
		"hasTemplateIdOf":   {1, 1, fnNothing, false},
		"subsumes":          {1, 1, fnNothing, false},
		"subsumedBy":        {1, 1, fnNothing, false},
	}
})

// call is a function invocation recv.name(args), or name(args) applied to
// the focus when recv is nil.
type call struct {
	name string
	recv node
	args []node
	def  funcDef
	t    typeSpec // for is, as and ofType
	// unordered is set for an order-dependent function applied to the
	// result of children() or descendants(), whose order is not defined;
	// strict evaluation rejects it.
	unordered bool
}

func newCall(name string, pos int, recv node, args []node) (node, error) {
	def, ok := funcs()[name]
	if !ok {
		return nil, errAt(pos, "unknown function %s()", name)
	}
	if len(args) < def.min || len(args) > def.max {
		if def.min == def.max {
			return nil, errAt(pos, "%s() takes %d argument(s), not %d", name, def.min, len(args))
		}
		return nil, errAt(pos, "%s() takes %d to %d arguments, not %d", name, def.min, def.max, len(args))
	}
	c := &call{name: name, recv: recv, args: args, def: def}
	switch name {
	case "first", "last", "tail", "skip", "take", "single":
		if r, ok := recv.(*call); ok && (r.name == "children" || r.name == "descendants") {
			c.unordered = true
		}
	}
	if def.typeArg {
		tn, ok := typeName(args[0])
		if !ok {
			return nil, errAt(pos, "%s() needs a type name", name)
		}
		ts, ok := resolveType(tn)
		if !ok {
			return nil, errAt(pos, "unknown type %s", tn)
		}
		c.t = ts
	}
	return c, nil
}

// typeName reads a type specifier written as an expression (ofType(FHIR.Patient)).
func typeName(n node) (string, bool) {
	p, ok := n.(*pathNode)
	if !ok || p.recv != nil {
		return "", false
	}
	parts := p.names
	if p.typeHead != "" {
		parts = append([]string{p.typeHead}, parts...)
	}
	if len(parts) == 0 || len(parts) > 2 {
		return "", false
	}
	return strings.Join(parts, "."), true
}

func (c *call) eval(e *env, focus Collection) (Collection, error) {
	if err := e.step(1); err != nil {
		return nil, err
	}
	in := focus
	if c.recv != nil {
		var err error
		if in, err = c.recv.eval(e, focus); err != nil {
			return nil, err
		}
	}
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer func() { e.depth-- }()
	if c.unordered && e.opts.Strict {
		return nil, evalErrorf("%s() depends on order, but its input is not ordered", c.name)
	}
	if c.def.typeArg {
		switch c.name {
		case "is", "as":
			return typeTest(e, c.name, in, c.t)
		}
		return ofType(in, c.t), nil
	}
	out, err := c.def.impl(e, in, c.args)
	if err != nil {
		return nil, err
	}
	if err := e.checkSize(out); err != nil {
		return nil, err
	}
	return out, nil
}

// arg evaluates a (non-lambda) argument against $this.
func (e *env) arg(n node) (Collection, error) { return n.eval(e, e.this) }

// argSingle evaluates an argument that must be a single item (or empty).
func (e *env) argSingle(n node, what string) (Value, error) {
	c, err := e.arg(n)
	if err != nil {
		return nil, err
	}
	v, err := singleton(c, what)
	if err != nil || v == nil {
		return nil, err
	}
	sv, _ := system(v)
	return sv, nil
}

// iterate evaluates fn for each item with $this and $index set.
func (e *env) iterate(in Collection, fn func(i int, item Collection) (bool, error)) error {
	savedThis, savedIndex := e.this, e.index
	defer func() { e.this, e.index = savedThis, savedIndex }()
	for i := range in {
		if err := e.step(1); err != nil {
			return err
		}
		item := in[i : i+1 : i+1]
		e.this, e.index = item, i
		more, err := fn(i, item)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	return nil
}

func fnEmpty(e *env, in Collection, args []node) (Collection, error) {
	return boolColl(len(in) == 0), nil
}

func fnExists(e *env, in Collection, args []node) (Collection, error) {
	if len(args) == 0 {
		return boolColl(len(in) > 0), nil
	}
	found := false
	err := e.iterate(in, func(i int, item Collection) (bool, error) {
		r, err := args[0].eval(e, item)
		if err != nil {
			return false, err
		}
		b, ok, err := toBool(r, "exists()")
		if err != nil {
			return false, err
		}
		if ok && b {
			found = true
			return false, nil
		}
		return true, nil
	})
	return boolColl(found), err
}

func fnAll(e *env, in Collection, args []node) (Collection, error) {
	all := true
	err := e.iterate(in, func(i int, item Collection) (bool, error) {
		r, err := args[0].eval(e, item)
		if err != nil {
			return false, err
		}
		b, ok, err := toBool(r, "all()")
		if err != nil {
			return false, err
		}
		if !ok || !b {
			all = false
			return false, nil
		}
		return true, nil
	})
	return boolColl(all), err
}

// boolAgg implements allTrue, anyTrue, allFalse and anyFalse.
func boolAgg(all, want bool) fnImpl {
	return func(e *env, in Collection, args []node) (Collection, error) {
		for _, v := range in {
			sv, _ := system(v)
			b, ok := sv.(Boolean)
			if !ok {
				return nil, evalErrorf("expected booleans, found %s", v.TypeName())
			}
			if all && bool(b) != want {
				return falseColl, nil
			}
			if !all && bool(b) == want {
				return trueColl, nil
			}
		}
		return boolColl(all), nil
	}
}

func fnSubsetOf(e *env, in Collection, args []node) (Collection, error) {
	return subset(e, in, args, false)
}

func fnSupersetOf(e *env, in Collection, args []node) (Collection, error) {
	return subset(e, in, args, true)
}

// subset answers in.subsetOf(arg), or arg.subsetOf(in) when reverse
// (supersetOf).
func subset(e *env, in Collection, args []node, reverse bool) (Collection, error) {
	other, err := e.arg(args[0])
	if err != nil {
		return nil, err
	}
	if err := e.step(len(in) * len(other) / 8); err != nil {
		return nil, err
	}
	if reverse {
		in, other = other, in
	}
	for _, v := range in {
		if !containsValue(other, v) {
			return falseColl, nil
		}
	}
	return trueColl, nil
}

func fnCount(e *env, in Collection, args []node) (Collection, error) {
	return Collection{Integer(len(in))}, nil
}

func fnDistinct(e *env, in Collection, args []node) (Collection, error) {
	if err := e.step(len(in) * len(in) / 16); err != nil {
		return nil, err
	}
	var out Collection
	for _, v := range in {
		if !containsValue(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

func fnIsDistinct(e *env, in Collection, args []node) (Collection, error) {
	d, err := fnDistinct(e, in, args)
	if err != nil {
		return nil, err
	}
	return boolColl(len(d) == len(in)), nil
}

func fnWhere(e *env, in Collection, args []node) (Collection, error) {
	var out Collection
	all := true
	err := e.iterate(in, func(i int, item Collection) (bool, error) {
		r, err := args[0].eval(e, item)
		if err != nil {
			return false, err
		}
		b, ok, err := toBool(r, "where()")
		if err != nil {
			return false, err
		}
		if ok && b {
			if !all {
				out = append(out, item[0])
			}
		} else if all {
			all = false
			out = append(make(Collection, 0, len(in)), in[:i]...)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if all {
		return in, nil
	}
	return out, nil
}

func fnSelect(e *env, in Collection, args []node) (Collection, error) {
	var out Collection
	err := e.iterate(in, func(i int, item Collection) (bool, error) {
		r, err := args[0].eval(e, item)
		if err != nil {
			return false, err
		}
		if len(in) == 1 {
			out = r
			return true, nil
		}
		out = append(out, r...)
		return true, e.checkSize(out)
	})
	return out, err
}

func fnRepeat(e *env, in Collection, args []node) (Collection, error) {
	var out Collection
	queue := in
	for len(queue) > 0 {
		var next Collection
		err := e.iterate(queue, func(i int, item Collection) (bool, error) {
			r, err := args[0].eval(e, item)
			if err != nil {
				return false, err
			}
			if err := e.step(len(r) * (len(out) + 1) / 8); err != nil {
				return false, err
			}
			for _, v := range r {
				if !containsValue(out, v) {
					out = append(out, v)
					next = append(next, v)
				}
			}
			return true, e.checkSize(out)
		})
		if err != nil {
			return nil, err
		}
		if err := e.step(len(out)); err != nil {
			return nil, err
		}
		queue = next
	}
	return out, nil
}

func fnSingle(e *env, in Collection, args []node) (Collection, error) {
	if len(in) > 1 {
		return nil, evalErrorf("single() on a collection of %d items", len(in))
	}
	return in, nil
}

func fnFirst(e *env, in Collection, args []node) (Collection, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[:1:1], nil
}

func fnLast(e *env, in Collection, args []node) (Collection, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[len(in)-1:], nil
}

func fnTail(e *env, in Collection, args []node) (Collection, error) {
	if len(in) <= 1 {
		return nil, nil
	}
	return in[1:], nil
}

func intArg(e *env, n node, what string) (int, bool, error) {
	v, err := e.argSingle(n, what)
	if err != nil || v == nil {
		return 0, false, err
	}
	i, ok := v.(Integer)
	if !ok {
		return 0, false, evalErrorf("%s needs an integer, not %s", what, v.TypeName())
	}
	return int(i), true, nil
}

func fnSkip(e *env, in Collection, args []node) (Collection, error) {
	n, ok, err := intArg(e, args[0], "skip()")
	if err != nil || !ok {
		return nil, err
	}
	if n <= 0 {
		return in, nil
	}
	if n >= len(in) {
		return nil, nil
	}
	return in[n:], nil
}

func fnTake(e *env, in Collection, args []node) (Collection, error) {
	n, ok, err := intArg(e, args[0], "take()")
	if err != nil || !ok {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	if n >= len(in) {
		return in, nil
	}
	return in[:n:n], nil
}

func fnIntersect(e *env, in Collection, args []node) (Collection, error) {
	other, err := e.arg(args[0])
	if err != nil {
		return nil, err
	}
	if err := e.step(len(in) * len(other) / 8); err != nil {
		return nil, err
	}
	var out Collection
	for _, v := range in {
		if containsValue(other, v) && !containsValue(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

func fnExclude(e *env, in Collection, args []node) (Collection, error) {
	other, err := e.arg(args[0])
	if err != nil {
		return nil, err
	}
	if err := e.step(len(in) * len(other) / 8); err != nil {
		return nil, err
	}
	var out Collection
	for _, v := range in {
		if !containsValue(other, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

func fnUnion(e *env, in Collection, args []node) (Collection, error) {
	other, err := e.arg(args[0])
	if err != nil {
		return nil, err
	}
	return union(e, in, other)
}

func fnCombine(e *env, in Collection, args []node) (Collection, error) {
	other, err := e.arg(args[0])
	if err != nil {
		return nil, err
	}
	out := make(Collection, 0, len(in)+len(other))
	return append(append(out, in...), other...), nil
}

func fnIif(e *env, in Collection, args []node) (Collection, error) {
	if len(in) > 1 {
		return nil, evalErrorf("iif() on a collection of %d items", len(in))
	}
	saved := e.this
	if len(in) == 1 {
		e.this = in
	}
	defer func() { e.this = saved }()
	c, err := args[0].eval(e, e.this)
	if err != nil {
		return nil, err
	}
	if len(c) > 1 {
		return nil, evalErrorf("iif() criterion must be a single boolean")
	}
	cond := false
	if len(c) == 1 {
		sv, _ := system(c[0])
		b, ok := sv.(Boolean)
		if !ok {
			return nil, evalErrorf("iif() criterion must be a boolean, not %s", c[0].TypeName())
		}
		cond = bool(b)
	}
	if cond {
		return args[1].eval(e, e.this)
	}
	if len(args) == 3 {
		return args[2].eval(e, e.this)
	}
	return nil, nil
}

func fnNot(e *env, in Collection, args []node) (Collection, error) {
	b, ok, err := toBool(in, "not()")
	if err != nil || !ok {
		return nil, err
	}
	return boolColl(!b), nil
}

// TypeInfo is the result of type(): a namespace (System or FHIR) and a
// name. Its members are namespace and name.
type TypeInfo struct{ Namespace, Name string }

func (TypeInfo) TypeName() string { return "System.SimpleTypeInfo" }

func fnType(e *env, in Collection, args []node) (Collection, error) {
	out := make(Collection, 0, len(in))
	for _, v := range in {
		if el, ok := v.(Element); ok {
			out = append(out, TypeInfo{"FHIR", el.Node.Type})
			continue
		}
		out = append(out, TypeInfo{"System", strings.TrimPrefix(v.TypeName(), "System.")})
	}
	return out, nil
}

func fnChildren(e *env, in Collection, args []node) (Collection, error) {
	var out Collection
	for _, v := range in {
		el, ok := v.(Element)
		if !ok {
			continue
		}
		for _, f := range el.Node.Fields {
			for _, c := range f.Nodes {
				out = append(out, Element{c})
			}
		}
	}
	if err := e.step(len(out)); err != nil {
		return nil, err
	}
	return out, nil
}

func fnDescendants(e *env, in Collection, args []node) (Collection, error) {
	var out Collection
	var walk func(n *fhir.Node) error
	walk = func(n *fhir.Node) error {
		for _, f := range n.Fields {
			for _, c := range f.Nodes {
				out = append(out, Element{c})
				if err := e.checkSize(out); err != nil {
					return err
				}
				if err := walk(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, v := range in {
		if el, ok := v.(Element); ok {
			if err := walk(el.Node); err != nil {
				return nil, err
			}
		}
	}
	if err := e.step(len(out)); err != nil {
		return nil, err
	}
	return out, nil
}

func fnTrace(e *env, in Collection, args []node) (Collection, error) {
	name, err := e.argSingle(args[0], "trace()")
	if err != nil {
		return nil, err
	}
	if e.opts.Trace == nil {
		return in, nil
	}
	out := in
	if len(args) == 2 {
		var sel Collection
		err := e.iterate(in, func(i int, item Collection) (bool, error) {
			r, err := args[1].eval(e, item)
			sel = append(sel, r...)
			return true, err
		})
		if err != nil {
			return nil, err
		}
		out = sel
	}
	s, _ := stringOf(name)
	e.opts.Trace(s, out)
	return in, nil
}

func fnNow(e *env, in Collection, args []node) (Collection, error) {
	t := e.clock()
	return Collection{DateTime{fromInstant(t, PrecMillisecond, true, 3)}}, nil
}

func fnToday(e *env, in Collection, args []node) (Collection, error) {
	t := e.clock()
	return Collection{Date{fromInstant(t, PrecDay, false, 0)}}, nil
}

func fnTimeOfDay(e *env, in Collection, args []node) (Collection, error) {
	t := fromInstant(e.clock(), PrecMillisecond, false, 3)
	t.year, t.month, t.day = 0, 0, 0
	return Collection{Time{t}}, nil
}

func fnAggregate(e *env, in Collection, args []node) (Collection, error) {
	var total Collection
	if len(args) == 2 {
		var err error
		if total, err = e.arg(args[1]); err != nil {
			return nil, err
		}
	}
	saved := e.total
	defer func() { e.total = saved }()
	err := e.iterate(in, func(i int, item Collection) (bool, error) {
		e.total = total
		r, err := args[0].eval(e, item)
		if err != nil {
			return false, err
		}
		total = r
		return true, nil
	})
	return total, err
}

// fnSort orders the input by each argument in turn (a leading unary minus
// sorts descending); without arguments by the items themselves.
func fnSort(e *env, in Collection, args []node) (Collection, error) {
	type keyed struct {
		v    Value
		keys []Value
	}
	items := make([]keyed, len(in))
	desc := make([]bool, len(args))
	exprs := make([]node, len(args))
	for j, a := range args {
		exprs[j] = a
		if u, ok := a.(*unaryOp); ok && u.neg {
			desc[j], exprs[j] = true, u.x
		}
	}
	err := e.iterate(in, func(i int, item Collection) (bool, error) {
		items[i].v = item[0]
		if len(args) == 0 {
			items[i].keys = []Value{item[0]}
			return true, nil
		}
		for _, x := range exprs {
			r, err := x.eval(e, item)
			if err != nil {
				return false, err
			}
			k, err := singleton(r, "sort()")
			if err != nil {
				return false, err
			}
			items[i].keys = append(items[i].keys, k)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	var sortErr error
	sort.SliceStable(items, func(a, b int) bool {
		for j := range items[a].keys {
			x, y := items[a].keys[j], items[b].keys[j]
			if x == nil || y == nil {
				// Empty keys sort first in either direction.
				if x == nil && y != nil {
					return true
				}
				if y == nil && x != nil {
					return false
				}
				continue
			}
			c, _, err := compareValues(x, y)
			if err != nil {
				sortErr = err
				return false
			}
			if c != 0 {
				if j < len(desc) && desc[j] {
					return c > 0
				}
				return c < 0
			}
		}
		return false
	})
	if sortErr != nil {
		return nil, sortErr
	}
	out := make(Collection, len(items))
	for i := range items {
		out[i] = items[i].v
	}
	return out, nil
}

func fnExtension(e *env, in Collection, args []node) (Collection, error) {
	u, err := e.argSingle(args[0], "extension()")
	if err != nil || u == nil {
		return nil, err
	}
	url, ok := stringOf(u)
	if !ok {
		return nil, evalErrorf("extension() needs a URL string")
	}
	var out Collection
	for _, v := range in {
		el, ok := v.(Element)
		if !ok {
			continue
		}
		for _, x := range el.Node.Get("extension") {
			if x.String("url") == url {
				out = append(out, Element{x})
			}
		}
	}
	return out, nil
}

func fnHasValue(e *env, in Collection, args []node) (Collection, error) {
	if len(in) != 1 {
		return falseColl, nil
	}
	el, ok := in[0].(Element)
	return boolColl(ok && isPrimitiveType(el.Node.Type) && el.Node.Kind != fhir.NoValue), nil
}

func fnGetValue(e *env, in Collection, args []node) (Collection, error) {
	if len(in) != 1 {
		return nil, nil
	}
	el, ok := in[0].(Element)
	if !ok || !isPrimitiveType(el.Node.Type) || el.Node.Kind == fhir.NoValue {
		return nil, nil
	}
	sv, ok := system(in[0])
	if !ok {
		return nil, nil
	}
	return Collection{sv}, nil
}

func fnHTMLChecks(e *env, in Collection, args []node) (Collection, error) {
	// Narrative is checked for safety by the parser (fhir.Parse); a tree
	// that parsed without errors passes.
	return trueColl, nil
}

func fnNothing(e *env, in Collection, args []node) (Collection, error) { return nil, nil }

func fnIdentity(e *env, in Collection, args []node) (Collection, error) { return in, nil }

func fnConformsTo(e *env, in Collection, args []node) (Collection, error) {
	u, err := e.argSingle(args[0], "conformsTo()")
	if err != nil || u == nil {
		return nil, err
	}
	url, _ := stringOf(u)
	name, ok := strings.CutPrefix(url, "http://hl7.org/fhir/StructureDefinition/")
	if !ok || fhir.Type(name) == nil {
		return nil, evalErrorf("conformsTo(): unknown profile %s", url)
	}
	if len(in) != 1 {
		return nil, nil
	}
	return boolColl(valueIsA(in[0], name)), nil
}

// fnHasExtension reports whether any input item has an extension with the
// URL (an R4 search parameter uses it).
func fnHasExtension(e *env, in Collection, args []node) (Collection, error) {
	ext, err := fnExtension(e, in, args)
	if err != nil {
		return nil, err
	}
	return boolColl(len(ext) > 0), nil
}
