package fhirpath

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// invariantDefects lists R4 examples that really break an invariant, with
// the constraint and the reason. TestExampleInvariants fails when a listed
// example passes or an unlisted one fails.
var invariantDefects = map[string]string{}

func TestExampleInvariants(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: evaluates every constraint on every R4 example")
	}
	files := corpus.Examples(t)
	pass, parsed := 0, 0
	keys := map[string]int{}
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		root, out := fhir.Parse(data, fhir.Limits{})
		if root == nil || out.HasErrors() {
			continue
		}
		parsed++
		issues := CheckInvariants(root)
		var msgs []string
		for _, is := range issues {
			if is.Severity == fhir.Error || strings.Contains(is.Diagnostics, "could not") {
				msgs = append(msgs, is.Expression+": "+is.Diagnostics)
				k, _, _ := strings.Cut(is.Diagnostics, ":")
				keys[k]++
			}
		}
		_, listed := invariantDefects[name]
		switch {
		case len(msgs) == 0 && listed:
			t.Errorf("%s passes every invariant but is listed as a defect", name)
		case len(msgs) == 0:
			pass++
		case !listed:
			if len(msgs) > 5 {
				msgs = append(msgs[:5], "...")
			}
			t.Errorf("%s: %s", name, strings.Join(msgs, "; "))
		}
	}
	var ks []string
	for k, n := range keys {
		ks = append(ks, k+"="+itoa(n))
	}
	sort.Strings(ks)
	t.Logf("%d of %d valid examples pass all invariants (%d files); failing keys: %s", pass, parsed, len(files), strings.Join(ks, " "))
}

func itoa(i int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + func() string { return fmtInt(i) }())
}

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for i > 0 {
		s = string(rune('0'+i%10)) + s
		i /= 10
	}
	return s
}
