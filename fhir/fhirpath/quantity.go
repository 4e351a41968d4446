package fhirpath

import (
	"math/big"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// A small UCUM engine: enough of the unit grammar (prefixes, products,
// quotients, exponents, annotations) and of the atom table to compare and
// convert the units seen in clinical data. Units with offsets (Cel, [degF])
// and units not in the table are not comparable except to themselves.

// dims is a unit's dimension vector: mass, length, time, amount of
// substance, temperature, charge, luminous intensity, international units.
type dims [8]int8

type unitDef struct {
	factor *big.Rat // size of the unit in base units
	dim    dims
	cal    string // "year" or "month" for the calendar durations
}

type atom struct {
	factor string // exact decimal or ratio "n/d"
	dim    dims
	prefix bool // may take a metric prefix
}

var atoms = map[string]atom{
	"1":        {"1", dims{}, false},
	"%":        {"1/100", dims{}, false},
	"[ppth]":   {"1/1000", dims{}, false},
	"[ppm]":    {"1/1000000", dims{}, false},
	"[ppb]":    {"1/1000000000", dims{}, false},
	"g":        {"1", dims{1}, true},
	"t":        {"1000000", dims{1}, true},
	"[lb_av]":  {"453.59237", dims{1}, false},
	"[oz_av]":  {"28.349523125", dims{1}, false},
	"[gr]":     {"0.06479891", dims{1}, false},
	"m":        {"1", dims{0, 1}, true},
	"[in_i]":   {"0.0254", dims{0, 1}, false},
	"[ft_i]":   {"0.3048", dims{0, 1}, false},
	"[yd_i]":   {"0.9144", dims{0, 1}, false},
	"[mi_i]":   {"1609.344", dims{0, 1}, false},
	"Ao":       {"1/10000000000", dims{0, 1}, false},
	"L":        {"1/1000", dims{0, 3}, true},
	"l":        {"1/1000", dims{0, 3}, true},
	"[gal_us]": {"0.003785411784", dims{0, 3}, false},
	"[foz_us]": {"0.0000295735295625", dims{0, 3}, false},
	"[tsp_us]": {"0.00000492892159375", dims{0, 3}, false},
	"[tbs_us]": {"0.0000147867647812", dims{0, 3}, false},
	"s":        {"1", dims{0, 0, 1}, true},
	"min":      {"60", dims{0, 0, 1}, false},
	"h":        {"3600", dims{0, 0, 1}, false},
	"d":        {"86400", dims{0, 0, 1}, false},
	"wk":       {"604800", dims{0, 0, 1}, false},
	"mo":       {"2629800", dims{0, 0, 1}, false},
	"a":        {"31557600", dims{0, 0, 1}, false},
	"Hz":       {"1", dims{0, 0, -1}, true},
	"mol":      {"1", dims{0, 0, 0, 1}, true},
	"eq":       {"1", dims{0, 0, 0, 1}, true},
	"osm":      {"1", dims{0, 0, 0, 1}, true},
	"kat":      {"1", dims{0, 0, -1, 1}, true},
	"U":        {"1/60000000", dims{0, 0, -1, 1}, true},
	"K":        {"1", dims{0, 0, 0, 0, 1}, true},
	"C":        {"1", dims{0, 0, 0, 0, 0, 1}, true},
	"cd":       {"1", dims{0, 0, 0, 0, 0, 0, 1}, true},
	"[iU]":     {"1", dims{0, 0, 0, 0, 0, 0, 0, 1}, true},
	"[IU]":     {"1", dims{0, 0, 0, 0, 0, 0, 0, 1}, true},
	"N":        {"1000", dims{1, 1, -2}, true},
	"Pa":       {"1000", dims{1, -1, -2}, true},
	"bar":      {"100000000", dims{1, -1, -2}, true},
	"m[Hg]":    {"133322387.415", dims{1, -1, -2}, true},
	"m[H2O]":   {"9806650", dims{1, -1, -2}, true},
	"J":        {"1000", dims{1, 2, -2}, true},
	"cal":      {"4184", dims{1, 2, -2}, true},
	"W":        {"1000", dims{1, 2, -3}, true},
	"rad":      {"1", dims{}, true},
	"deg":      {"0.0174532925199433", dims{}, false},
}

var prefixes = map[string]string{
	"Y": "1000000000000000000000000", "Z": "1000000000000000000000", "E": "1000000000000000000",
	"P": "1000000000000000", "T": "1000000000000", "G": "1000000000", "M": "1000000",
	"k": "1000", "h": "100", "da": "10", "d": "1/10", "c": "1/100", "m": "1/1000",
	"u": "1/1000000", "n": "1/1000000000", "p": "1/1000000000000", "f": "1/1000000000000000",
	"a": "1/1000000000000000000",
}

// calendarUCUM maps calendar duration keywords to UCUM: weeks and shorter
// are the same as their UCUM units; years and months are not.
var calendarUCUM = map[string]string{
	"year": "a", "years": "a", "month": "mo", "months": "mo", "week": "wk", "weeks": "wk",
	"day": "d", "days": "d", "hour": "h", "hours": "h", "minute": "min", "minutes": "min",
	"second": "s", "seconds": "s", "millisecond": "ms", "milliseconds": "ms",
}

var (
	unitCache sync.Map // string -> unitDef or nil
	unitCount atomic.Int64
)

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("fhirpath: bad unit factor " + s)
	}
	return r
}

