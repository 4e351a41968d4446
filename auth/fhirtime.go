package auth

import (
	"errors"
	"time"
)

// parseFHIRTime parses a FHIR date, dateTime or instant and returns the
// interval [lo, hi) it denotes: "2015" is the whole year, "2015-02" the
// month, "2015-02-07" the day (UTC, as FHIR leaves the zone of a date
// open), and a time with seconds a single instant (hi = lo + 1 ns).
func parseFHIRTime(s string) (lo, hi time.Time, err error) {
	switch len(s) {
	case 4:
		t, err := time.Parse("2006", s)
		if err != nil {
			return lo, hi, errBadDate
		}
		return t, t.AddDate(1, 0, 0), nil
	case 7:
		t, err := time.Parse("2006-01", s)
		if err != nil {
			return lo, hi, errBadDate
		}
		return t, t.AddDate(0, 1, 0), nil
	case 10:
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return lo, hi, errBadDate
		}
		return t, t.AddDate(0, 0, 1), nil
	}
	if len(s) < 20 || s[10] != 'T' {
		return lo, hi, errBadDate
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return lo, hi, errBadDate
	}
	return t, t.Add(time.Nanosecond), nil
}

var errBadDate = errors.New("malformed FHIR date")

// parsePeriod returns the interval [from, to) covered by a FHIR Period.
// A missing start or end leaves that side open (zero time).
func parsePeriod(p *Period) (from, to time.Time, err error) {
	if p == nil {
		return from, to, nil
	}
	if p.Start != "" {
		if from, _, err = parseFHIRTime(p.Start); err != nil {
			return from, to, err
		}
	}
	if p.End != "" {
		if _, to, err = parseFHIRTime(p.End); err != nil {
			return from, to, err
		}
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, errors.New("period ends before it starts")
	}
	return from, to, nil
}

// within reports whether t lies in [from, to), zero bounds being open.
func within(t, from, to time.Time) bool {
	if !from.IsZero() && t.Before(from) {
		return false
	}
	if !to.IsZero() && !t.Before(to) {
		return false
	}
	return true
}
