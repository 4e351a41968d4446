package fhir

import "testing"

var dateTimeTypes = []string{"date", "dateTime", "instant", "time"}

var dateTimeInputs = []string{
	"", "2024", "0000", "0001", "1000", "2024-", "2024-1", "2024-01", "2024-00", "2024-13", "2024-12",
	"2024-01-01", "2024-01-00", "2024-01-31", "2024-01-32", "2024-02-30", "2024-01-1",
	"2024-01-01T", "2024-01-01T10:00:00", "2024-01-01T10:00:00Z", "2024-01-01T24:00:00Z",
	"2024-01-01T23:59:60Z", "2024-01-01T23:59:61Z", "2024-01-01T23:60:00Z",
	"2024-01-01T10:00:00.123Z", "2024-01-01T10:00:00.Z", "2024-01-01T10:00:00+14:00",
	"2024-01-01T10:00:00+14:01", "2024-01-01T10:00:00-13:59", "2024-01-01T10:00:00+13:60",
	"2024-01-01T10:00:00+1:00", "2024-01-01T10:00:00+01:00Z", "2024-01-01T10:00:00z",
	"2024-01-01 10:00:00Z", "2024-01-01T10:00Z", "10:00:00", "23:59:60", "24:00:00", "10:00",
	"10:00:00.5", "10:00:00.", "10:00:00Z", "1:00:00", "2024-01-01T10:00:00.000000000001+00:00",
	"２０２４", "2024-01-01T10:00:00+00:00\n", "-2024",
}

func TestMatchDateTime(t *testing.T) {
	for _, typ := range dateTimeTypes {
		r := specRegexp(typ)
		for _, s := range dateTimeInputs {
			if got, want := matchDateTime(typ, s), r.MatchString(s); got != want {
				t.Errorf("matchDateTime(%s, %q) = %v, want %v (the spec's expression)", typ, s, got, want)
			}
		}
	}
}

// FuzzDateTime compares the date and time scanners with the spec's regular
// expressions.
func FuzzDateTime(f *testing.F) {
	for i, s := range dateTimeInputs {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, i uint8, s string) {
		typ := dateTimeTypes[int(i)%len(dateTimeTypes)]
		if got, want := matchDateTime(typ, s), specRegexp(typ).MatchString(s); got != want {
			t.Errorf("matchDateTime(%s, %q) = %v, want %v (the spec's expression)", typ, s, got, want)
		}
	})
}
