package normalize

import (
	"strings"
	"time"
	_ "time/tzdata" // time zones work on images without a zoneinfo database

	"github.com/fhirseal/fhirseal/fhir"
)

// dates gives dateTimes that have a time but no UTC offset the offset of
// the source's time zone at that local time, and writes instants in UTC
// when the profile asks for it (source profiles do unless they say
// utc_instants: false; the default profile does not, see Default).
//
// The digits of the value are kept: only the offset is added, and an
// instant keeps its fraction of a second exactly as sent. Around a daylight
// saving change a local time that happens twice gets the earlier offset
// (Go's time.Date rule), and one that does not exist is moved by the
// change; a source that cares sends offsets.
func (r *run) dates(res *fhir.Node) {
	walk(res, r.root(res), func(n *fhir.Node, p path) {
		if n.Kind != fhir.StringValue {
			return
		}
		switch n.Type {
		case "dateTime":
			if r.p.loc == nil {
				return
			}
			if v, ok := withOffset(n.Value, r.p.loc); ok {
				r.record(p.String(), n.Value, v, RuleDateTimeZone)
				n.Value = v
			}
		case "instant":
			if !r.p.utcInstants {
				return
			}
			if v, ok := instantUTC(n.Value); ok {
				r.record(p.String(), n.Value, v, RuleInstantUTC)
				n.Value = v
			}
		}
	})
}

const localLayout = "2006-01-02T15:04:05.999999999"

// withOffset returns s with the UTC offset of loc appended, when s is a
// date and time without an offset.
func withOffset(s string, loc *time.Location) (string, bool) {
	t := strings.IndexByte(s, 'T')
	if t < 0 || strings.HasSuffix(s, "Z") || strings.ContainsAny(s[t:], "+-") {
		return "", false
	}
	lt, err := time.ParseInLocation(localLayout, s, loc)
	if err != nil {
		return "", false
	}
	// A time that does not exist locally (skipped by a daylight saving
	// change) moves; such a value is left alone.
	if len(s) < 19 || lt.Format("2006-01-02T15:04:05") != s[:19] {
		return "", false
	}
	return s + lt.Format("-07:00"), true
}

// instantUTC returns an instant with an offset other than Z written in UTC,
// keeping its fraction digits.
func instantUTC(s string) (string, bool) {
	if len(s) < 20 || strings.HasSuffix(s, "Z") {
		return "", false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", false
	}
	frac := ""
	if len(s) > 19 && s[19] == '.' {
		end := 20
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		frac = s[19:end]
	}
	u := t.UTC()
	if u.Year() < 1 || u.Year() > 9999 {
		return "", false
	}
	return u.Format("2006-01-02T15:04:05") + frac + "Z", true
}
