package fhirpath

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Precision of a date, dateTime or time value, from coarsest to finest.
type Precision int8

const (
	PrecYear Precision = iota + 1
	PrecMonth
	PrecDay
	PrecHour
	PrecMinute
	PrecSecond
	PrecMillisecond
)

// temporal holds the fields of a Date, DateTime or Time. Fields finer than
// prec are zero. The offset applies only when hasTZ is set.
type temporal struct {
	year, month, day     int
	hour, minute, second int
	nano                 int // fraction of the second, in nanoseconds
	fracDigits           int // digits of the fraction as written (0 when absent)
	prec                 Precision
	hasTZ                bool
	tz                   int // offset east of UTC, in minutes
}

// Date is System.Date.
type Date struct{ temporal }

// DateTime is System.DateTime.
type DateTime struct{ temporal }

// Time is System.Time (prec counts from PrecHour).
type Time struct{ temporal }

func (Date) TypeName() string     { return "System.Date" }
func (DateTime) TypeName() string { return "System.DateTime" }
func (Time) TypeName() string     { return "System.Time" }

// Precision returns the precision of the value.
func (t temporal) Precision() Precision { return t.prec }

var errTemporal = errors.New("invalid date/time")

func atoiN(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := i; k < i+n; k++ {
		if !isDigit(s[k]) {
			return 0, false
		}
		v = v*10 + int(s[k]-'0')
	}
	return v, true
}

// parseDatePart reads YYYY(-MM(-DD)?)? and returns the index after it.
func parseDatePart(s string, t *temporal) (int, error) {
	y, ok := atoiN(s, 0, 4)
	if !ok {
		return 0, errTemporal
	}
	t.year, t.prec = y, PrecYear
	i := 4
	if i < len(s) && s[i] == '-' {
		m, ok := atoiN(s, i+1, 2)
		if !ok || m < 1 || m > 12 {
			return 0, errTemporal
		}
		t.month, t.prec = m, PrecMonth
		i += 3
		if i < len(s) && s[i] == '-' {
			d, ok := atoiN(s, i+1, 2)
			if !ok || d < 1 || d > daysIn(y, m) {
				return 0, errTemporal
			}
			t.day, t.prec = d, PrecDay
			i += 3
		}
	}
	return i, nil
}

// parseTimePart reads HH(:mm(:ss(.f+)?)?)? starting at s[i].
func parseTimePart(s string, i int, t *temporal) (int, error) {
	h, ok := atoiN(s, i, 2)
	if !ok || h > 23 {
		return 0, errTemporal
	}
	t.hour, t.prec = h, PrecHour
	i += 2
	if i < len(s) && s[i] == ':' {
		m, ok := atoiN(s, i+1, 2)
		if !ok || m > 59 {
			return 0, errTemporal
		}
		t.minute, t.prec = m, PrecMinute
		i += 3
		if i < len(s) && s[i] == ':' {
			sec, ok := atoiN(s, i+1, 2)
			if !ok || sec > 60 {
				return 0, errTemporal
			}
			t.second, t.prec = sec, PrecSecond
			i += 3
			if i < len(s) && s[i] == '.' {
				j := i + 1
				for j < len(s) && isDigit(s[j]) {
					j++
				}
				frac := s[i+1 : j]
				if frac == "" {
					return 0, errTemporal
				}
				t.fracDigits = len(frac)
				f := frac
				if len(f) > 9 {
					f = f[:9]
				}
				f += strings.Repeat("0", 9-len(f))
				t.nano, _ = strconv.Atoi(f)
				t.prec = PrecMillisecond
				i = j
			}
		}
	}
	return i, nil
}

func parseTZ(s string, i int, t *temporal) (int, error) {
	if i >= len(s) {
		return i, nil
	}
	if s[i] == 'Z' {
		t.hasTZ, t.tz = true, 0
		return i + 1, nil
	}
	if s[i] == '+' || s[i] == '-' {
		h, ok1 := atoiN(s, i+1, 2)
		m, ok2 := atoiN(s, i+4, 2)
		if !ok1 || !ok2 || s[i+3] != ':' || h > 14 || m > 59 {
			return 0, errTemporal
		}
		off := h*60 + m
		if s[i] == '-' {
			off = -off
		}
		t.hasTZ, t.tz = true, off
		return i + 6, nil
	}
	return 0, errTemporal
}

func parseDate(s string) (Date, error) {
	var t temporal
	i, err := parseDatePart(s, &t)
	if err != nil || i != len(s) {
		return Date{}, errTemporal
	}
	return Date{t}, nil
}

func parseDateTime(s string) (DateTime, error) {
	var t temporal
	i, err := parseDatePart(s, &t)
	if err != nil {
		return DateTime{}, err
	}
	if i < len(s) && s[i] == 'T' {
		i++
		if i < len(s) && isDigit(s[i]) {
			if i, err = parseTimePart(s, i, &t); err != nil {
				return DateTime{}, err
			}
		}
		if i, err = parseTZ(s, i, &t); err != nil {
			return DateTime{}, err
		}
	}
	if i != len(s) {
		return DateTime{}, errTemporal
	}
	return DateTime{t}, nil
}

func parseTime(s string) (Time, error) {
	var t temporal
	i, err := parseTimePart(s, 0, &t)
	if err != nil || i != len(s) {
		return Time{}, errTemporal
	}
	return Time{t}, nil
}

