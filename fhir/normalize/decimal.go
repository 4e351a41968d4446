package normalize

import (
	"math/big"
	"strings"
)

// decimal is an exact decimal number: unscaled * 10^-scale.
type decimal struct {
	unscaled big.Int
	scale    int
}

// parseDecimal reads a JSON number literal exactly ("1.50", "-3", "2e3").
func parseDecimal(s string) (*decimal, bool) {
	var d decimal
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, ok := new(big.Int).SetString(strings.TrimPrefix(s[i+1:], "+"), 10)
		if !ok || !e.IsInt64() || e.Int64() > 400 || e.Int64() < -400 {
			return nil, false
		}
		exp = int(e.Int64())
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if _, ok := d.unscaled.SetString(intPart+frac, 10); !ok || intPart == "" || intPart == "-" {
		return nil, false
	}
	d.scale = len(frac) - exp
	if d.scale < 0 {
		d.unscaled.Mul(&d.unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.scale)), nil))
		d.scale = 0
	}
	return &d, true
}

// mul returns a*b exactly; the scale is the sum of the scales, so no digit
// of either operand is lost.
func (a *decimal) mul(b *decimal) *decimal {
	var r decimal
	r.unscaled.Mul(&a.unscaled, &b.unscaled)
	r.scale = a.scale + b.scale
	return &r
}

// String writes d as a plain decimal literal with exactly scale fraction
// digits.
func (d *decimal) String() string {
	neg := d.unscaled.Sign() < 0
	digits := new(big.Int).Abs(&d.unscaled).String()
	if d.scale > 0 {
		if len(digits) <= d.scale {
			digits = strings.Repeat("0", d.scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-d.scale] + "." + digits[len(digits)-d.scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}