// lookupUnit returns the definition of a UCUM unit or calendar keyword.
func lookupUnit(u string) (unitDef, bool) {
	if v, ok := unitCache.Load(u); ok {
		if v == nil {
			return unitDef{}, false
		}
		return v.(unitDef), true
	}
	var def unitDef
	ok := false
	if c, isCal := calendarUCUM[u]; isCal {
		def, ok = parseUnit(c)
		switch c {
		case "a":
			def.cal = "year"
		case "mo":
			def.cal = "month"
		}
	} else if len(u) <= 64 {
		def, ok = parseUnit(u)
	}
	if unitCount.Add(1) <= maxCached {
		if ok {
			unitCache.Store(u, def)
		} else {
			unitCache.Store(u, nil)
		}
	}
	return def, ok
}

// parseUnit parses a UCUM unit expression made of terms joined by '.'
// and '/'.
func parseUnit(s string) (unitDef, bool) {
	def := unitDef{factor: big.NewRat(1, 1)}
	if s == "" {
		return def, false
	}
	div := false
	if s[0] == '/' {
		div = true
		s = s[1:]
	}
	for {
		i := strings.IndexAny(s, "./")
		term := s
		if i >= 0 {
			term = s[:i]
		}
		f, d, ok := parseTerm(term)
		if !ok {
			return def, false
		}
		if div {
			def.factor.Quo(def.factor, f)
			for k := range d {
				def.dim[k] -= d[k]
			}
		} else {
			def.factor.Mul(def.factor, f)
			for k := range d {
				def.dim[k] += d[k]
			}
		}
		if i < 0 {
			return def, true
		}
		div = s[i] == '/'
		s = s[i+1:]
	}
}

