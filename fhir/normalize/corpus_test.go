package normalize

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// example is one valid R4 example instance.
type example struct {
	name string
	data []byte
}

var examplesOnce struct {
	sync.Mutex
	list, big []example
}

// validExamples returns the R4 examples that parse without errors, except
// the few larger than 1 MB (definitional Bundles), which would dominate the
// time; bigExamples returns those.
func validExamples(t testing.TB) []example {
	t.Helper()
	loadExamples(t)
	return examplesOnce.list
}

func bigExamples(t testing.TB) []example {
	t.Helper()
	loadExamples(t)
	return examplesOnce.big
}

func loadExamples(t testing.TB) {
	t.Helper()
	files := corpus.Examples(t)
	examplesOnce.Lock()
	defer examplesOnce.Unlock()
	if examplesOnce.list != nil {
		return
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n, out := fhir.Parse(data, fhir.Limits{}); n == nil || out.HasErrors() {
			continue
		}
		ex := example{filepath.Base(f), data}
		if len(data) > 1<<20 {
			examplesOnce.big = append(examplesOnce.big, ex)
			continue
		}
		examplesOnce.list = append(examplesOnce.list, ex)
	}
}

func testProfiles(t testing.TB) map[string]*Profile {
	t.Helper()
	ps, err := LoadProfiles("testdata/profiles")
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func mustParse(t testing.TB, data []byte) *fhir.Node {
	t.Helper()
	n, out := fhir.Parse(data, fhir.Limits{})
	if n == nil || out.HasErrors() {
		t.Fatalf("Parse: %s", out)
	}
	return n
}

// TestIdempotent normalises every valid R4 example with the default
// profile: the result must validate, and normalising it again must change
// nothing and report nothing. -short leaves out the examples over 1 MB.
func TestIdempotent(t *testing.T) {
	exs := validExamples(t)
	if !testing.Short() {
		exs = append(exs[:len(exs):len(exs)], bigExamples(t)...)
	}
	changed, total := 0, 0
	rules := map[string]int{}
	for _, ex := range exs {
		n := mustParse(t, ex.data)
		cs, err := Default().Normalize(n)
		if err != nil {
			t.Fatalf("%s: Normalize: %v", ex.name, err)
		}
		if len(cs) > 0 {
			changed++
			total += len(cs)
		}
		for _, c := range cs {
			rules[c.Rule]++
		}
		once := fhir.Marshal(n)
		n2, out := fhir.Parse(once, fhir.Limits{})
		if n2 == nil || out.HasErrors() {
			t.Errorf("%s: normalised form does not validate: %s", ex.name, out)
			continue
		}
		again, _ := Default().Normalize(n2)
		if len(again) > 0 {
			t.Errorf("%s: Normalize(normalised) = %v, want no changes", ex.name, again)
		}
		if twice := fhir.Marshal(n2); !bytes.Equal(once, twice) {
			t.Errorf("%s: normalising twice changed the bytes", ex.name)
		}
	}
	t.Logf("%d valid examples; the default profile changed %d of them (%d changes: %v)", len(exs), changed, total, rules)
}

// TestCorpus checks every dialect variant of every valid R4 example:
// normalising the variant with its source profile gives exactly the
// canonical form and reports exactly the edits the dialect made.
func TestCorpus(t *testing.T) {
	exs := validExamples(t)
	ps := testProfiles(t)
	dialects := []struct {
		client, style string
	}{
		{"acme-ehr", "oid"},
		{"northwind-clinic", "name"},
		{"harbour-health", "legacy"},
	}
	variants, withEdits, edits := 0, 0, 0
	perRule := map[string]int{}
	perExample := map[string]int{}
	for _, ex := range exs {
		for _, dl := range dialects {
			p := ps[dl.client]
			canon := mustParse(t, ex.data)
			if _, err := p.Normalize(canon); err != nil {
				t.Fatal(err)
			}
			want := fhir.Marshal(canon)
			if n, out := fhir.Parse(want, fhir.Limits{}); n == nil || out.HasErrors() {
				t.Errorf("%s/%s: canonical form does not validate: %s", ex.name, dl.client, out)
				continue
			}
			if cs, _ := p.Normalize(mustParse(t, want)); len(cs) > 0 {
				t.Errorf("%s/%s: Normalize(canonical) = %v, want no changes", ex.name, dl.client, cs)
				continue
			}
			v := mustParse(t, want)
			d := newDialect(p, dl.style, dl.client+"/"+ex.name)
			d.degrade(v)
			sent := fhir.Marshal(v)
			variants++
			if len(d.changes) > 0 {
				withEdits++
				perExample[ex.name]++
				edits += len(d.changes)
			}
			for _, c := range d.changes {
				perRule[dl.client+" "+c.Rule]++
			}
			got, changes, out := p.Parse(sent, fhir.Limits{})
			if got == nil || out.HasErrors() {
				t.Errorf("%s/%s: normalised variant does not validate: %s", ex.name, dl.client, out)
				continue
			}
			if b := fhir.Marshal(got); !bytes.Equal(b, want) {
				t.Errorf("%s/%s: Normalize(variant) =\n%s\nwant\n%s", ex.name, dl.client, diffHint(b, want), diffHint(want, b))
			}
			if g, w := sortChanges(changes), sortChanges(d.changes); !sameChanges(g, w) {
				t.Errorf("%s/%s: changes = %v, want %v", ex.name, dl.client, g, w)
			}
		}
	}
	both := 0
	for _, k := range perExample {
		if k >= 2 {
			both++
		}
	}
	if both < 100 {
		t.Errorf("only %d examples have two edited variants, want at least 100", both)
	}
	keys := make([]string, 0, len(perRule))
	for k := range perRule {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "\n  %-40s %6d", k, perRule[k])
	}
	summary := fmt.Sprintf("%d examples, %d variants, %d with edits, %d examples with two edited variants, %d edits:%s\n", len(exs), variants, withEdits, both, edits, sb.String())
	t.Log(summary)
	golden(t, "testdata/corpus.golden", []byte(summary))
}

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// golden compares got with the golden file, or rewrites it under -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("corpus summary =\n%s\nwant (%s)\n%s", got, file, want)
	}
}

func sameChanges(a, b []Change) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// diffHint returns the part of a around its first difference from b.
func diffHint(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo, hi := max(0, i-120), min(len(a), i+120)
	return "..." + string(a[lo:hi]) + "..."
}
