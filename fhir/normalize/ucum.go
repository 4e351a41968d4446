package normalize

import "strings"

// validUCUM reports whether s is a well-formed case-sensitive UCUM unit
// expression (https://ucum.org/ucum#section-Syntax-Rules) made of the atoms
// below. It checks syntax and atoms, not dimensions; the atom list covers
// the units clinical systems use, not all of UCUM's table.
func validUCUM(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	p := ucumParser{s: s}
	if p.peek() == '/' {
		p.i++
	}
	if !p.term(0) {
		return false
	}
	return p.i == len(p.s)
}

type ucumParser struct {
	s string
	i int
}

func (p *ucumParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *ucumParser) term(depth int) bool {
	if depth > 8 || !p.component(depth) {
		return false
	}
	for c := p.peek(); c == '.' || c == '/'; c = p.peek() {
		p.i++
		if !p.component(depth) {
			return false
		}
	}
	return true
}

func (p *ucumParser) component(depth int) bool {
	switch p.peek() {
	case '(':
		p.i++
		if !p.term(depth + 1) {
			return false
		}
		if p.peek() != ')' {
			return false
		}
		p.i++
		return true
	case '{':
		return p.annotation()
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '[' {
			end := strings.IndexByte(p.s[p.i:], ']')
			if end < 0 {
				return false
			}
			p.i += end + 1
			continue
		}
		if c == '.' || c == '/' || c == '(' || c == ')' || c == '{' || c == '}' || c <= ' ' || c >= 0x7f {
			break
		}
		p.i++
	}
	if p.i == start || !simpleUnit(p.s[start:p.i]) {
		return false
	}
	if p.peek() == '{' {
		return p.annotation()
	}
	return true
}

func (p *ucumParser) annotation() bool {
	end := strings.IndexByte(p.s[p.i:], '}')
	if end < 0 {
		return false
	}
	body := p.s[p.i+1 : p.i+end]
	if strings.ContainsAny(body, "{") {
		return false
	}
	for i := 0; i < len(body); i++ {
		if body[i] < '!' || body[i] > '~' {
			return false
		}
	}
	p.i += end + 1
	return true
}

// simpleUnit checks a unit with an optional exponent: a factor ("100"), an
// atom, or a prefix and a metric atom, followed by [+-]digits.
func simpleUnit(s string) bool {
	allDigits := true
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			allDigits = false
			break
		}
	}
	if allDigits {
		return true
	}
	// Split a trailing exponent.
	j := len(s)
	for j > 0 && s[j-1] >= '0' && s[j-1] <= '9' {
		j--
	}
	if j < len(s) && j > 0 && (s[j-1] == '+' || s[j-1] == '-') {
		j--
	}
	base := s[:j]
	if base == "" {
		return false
	}
	if isAtom(base) {
		return true
	}
	// "10*3": the special atoms 10* and 10^ take an exponent.
	if j < len(s) && (base == "10*" || base == "10^") {
		return true
	}
	for _, pre := range ucumPrefixes {
		if rest, ok := strings.CutPrefix(base, pre); ok && rest != "" && ucumMetric[rest] {
			return true
		}
	}
	return false
}

func isAtom(s string) bool { return ucumMetric[s] || ucumNonMetric[s] }

var ucumPrefixes = []string{"da", "Ki", "Mi", "Gi", "Ti", "Y", "Z", "E", "P", "T", "G", "M", "k", "h", "d", "c", "m", "u", "n", "p", "f", "a", "z", "y"}