func parseTerm(t string) (*big.Rat, dims, bool) {
	// Strip an annotation.
	if i := strings.IndexByte(t, '{'); i >= 0 {
		if !strings.HasSuffix(t, "}") {
			return nil, dims{}, false
		}
		t = t[:i]
		if t == "" {
			return big.NewRat(1, 1), dims{}, true
		}
	}
	if strings.HasPrefix(t, "10*") || strings.HasPrefix(t, "10^") {
		e, err := strconv.Atoi(t[3:])
		if err != nil || e < -24 || e > 24 {
			return nil, dims{}, false
		}
		r := new(big.Rat).SetInt(pow10(abs(e)))
		if e < 0 {
			r.Inv(r)
		}
		return r, dims{}, true
	}
	// Exponent: trailing digits, optionally signed.
	j := len(t)
	for j > 0 && isDigit(t[j-1]) {
		j--
	}
	exp := 1
	if j < len(t) && j > 0 && t[:j] != "10" {
		k := j
		if k > 0 && (t[k-1] == '-' || t[k-1] == '+') {
			k--
		}
		e, err := strconv.Atoi(t[k:])
		if err != nil || e == 0 || e > 9 || e < -9 {
			return nil, dims{}, false
		}
		exp, t = e, t[:k]
	}
	f, d, ok := lookupAtom(t)
	if !ok {
		return nil, dims{}, false
	}
	r := big.NewRat(1, 1)
	for i := 0; i < abs(exp); i++ {
		r.Mul(r, f)
	}
	if exp < 0 {
		r.Inv(r)
	}
	for k := range d {
		d[k] *= int8(exp)
	}
	return r, d, true
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

func lookupAtom(t string) (*big.Rat, dims, bool) {
	if a, ok := atoms[t]; ok {
		return rat(a.factor), a.dim, true
	}
	for _, n := range []int{2, 1} {
		if len(t) <= n {
			continue
		}
		p, ok := prefixes[t[:n]]
		if !ok {
			continue
		}
		if a, ok := atoms[t[n:]]; ok && a.prefix {
			return new(big.Rat).Mul(rat(p), rat(a.factor)), a.dim, true
		}
	}
	return nil, dims{}, false
}

// unitsComparable reports whether two units can be converted to each other.
func unitsComparable(a, b string) bool {
	if a == b {
		return true
	}
	da, ok1 := lookupUnit(a)
	db, ok2 := lookupUnit(b)
	return ok1 && ok2 && da.dim == db.dim
}

// convertQuantity expresses q in unit to. ok is false when the units are
// not comparable.
func convertQuantity(q Quantity, to string) (Quantity, bool) {
	if q.Unit == to {
		return q, true
	}
	from, ok1 := lookupUnit(q.Unit)
	dst, ok2 := lookupUnit(to)
	if !ok1 || !ok2 || from.dim != dst.dim {
		return Quantity{}, false
	}
	f := new(big.Rat).Quo(from.factor, dst.factor)
	v := new(big.Rat).SetFrac(q.Value.u(), pow10(int(q.Value.scale)))
	v.Mul(v, f)
	return Quantity{Value: ratToDecimal(v, q.Value.scale), Unit: to}, true
}

// ratToDecimal converts r exactly when its decimal expansion terminates
// within divScale digits, else rounds there; the result keeps at least
// minScale digits.
func ratToDecimal(r *big.Rat, minScale int32) Decimal {
	num := new(big.Int).Mul(r.Num(), pow10(divScale+1))
	q := new(big.Int).Quo(num, r.Denom())
	d := Decimal{unscaled: q, scale: divScale + 1}.round(divScale)
	return d.trim(minScale)
}

// compareQuantities compares two quantities. ok is false when the result is
// unknown: different dimensions, unknown units, or a calendar year or month
// against a UCUM 'a' or 'mo' (which are not the same durations).
func compareQuantities(a, b Quantity) (cmp int, ok bool) {
	if a.Unit == b.Unit {
		return a.Value.Cmp(b.Value), true
	}
	da, ok1 := lookupUnit(a.Unit)
	db, ok2 := lookupUnit(b.Unit)
	if !ok1 || !ok2 || da.dim != db.dim {
		return 0, false
	}
	if (da.cal != "") != (db.cal != "") {
		// A calendar year or month against a definite duration.
		return 0, false
	}
	if da.cal != "" && db.cal != "" {
		// Calendar years and months: 1 year = 12 months.
		ma, mb := monthsOf(a, da), monthsOf(b, db)
		return ma.Cmp(mb), true
	}
	c, _ := convertQuantity(b, a.Unit)
	return a.Value.Cmp(c.Value), true
}

func monthsOf(q Quantity, d unitDef) Decimal {
	if d.cal == "year" {
		return q.Value.Mul(DecimalFromInt(12))
	}
	return q.Value
}

// quantityEquivalent implements ~ for quantities: compare in a common unit
// after rounding to the less precise of the two values.
func quantityEquivalent(a, b Quantity) bool {
	da, ok1 := lookupUnit(a.Unit)
	db, ok2 := lookupUnit(b.Unit)
	if a.Unit != b.Unit && ok1 && ok2 && da.dim == db.dim && (da.cal != "" || db.cal != "") {
		// Calendar durations are equivalent to their UCUM counterparts.
		a.Unit, b.Unit = canonicalTimeUnit(a.Unit), canonicalTimeUnit(b.Unit)
	}
	c, ok := convertQuantity(b, a.Unit)
	if !ok {
		return false
	}
	s := min(a.Value.scale, b.Value.scale)
	return a.Value.round(s).Cmp(c.Value.round(s)) == 0
}

func canonicalTimeUnit(u string) string {
	if c, ok := calendarUCUM[u]; ok {
		return c
	}
	return u
}
