package fhirpath

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is System.Decimal: an exact decimal number that keeps its scale
// (the number of digits after the point), so 1.50 stays 1.50. The value is
// unscaled / 10^scale.
type Decimal struct {
	unscaled *big.Int // nil means zero
	scale    int32
}

// maxScale bounds the digits kept after the point by arithmetic, and
// maxDigits the size of any decimal, so that hostile expressions cannot
// build huge numbers.
const (
	divScale  = 16
	maxScale  = 64
	maxDigits = 128
)

var errDecimal = errors.New("invalid decimal")

// ParseDecimal reads a decimal literal such as "-1.50" or "1e-3".
func ParseDecimal(s string) (Decimal, error) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return Decimal{}, errDecimal
		}
		mant, exp = s[:i], e
	}
	neg := false
	if strings.HasPrefix(mant, "-") {
		neg, mant = true, mant[1:]
	} else if strings.HasPrefix(mant, "+") {
		mant = mant[1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" && frac == "" || len(mant) > maxDigits*2 {
		return Decimal{}, errDecimal
	}
	digits := intPart + frac
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return Decimal{}, errDecimal
		}
	}
	u, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return Decimal{}, errDecimal
	}
	if neg {
		u.Neg(u)
	}
	scale := len(frac) - exp
	if scale < 0 {
		u.Mul(u, pow10(-scale))
		scale = 0
	}
	return Decimal{unscaled: u, scale: int32(scale)}, nil
}

// DecimalFromInt returns i as a Decimal with scale 0.
func DecimalFromInt(i int64) Decimal { return Decimal{unscaled: big.NewInt(i)} }

func decimalFromFloat(f float64) (Decimal, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Decimal{}, false
	}
	d, err := ParseDecimal(strconv.FormatFloat(f, 'f', -1, 64))
	if err != nil {
		return Decimal{}, false
	}
	if d.scale > divScale {
		d = d.round(divScale)
	}
	return d, true
}

// pow10Cache holds 10^0 to 10^39; its values are never modified.
var pow10Cache = func() (c [40]*big.Int) {
	p := big.NewInt(1)
	for i := range c {
		c[i] = new(big.Int).Set(p)
		p.Mul(p, big.NewInt(10))
	}
	return c
}()

