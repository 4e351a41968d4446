package fhir_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode"

	"github.com/fhirseal/fhirseal/fhir"
)

// FuzzBase64 checks the base64Binary format check against the standard
// library's decoder applied to the value without white space.
func FuzzBase64(f *testing.F) {
	for _, s := range []string{"aGVsbG8=", "aGVsbA==", "aGVs", "aGVsbG8", "aGV=bG8=", "a===", "====", "aG Vs\nbG8=", "aGVsbG8=aGVs", "aGVs\u00a0bG8=", "é", "AB=C", "QQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		clean := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
		_, err := base64.StdEncoding.DecodeString(clean)
		got := fhir.CheckFormat("base64Binary", s) == ""
		if got != (err == nil) {
			t.Errorf("CheckFormat(base64Binary, %q) valid = %v, decoder says %v", s, got, err)
		}
	})
}