// ucumMetric atoms may take a prefix.
var ucumMetric = set(
	"m", "s", "g", "rad", "K", "C", "cd", "mol", "sr", "Hz", "N", "Pa", "J", "W", "A", "V", "F", "Ohm", "S", "Wb",
	"Cel", "T", "H", "lm", "lx", "Bq", "Gy", "Sv", "l", "L", "ar", "t", "bar", "u", "eV", "pc", "[c]", "[h]", "[k]",
	"[eps_0]", "[mu_0]", "[e]", "[m_e]", "[m_p]", "[G]", "[g]", "[ly]", "gf", "Ky", "Gal", "dyn", "erg", "P", "St",
	"Mx", "G", "Oe", "Gb", "sb", "Lmb", "ph", "Ci", "R", "RAD", "REM", "cal", "[iU]", "[IU]", "eq", "osm", "g%",
	"kat", "U", "bit", "By", "Bd", "mho", "Np", "B", "B[SPL]", "B[V]", "B[mV]", "B[uV]", "B[10.nV]", "B[W]", "B[kW]",
	"st", "m[Hg]", "m[H2O]", "[CCID_50]", "[TCID_50]", "[PFU]", "[FFU]", "[CFU]", "[BAU]", "[AU]", "[Amb'a'1'U]",
	"[pH]", "[ppb]", "[pptr]", "[ppm]", "[ppth]", "[S]", "[HPF]", "[LPF]", "[arb'U]", "[USP'U]", "[GPL'U]",
	"[MPL'U]", "[APL'U]", "[beth'U]", "[anti'Xa'U]", "[todd'U]", "[dye'U]", "[smgy'U]", "[bdsk'U]", "[ka'U]",
	"[knk'U]", "[mclg'U]", "[tb'U]", "[hp'_X]", "[hp'_C]", "[hp'_M]", "[hp'_Q]", "[kp_X]", "[kp_C]", "[kp_M]", "[kp_Q]",
	"[D'ag'U]", "[FEU]", "[ELU]", "[EU]", "Bi", "AU", "[Lf]", "[IR]", "[lne]",
)

// ucumNonMetric atoms take no prefix.
var ucumNonMetric = set(
	"10*", "10^", "[pi]", "%", "'", "''", "gon", "deg", "min", "h", "d", "a_t", "a_j", "a_g", "a", "wk", "mo_s",
	"mo_j", "mo_g", "mo", "[in_i]", "[ft_i]", "[yd_i]", "[mi_i]", "[fth_i]", "[nmi_i]", "[kn_i]", "[sin_i]",
	"[sft_i]", "[syd_i]", "[cin_i]", "[cft_i]", "[cyd_i]", "[bf_i]", "[cr_i]", "[mil_i]", "[cml_i]", "[hd_i]",
	"[ft_us]", "[yd_us]", "[in_us]", "[rd_us]", "[ch_us]", "[lk_us]", "[rch_us]", "[rlk_us]", "[fth_us]",
	"[fur_us]", "[mi_us]", "[acr_us]", "[srd_us]", "[smi_us]", "[sct]", "[twp]", "[mil_us]", "[in_br]",
	"[ft_br]", "[rd_br]", "[ch_br]", "[lk_br]", "[fth_br]", "[pc_br]", "[yd_br]", "[mi_br]", "[nmi_br]",
	"[kn_br]", "[acr_br]", "[gal_us]", "[bbl_us]", "[qt_us]", "[pt_us]", "[gil_us]", "[foz_us]", "[fdr_us]",
	"[min_us]", "[crd_us]", "[bu_us]", "[gal_wi]", "[pk_us]", "[dqt_us]", "[dpt_us]", "[tbs_us]", "[tsp_us]",
	"[cup_us]", "[foz_m]", "[cup_m]", "[tsp_m]", "[tbs_m]", "[gal_br]", "[pk_br]", "[bu_br]", "[qt_br]",
	"[pt_br]", "[gil_br]", "[foz_br]", "[fdr_br]", "[min_br]", "[gr]", "[lb_av]", "[oz_av]", "[dr_av]",
	"[scwt_av]", "[lcwt_av]", "[ston_av]", "[lton_av]", "[stone_av]", "[pwt_tr]", "[oz_tr]", "[lb_tr]",
	"[sc_ap]", "[dr_ap]", "[oz_ap]", "[lb_ap]", "[oz_m]", "[lne]", "[pnt]", "[pca]", "[pnt_pr]", "[pca_pr]",
	"[pied]", "[pouce]", "[ligne]", "[didot]", "[cicero]", "[degF]", "[degR]", "[degRe]", "cal_[15]",
	"cal_[20]", "cal_m", "cal_IT", "cal_th", "[Cal]", "[Btu_39]", "[Btu_59]", "[Btu_60]", "[Btu_m]",
	"[Btu_IT]", "[Btu_th]", "[Btu]", "[HP]", "tex", "[den]", "[in_i'H2O]", "[in_i'Hg]", "[PRU]", "[wood'U]",
	"[diop]", "[p'diop]", "%[slope]", "[mesh_i]", "[Ch]", "[drp]", "[hnsf'U]", "[MET]", "[hp_X]", "[hp_C]",
	"[hp_M]", "[hp_Q]", "[kp_X]", "[car_m]", "[car_Au]", "[smoot]", "[m/s2/Hz^(1/2)]", "[psi]", "ATT", "atm",
	"att", "mm[Hg]", "[iU]", "circ", "sph", "Ao", "b", "[HPF]",
)

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