func pow10(n int) *big.Int {
	if n < len(pow10Cache) {
		return pow10Cache[n]
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

func (d Decimal) u() *big.Int {
	if d.unscaled == nil {
		return new(big.Int)
	}
	return d.unscaled
}

// Scale returns the number of digits after the decimal point.
func (d Decimal) Scale() int { return int(d.scale) }

// Sign returns -1, 0 or 1.
func (d Decimal) Sign() int { return d.u().Sign() }

// String formats d with exactly Scale digits after the point.
func (d Decimal) String() string {
	u := d.u()
	s := new(big.Int).Abs(u).String()
	neg := u.Sign() < 0
	if d.scale > 0 {
		sc := int(d.scale)
		if len(s) <= sc {
			s = strings.Repeat("0", sc-len(s)+1) + s
		}
		s = s[:len(s)-sc] + "." + s[len(s)-sc:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// rescale returns d's unscaled value at a larger scale.
func (d Decimal) at(scale int32) *big.Int {
	if scale == d.scale {
		return d.u()
	}
	return new(big.Int).Mul(d.u(), pow10(int(scale-d.scale)))
}

// Cmp compares d and e numerically.
func (d Decimal) Cmp(e Decimal) int {
	s := max(d.scale, e.scale)
	return d.at(s).Cmp(e.at(s))
}

// Add returns d + e, exactly.
func (d Decimal) Add(e Decimal) Decimal {
	s := max(d.scale, e.scale)
	return Decimal{unscaled: new(big.Int).Add(d.at(s), e.at(s)), scale: s}
}

// Sub returns d - e, exactly.
func (d Decimal) Sub(e Decimal) Decimal {
	s := max(d.scale, e.scale)
	return Decimal{unscaled: new(big.Int).Sub(d.at(s), e.at(s)), scale: s}
}

// Mul returns d * e, exactly up to 64 digits after the point.
func (d Decimal) Mul(e Decimal) Decimal {
	r := Decimal{unscaled: new(big.Int).Mul(d.u(), e.u()), scale: d.scale + e.scale}
	if r.scale > maxScale {
		r = r.round(maxScale)
	}
	return r
}

// Neg returns -d.
func (d Decimal) Neg() Decimal { return Decimal{unscaled: new(big.Int).Neg(d.u()), scale: d.scale} }

// Div divides d by e; ok is false for division by zero. The quotient is
// exact when it terminates within divScale digits, else rounded there.
func (d Decimal) Div(e Decimal) (Decimal, bool) {
	if e.Sign() == 0 {
		return Decimal{}, false
	}
	// d/e = (du/10^ds) / (eu/10^es); compute at divScale+1 then round.
	s := int32(divScale + 1)
	num := new(big.Int).Mul(d.u(), pow10(int(s+e.scale)))
	den := new(big.Int).Mul(e.u(), pow10(int(d.scale)))
	q := new(big.Int).Quo(num, den)
	r := Decimal{unscaled: q, scale: s}.round(divScale)
	min := max(d.scale, e.scale)
	return r.trim(min), true
}

// trim removes trailing zeros after the point, keeping at least min digits.
func (d Decimal) trim(min int32) Decimal {
	u := new(big.Int).Set(d.u())
	s := d.scale
	ten := big.NewInt(10)
	m := new(big.Int)
	for s > min {
		q, r := new(big.Int).QuoRem(u, ten, m)
		if r.Sign() != 0 {
			break
		}
		u = q
		s--
	}
	return Decimal{unscaled: u, scale: s}
}

// round rounds half away from zero to n digits after the point.
func (d Decimal) round(n int32) Decimal {
	if n >= d.scale {
		return Decimal{unscaled: d.at(n), scale: n}
	}
	div := pow10(int(d.scale - n))
	u := d.u()
	q, r := new(big.Int).QuoRem(u, div, new(big.Int))
	r2 := new(big.Int).Abs(r)
	r2.Mul(r2, big.NewInt(2))
	if r2.Cmp(div) >= 0 {
		if u.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return Decimal{unscaled: q, scale: n}
}

// truncate drops digits after the point (towards zero).
func (d Decimal) truncate() *big.Int {
	return new(big.Int).Quo(d.u(), pow10(int(d.scale)))
}

// floor returns the greatest integer <= d.
func (d Decimal) floor() *big.Int {
	q, m := new(big.Int).DivMod(d.u(), pow10(int(d.scale)), new(big.Int))
	_ = m
	return q // DivMod is Euclidean: floor for a positive divisor.
}

func (d Decimal) ceiling() *big.Int {
	f := d.floor()
	if new(big.Int).Mul(f, pow10(int(d.scale))).Cmp(d.u()) != 0 {
		f.Add(f, big.NewInt(1))
	}
	return f
}

// Mod returns d - e*trunc(d/e).
func (d Decimal) Mod(e Decimal) (Decimal, bool) {
	if e.Sign() == 0 {
		return Decimal{}, false
	}
	s := max(d.scale, e.scale)
	return Decimal{unscaled: new(big.Int).Rem(d.at(s), e.at(s)), scale: s}, true
}

// IntDiv returns trunc(d/e).
func (d Decimal) IntDiv(e Decimal) (*big.Int, bool) {
	if e.Sign() == 0 {
		return nil, false
	}
	s := max(d.scale, e.scale)
	return new(big.Int).Quo(d.at(s), e.at(s)), true
}

// Float64 returns the nearest float64.
func (d Decimal) Float64() float64 {
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}

// tooBig reports whether d has more digits than an implementation keeps.
func (d Decimal) tooBig() bool {
	return d.u().BitLen() > maxDigits*4
}

func negate(v Value) (Value, bool) {
	switch x := v.(type) {
	case Integer:
		return -x, true
	case Decimal:
		return x.Neg(), true
	case Quantity:
		return Quantity{Value: x.Value.Neg(), Unit: x.Unit}, true
	}
	return nil, false
}

func bigToInteger(b *big.Int) (Integer, bool) {
	if !b.IsInt64() {
		return 0, false
	}
	return Integer(b.Int64()), true
}
