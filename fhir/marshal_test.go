package fhir

import (
	"bytes"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// FuzzAppendString checks Marshal's string quoting against jsontext's.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "tab\t", "\x00", "é", "\u2028", "<b>&amp;</b>", "\xff", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString([]byte("x"), s)
		want, _ := jsontext.AppendQuote([]byte("x"), s)
		if !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %q, want %q", s, got, want)
		}
	})
}
