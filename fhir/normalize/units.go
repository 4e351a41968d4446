package normalize

import (
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// Conversion asks for the values of one unit to be converted to another:
// value*Factor, with the code set to To and the display to Display. Factor
// is an exact decimal, so the result keeps every digit.
type Conversion struct {
	From, To string
	Factor   string
	Display  string   // unit text after conversion; To when empty
	Elements []string // element paths it applies to (e.g. "Observation.value[x]"); all when empty

	factor *decimal
}

// quantityTypes are the types built on Quantity.
var quantityTypes = map[string]bool{
	"Quantity": true, "Age": true, "Count": true, "Distance": true, "Duration": true,
	"SimpleQuantity": true, "MoneyQuantity": true,
}

// ucumAlias returns the UCUM code for a unit spelling, or "".
//
// When the sender already says the code is UCUM and it is valid UCUM, it is
// only rewritten when the alias differs from its target by the case of the
// litre ("ml", "mg/dl") or by writing 10^ for 10*, which UCUM treats as
// the same unit; "ft" sent as UCUM stays a femtotonne.
func (r *run) ucumAlias(code string, explicitUCUM bool) string {
	to, ok := r.p.units[code]
	if !ok || to == code {
		return ""
	}
	if explicitUCUM && validUCUM(code) && sameUnit.Replace(code) != to {
		return ""
	}
	return to
}

// units maps Quantity units to UCUM and applies the profile's conversions.
func (r *run) units(res *fhir.Node) {
	walk(res, r.root(res), func(n *fhir.Node, p path) {
		if !quantityTypes[n.Type] || n.Kind != fhir.NoValue {
			return
		}
		if n.First("system") != nil {
			r.mapSystem(n, p)
		}
		sys := n.First("system")
		code := n.First("code")
		switch {
		case code != nil && code.Kind == fhir.StringValue && (sys == nil || sys.Value == UCUM):
			to := r.ucumAlias(code.Value, sys != nil)
			if to == "" && sys == nil && r.p.ucumTargets[code.Value] {
				to = code.Value // a UCUM code sent without its system
			}
			if to == "" {
				break
			}
			if sys == nil {
				r.record(p.sub("system"), "", UCUM, RuleUnit)
				n.Set("system", UCUM)
			}
			if to != code.Value {
				r.record(p.sub("code"), code.Value, to, RuleUnit)
				code.Value = to
			}
		case code == nil && sys == nil && r.p.inferUnit:
			u := n.First("unit")
			if u == nil || u.Kind != fhir.StringValue {
				break
			}
			to := r.ucumAlias(u.Value, false)
			if to == "" && r.p.ucumTargets[u.Value] {
				to = u.Value
			}
			if to == "" {
				break
			}
			r.record(p.sub("system"), "", UCUM, RuleUnit)
			n.Set("system", UCUM)
			r.record(p.sub("code"), "", to, RuleUnit)
			n.Set("code", to)
		}
		r.convert(n, p)
	})
}

// convert applies the first conversion that matches n.
func (r *run) convert(n *fhir.Node, p path) {
	if len(r.p.conversions) == 0 || n.String("system") != UCUM {
		return
	}
	code := n.First("code")
	val := n.First("value")
	if code == nil || val == nil || val.Kind != fhir.NumberValue {
		return
	}
	for i := range r.p.conversions {
		c := &r.p.conversions[i]
		if c.From != code.Value || !c.appliesTo(n.Elem) {
			continue
		}
		d, ok := parseDecimal(val.Value)
		if !ok {
			return
		}
		v := d.mul(c.factor).String()
		r.record(p.sub("value"), val.Value, v, RuleUnitConvert)
		val.Value = v
		r.record(p.sub("code"), code.Value, c.To, RuleUnitConvert)
		code.Value = c.To
		disp := c.Display
		if disp == "" {
			disp = c.To
		}
		if u := n.First("unit"); u == nil || u.Value != disp {
			before := ""
			if u != nil {
				before = u.Value
			}
			r.record(p.sub("unit"), before, disp, RuleUnitConvert)
			setPrimitive(n, "unit", disp)
		}
		return
	}
}

func (c *Conversion) appliesTo(e *fhir.Element) bool {
	if len(c.Elements) == 0 {
		return true
	}
	if e == nil {
		return false
	}
	for _, x := range c.Elements {
		if x == e.Path {
			return true
		}
	}
	return false
}

// sameUnit rewrites the UCUM spellings that mean the same unit: "l" and
// "L" are both the litre, "10^" and "10*" both ten to a power.
var sameUnit = strings.NewReplacer("l", "L", "10^", "10*")