// parseTemporalLiteral reads the text after '@' of a date, dateTime or
// time literal.
func parseTemporalLiteral(s string) (Value, error) {
	if strings.HasPrefix(s, "T") {
		var t temporal
		i, err := parseTimePart(s, 1, &t)
		if err != nil {
			return nil, fmt.Errorf("invalid time literal @%s", s)
		}
		if i != len(s) {
			return nil, fmt.Errorf("a time literal cannot have a time zone: @%s", s)
		}
		return Time{t}, nil
	}
	if !strings.Contains(s, "T") {
		d, err := parseDate(s)
		if err != nil {
			return nil, fmt.Errorf("invalid date literal @%s", s)
		}
		return d, nil
	}
	dt, err := parseDateTime(s)
	if err != nil {
		return nil, fmt.Errorf("invalid dateTime literal @%s", s)
	}
	return dt, nil
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func (t temporal) datePart() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%04d", t.year)
	if t.prec >= PrecMonth {
		fmt.Fprintf(&sb, "-%02d", t.month)
	}
	if t.prec >= PrecDay {
		fmt.Fprintf(&sb, "-%02d", t.day)
	}
	return sb.String()
}

func (t temporal) timePart() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%02d", t.hour)
	if t.prec >= PrecMinute {
		fmt.Fprintf(&sb, ":%02d", t.minute)
	}
	if t.prec >= PrecSecond {
		fmt.Fprintf(&sb, ":%02d", t.second)
	}
	if t.prec >= PrecMillisecond {
		n := max(t.fracDigits, 3)
		f := fmt.Sprintf("%09d", t.nano)[:min(n, 9)]
		sb.WriteString("." + f)
	}
	return sb.String()
}

func (t temporal) tzPart() string {
	if !t.hasTZ {
		return ""
	}
	if t.tz == 0 {
		return "Z"
	}
	sign := '+'
	off := t.tz
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%c%02d:%02d", sign, off/60, off%60)
}

func (d Date) String() string { return d.datePart() }

func (d DateTime) String() string {
	s := d.datePart()
	if d.prec >= PrecHour {
		s += "T" + d.timePart() + d.tzPart()
	} else if d.hasTZ {
		s += "T" + d.tzPart()
	}
	return s
}

func (t Time) String() string { return t.timePart() }

// instant returns t as a point in time (missing fields at their minimum)
// in the value's own offset, or UTC when it has none.
func (t temporal) instant(defTZ int) time.Time {
	off := defTZ
	if t.hasTZ {
		off = t.tz
	}
	m, d := t.month, t.day
	if m == 0 {
		m = 1
	}
	if d == 0 {
		d = 1
	}
	return time.Date(t.year, time.Month(m), d, t.hour, t.minute, t.second, t.nano, time.FixedZone("", off*60))
}

// fromInstant rebuilds a temporal of precision prec from a time.Time.
func fromInstant(tm time.Time, prec Precision, hasTZ bool, fracDigits int) temporal {
	_, off := tm.Zone()
	t := temporal{prec: prec, hasTZ: hasTZ, tz: off / 60, fracDigits: fracDigits}
	t.year = tm.Year()
	if prec >= PrecMonth {
		t.month = int(tm.Month())
	}
	if prec >= PrecDay {
		t.day = tm.Day()
	}
	if prec >= PrecHour {
		t.hour = tm.Hour()
	}
	if prec >= PrecMinute {
		t.minute = tm.Minute()
	}
	if prec >= PrecSecond {
		t.second = tm.Second()
	}
	if prec >= PrecMillisecond {
		t.nano = tm.Nanosecond()
	}
	return t
}

// fields returns the comparable fields of t, in UTC when it has a time
// part; seconds and milliseconds form one field.
func (t temporal) fields(isTime bool, defTZ int) [6]int64 {
	if !isTime && t.prec >= PrecHour {
		u := t.instant(defTZ).UTC()
		return [6]int64{int64(u.Year()), int64(u.Month()), int64(u.Day()), int64(u.Hour()), int64(u.Minute()), int64(u.Second())*1e9 + int64(u.Nanosecond())}
	}
	return [6]int64{int64(t.year), int64(t.month), int64(t.day), int64(t.hour), int64(t.minute), int64(t.second)*1e9 + int64(t.nano)}
}

// compareTemporal compares a and b field by field. ok is false when the
// result is unknown because the values have different precisions and are
// equal as far as both go.
func compareTemporal(a, b temporal, isTime bool, defTZ int) (cmp int, ok bool) {
	pa, pb := a.prec, b.prec
	if pa == PrecMillisecond {
		pa = PrecSecond
	}
	if pb == PrecMillisecond {
		pb = PrecSecond
	}
	if !isTime && pa >= PrecHour && pb >= PrecHour && a.hasTZ != b.hasTZ {
		// One is in a known zone and the other is not: unknown order.
		return 0, false
	}
	fa, fb := a.fields(isTime, defTZ), b.fields(isTime, defTZ)
	first, last := 0, 5
	if isTime {
		first = 3
	}
	common := min(pa, pb)
	for i := first; i <= last && Precision(i+1) <= common; i++ {
		if fa[i] != fb[i] {
			if fa[i] < fb[i] {
				return -1, true
			}
			return 1, true
		}
	}
	if pa != pb {
		return 0, false
	}
	return 0, true
}
