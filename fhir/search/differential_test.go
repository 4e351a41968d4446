package search

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/fhirpath"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// referenceDir holds the Node side of TestDifferentialExtraction:
// fhirpath.js (HL7's reference FHIRPath engine) pinned by package.json and
// the committed package-lock.json, and extract.mjs, which evaluates jobs
// with it.
const referenceDir = "testdata/fhirpathjs"

// A knownDifference is a way in which fhirpath.js and fhirseal differ on
// R4 search expressions for a reason that is understood. It comes in two
// forms.
//
// With rewrite set, it is an error fhirpath.js raises on R4 expressions: a
// pair on which fhirpath.js raises a matching error is evaluated again by
// fhirpath.js with the expression rewritten into a form it accepts that
// means what fhirseal takes the original to mean, and it counts as
// explained only when those results agree with fhirseal's entries; pairs
// is how many pairs of the R4 examples it explains.
//
// With keys set, it lists the pairs ("file|param") that still differ after
// any rewrite, for the reason given.
type knownDifference struct {
	name    string
	why     string
	err     *regexp.Regexp      // the error fhirpath.js raises (optional with keys)
	rewrite func(string) string // the expression fhirpath.js is given instead
	pairs   int
	keys    []string
}

// knownDifferences lists every explained difference. The test fails when a
// pair differs for any other reason, when a rewritten expression still
// differs (unless the pair is listed), when a rewrite explains more or
// fewer pairs than counted, and when a listed pair no longer differs
// (update the table then).
var knownDifferences = []knownDifference{
	{
		name: "as on several items",
		why: "FHIRPath N1 defines \"x as T\" and x.as(T) on a single item only and fhirpath.js raises an error " +
			"for more (http://hl7.org/fhirpath/N1/#as-type-specifier); R4 search expressions apply \"as\" to " +
			"repeating elements (useContext.value, component.value, ingredient.item, relatesTo.target, " +
			"characteristic.value) to pick the items of one type, which fhirseal evaluates with " +
			"fhirpath.Options.LenientAs as ofType(T). fhirpath.js is given the expression with ofType(T).",
		err:     regexp.MustCompile(`^Expected singleton on left side of 'as'`),
		rewrite: asToOfType,
		pairs:   111,
	},
	{
		name: "hasExtension(url)",
		why: "hasExtension() is used by the R4 expression of QuestionnaireResponse's item-subject but is " +
			"neither a FHIRPath N1 function nor one of FHIR's additions (R4 fhirpath.html#functions); fhirpath.js " +
			"does not implement it, fhirseal reads it as extension(url).exists(). fhirpath.js is given that.",
		err:     regexp.MustCompile(`^Not implemented: hasExtension$`),
		rewrite: hasExtensionToExists,
		pairs:   5,
	},
	{
		name: "Quantity with a comparator in a union",
		why: "\"|\" removes duplicates by equality. fhirpath.js refuses to turn a FHIR Quantity that has a " +
			"comparator into a System Quantity and so fails on the union of Observation-f205's component values " +
			"(\">60 mL/min\" and \"60 mL/min\"); fhirseal compares them as System Quantities, ignoring the " +
			"comparator, and keeps one. The index entries are the same either way (entries carry no comparator).",
		err: regexp.MustCompile(`^Cannot convert a FHIR.Quantity that has a comparator$`),
		keys: []string{
			"Observation-f205.json|combo-value-quantity",
			"Observation-f205.json|component-value-quantity",
		},
	},
	{
		name: "decimal equality in a union",
		why: "\"|\" removes duplicates by equality. Observation-decimal's component values 1.0 g and 1.00 g " +
			"(no UCUM code, so compared as elements) are equal for fhirpath.js, which compares decimals as " +
			"numbers, and different for fhirseal, which compares the elements' members by their literal text; " +
			"fhirpath.js also finds 1E-22 g equal to 1.000000000000000000E-245 g (its decimals keep 8 digits " +
			"of scale). fhirseal therefore indexes the 1.00 g and 1E-245 g values too.",
		keys: []string{
			"Observation-decimal.json|combo-code-value-concept",
			"Observation-decimal.json|combo-code-value-quantity",
			"Observation-decimal.json|combo-value-quantity",
			"Observation-decimal.json|component-value-quantity",
		},
	},
}

// listedDifference returns the index of the knownDifferences entry that
// lists key, or -1. An entry with err set applies only when fhirpath.js
// failed with a matching error (errMsg).
func listedDifference(key, errMsg string) int {
	for k, d := range knownDifferences {
		if slices.Contains(d.keys, key) && (d.err == nil || d.err.MatchString(errMsg)) {
			return k
		}
	}
	return -1
}

var (
	asOperator   = regexp.MustCompile(`([A-Za-z][A-Za-z0-9.]*) as ([A-Za-z]+)`)
	asFunction   = regexp.MustCompile(`\.as\(([A-Za-z]+)\)`)
	hasExtension = regexp.MustCompile(`\bhasExtension\(('[^']*')\)`)
)

// asToOfType rewrites "path as T" and path.as(T) to path.ofType(T). The
// operator form in R4 search expressions always has a plain path on its
// left.
func asToOfType(s string) string {
	s = asOperator.ReplaceAllString(s, "$1.ofType($2)")
	return asFunction.ReplaceAllString(s, ".ofType($1)")
}

func hasExtensionToExists(s string) string {
	return hasExtension.ReplaceAllString(s, "extension($1).exists()")
}

// pair is one example × search parameter.
type pair struct {
	file  string
	res   *fhir.Node
	param *fhir.SearchParam
	comps []*fhir.SearchParam // a composite's component parameters
}

func (p pair) key() string { return filepath.Base(p.file) + "|" + p.param.Name }

// job is what extract.mjs evaluates for a pair.
type job struct {
	File       string   `json:"file"`
	Expression string   `json:"expression"`
	Components []string `json:"components,omitempty"`
}

func (p pair) job(rewrite func(string) string) job {
	j := job{File: p.file, Expression: rewrite(p.param.Expression)}
	for _, c := range p.param.Components {
		j.Components = append(j.Components, rewrite(c.Expression))
	}
	return j
}

// TestDifferentialExtraction compares, for every R4 example instance and
// every search parameter of its type, the index entries fhirseal extracts
// (ExtractParam) with the entries derived by the same conversion rules
// (appendValue) from the results of fhirpath.js evaluating the same
// expression with the R4 model. Because the conversion is shared, every
// difference is one of FHIRPath evaluation: a result missing, extra, of
// another type or with another value, or an error on one side only.
//
// What is compared, per parameter kind (see entryString):
//   - token: system|code and the display text kept for :text;
//   - string: the normalised text of each string or HumanName/Address part;
//   - reference: the local Type/id or the absolute reference;
//   - date: the [low, high) range of the value at its precision;
//   - number: the implicit range of the decimal literal (its exact text
//     decides the precision);
//   - quantity: the value's implicit range, the unit's system and code;
//   - uri: the URI.
//
// Composite parameters have no index entries of their own (Extract skips
// them); for them the test evaluates the composite's expression and each
// component's expression on every result in both engines and compares the
// rows of component entries. Special parameters (near, _text, _content,
// ...) have no FHIRPath-derived index and are not compared.
//
// The reference engine needs a resolve() for the "resolve() is Type" tests
// of reference parameters; extract.mjs gives it the rule of R4
// search.html#reference (the type named by a literal reference), which is
// what fhirseal's fhirpath.ReferenceTypeResolver implements.
func TestDifferentialExtraction(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: evaluates every search parameter on every R4 example in two engines")
	}
	if os.Getenv("FHIRSEAL_INTEGRATION") == "" && os.Getenv("CI") == "" {
		t.Skip("set FHIRSEAL_INTEGRATION=1 to run the differential test against fhirpath.js (needs node and npm)")
	}
	files := corpus.Examples(t)
	node := installReference(t)

	// Parse the examples and list the pairs, grouped by file.
	var pairs []pair
	examples, invalid, composites := 0, 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, out := fhir.Parse(data, fhir.Limits{})
		if res == nil {
			t.Errorf("%s: does not parse: %v", filepath.Base(f), out)
			continue
		}
		if out.HasErrors() {
			// A few R4 examples break rules of the specification (txt-2,
			// cardinalities); their trees are complete and still compared.
			invalid++
		}
		examples++
	params:
		for _, p := range fhir.SearchParamsFor(res.Type) {
			if p.Expression == "" || p.Type == "special" {
				continue
			}
			var comps []*fhir.SearchParam
			if p.Type == "composite" {
				for _, c := range p.Components {
					cp := fhir.SearchParamByURL(c.Definition)
					if cp == nil || KindOf(cp.Type) == 0 {
						t.Errorf("composite %s: component %s is not a known parameter with an index kind", p.Name, c.Definition)
						continue params
					}
					comps = append(comps, cp)
				}
			} else if KindOf(p.Type) == 0 {
				t.Errorf("parameter %s has unknown type %q", p.Name, p.Type)
				continue
			}
			if p.Type == "composite" {
				composites++
			}
			pairs = append(pairs, pair{f, res, p, comps})
		}
	}
	if examples < 700 {
		t.Errorf("only %d examples compared; the R4 package has about 720", examples)
	}

	identity := func(s string) string { return s }
	jobs := make([]job, len(pairs))
	for i, p := range pairs {
		jobs[i] = p.job(identity)
	}
	results := runReference(t, node, jobs)

	unexplained := 0
	report := func(p pair, got, want []string, detail string) {
		unexplained++
		if unexplained > 100 {
			return // counted below
		}
		t.Errorf("%s (%s): fhirseal and fhirpath.js differ\nexpression: %s\nfhirseal:    %q\nfhirpath.js: %q\nfhirseal raw: %s\n%s",
			p.key(), p.param.Type, p.param.Expression, got, want, goRaw(p.res, p.param.Expression), detail)
	}

	// First pass: the expressions as written.
	agree, nonEmpty, bothFail := 0, 0, 0
	type retry struct {
		p    pair
		kd   int
		orig string // fhirpath.js's error on the original
	}
	var retries []retry
	listed := make([][]string, len(knownDifferences)) // listed pairs found differing
	for i, p := range pairs {
		got := fhirsealSide(p)
		want, detail := referenceSide(t, p, results[i])
		if equalSorted(got, want) {
			agree++
			switch {
			case slices.Equal(got, []string{"error"}):
				bothFail++
				t.Logf("%s: both engines fail on %s (%s)", p.key(), p.param.Expression, results[i].Error)
			case len(got) > 0:
				nonEmpty++
			}
			continue
		}
		kd := -1
		for k, d := range knownDifferences {
			if d.rewrite != nil && results[i].Error != "" && d.err.MatchString(results[i].Error) {
				kd = k
				break
			}
		}
		if kd >= 0 {
			retries = append(retries, retry{p, kd, results[i].Error})
			continue
		}
		if k := listedDifference(p.key(), results[i].Error); k >= 0 {
			listed[k] = append(listed[k], p.key())
			continue
		}
		report(p, got, want, detail)
	}

	// Second pass: known differences, with the rewritten expressions.
	explained := make([][]string, len(knownDifferences))
	if len(retries) > 0 {
		jobs = jobs[:0]
		for _, r := range retries {
			jobs = append(jobs, r.p.job(knownDifferences[r.kd].rewrite))
		}
		results = runReference(t, node, jobs)
		for i, r := range retries {
			got := fhirsealSide(r.p)
			want, detail := referenceSide(t, r.p, results[i])
			if !equalSorted(got, want) {
				if k := listedDifference(r.p.key(), results[i].Error); k >= 0 {
					listed[k] = append(listed[k], r.p.key())
					continue
				}
				report(r.p, got, want, fmt.Sprintf("fhirpath.js failed on the expression (%s) and differs on it rewritten for %q: %s\n%s",
					r.orig, knownDifferences[r.kd].name, jobs[i].Expression, detail))
				continue
			}
			explained[r.kd] = append(explained[r.kd], r.p.key())
		}
	}

	explainedN := 0
	for k, d := range knownDifferences {
		n := len(explained[k]) + len(listed[k])
		explainedN += n
		t.Logf("known difference %q: %d pairs", d.name, n)
		if d.rewrite != nil && len(explained[k]) != d.pairs {
			t.Errorf("known difference %q explains %d pairs, knownDifferences says %d: %s",
				d.name, len(explained[k]), d.pairs, strings.Join(explained[k], ", "))
		}
		for _, key := range d.keys {
			if !slices.Contains(listed[k], key) {
				t.Errorf("known difference %q lists %s, which no longer differs (or was not compared): remove it", d.name, key)
			}
		}
	}
	t.Logf("%d examples (%d of them invalid but parsed), %d example × parameter pairs (%d of them composite): %d agree as written (%.2f%%; %d with entries, %d both failing); %d differ for a known reason (agreeing after the rewrite when there is one); %d differ unexplained",
		examples, invalid, len(pairs), composites, agree, percent(agree, len(pairs)), nonEmpty, bothFail, explainedN, unexplained)
}

func percent(n, of int) float64 { return 100 * float64(n) / float64(max(of, 1)) }

func equalSorted(a, b []string) bool {
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// fhirsealSide returns fhirseal's entries for a pair: ExtractParam's, or
// "error" when the expression fails (ExtractParam then skips the
// parameter); for a composite, its rows.
func fhirsealSide(p pair) []string {
	if p.param.Type == "composite" {
		return compositeRows(p.res, p.param, p.comps)
	}
	if goFails(p.res, p.param.Expression) {
		return []string{"error"}
	}
	var out []string
	for _, e := range ExtractParam(p.res, p.param) {
		out = append(out, entryString(e))
	}
	return out
}

// referenceSide returns the entries derived from fhirpath.js's results for
// a pair, and its raw results for messages.
func referenceSide(t *testing.T, p pair, r refResult) ([]string, string) {
	t.Helper()
	switch {
	case r.Error != "":
		return []string{"error"}, "fhirpath.js: " + r.Error
	case p.param.Type == "composite":
		return referenceRows(t, p.param, p.comps, r.Rows)
	}
	return referenceEntries(t, p.param.Name, KindOf(p.param.Type), r.Results)
}

// TestFHIRPathJSLockfile checks that the reference engine's lock file names
// no host (the .npmrc beside it sets omit-lockfile-registry-resolved;
// strip-lockfile.mjs removes funding links) and that package.json pins
// exact versions.
func TestFHIRPathJSLockfile(t *testing.T) {
	lock, err := os.ReadFile(filepath.Join(referenceDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`"resolved"`, "://"} {
		if i := bytes.Index(lock, []byte(bad)); i >= 0 {
			t.Errorf("package-lock.json contains %q at byte %d: regenerate it with `npm run relock` in %s", bad, i, referenceDir)
		}
	}
	pkg, err := os.ReadFile(filepath.Join(referenceDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, loose := range []string{`"^`, `"~`, `"*"`, `"latest"`} {
		if bytes.Contains(pkg, []byte(loose)) {
			t.Errorf("package.json has a version range (%s); pin exact versions", loose)
		}
	}
}

// installReference finds node and npm and runs `npm ci` in referenceDir
// when node_modules is missing or older than package-lock.json. It returns
// the path of node. Without node or npm the test skips, except under CI.
func installReference(t *testing.T) string {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		msg := "node and npm are needed to run fhirpath.js (apt-get install nodejs npm)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	lock, err := os.Stat(filepath.Join(referenceDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	// npm ci leaves a copy of the lock file in node_modules.
	if inst, err := os.Stat(filepath.Join(referenceDir, "node_modules", ".package-lock.json")); err == nil && !inst.ModTime().Before(lock.ModTime()) {
		return node
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = referenceDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in fhir/search/%s: %v\n%s", referenceDir, err, out)
	}
	return node
}

// refItem is one result of fhirpath.js: its FHIRPath type ("FHIR.Coding",
// "System.String") and JSON value, with the extensions of a primitive.
type refItem struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
	Ext   json.RawMessage `json:"ext"`
}

type refResult struct {
	Results []refItem     `json:"results"`
	Rows    [][][]refItem `json:"rows"`
	Error   string        `json:"error"`
}

// runReference writes the jobs to a file, runs extract.mjs on it and
// decodes its output.
func runReference(t *testing.T, node string, jobs []job) []refResult {
	t.Helper()
	in := filepath.Join(t.TempDir(), "jobs.json")
	b, err := json.Marshal(map[string]any{"jobs": jobs})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// Exact decimal literals need JSON.parse source text access, behind a
	// V8 flag in some Node versions; without it fhirpath.js sees
	// JavaScript numbers and "1.50" would read as "1.5".
	args := []string{"extract.mjs", in}
	const flag = "--harmony-json-parse-with-source"
	if exec.Command(node, flag, "-e", "").Run() == nil {
		args = append([]string{flag}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = referenceDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node extract.mjs: %v\n%s", err, stderr.Bytes())
	}
	if !strings.HasPrefix(stderr.String(), "decimal literals: exact source text") {
		t.Fatalf("extract.mjs cannot keep decimal literals exactly (%s); use a Node version with JSON.parse source text access", strings.TrimSpace(stderr.String()))
	}
	var results []refResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("decoding extract.mjs output: %v", err)
	}
	if len(results) != len(jobs) {
		t.Fatalf("extract.mjs returned %d results for %d jobs", len(results), len(jobs))
	}
	return results
}

// referenceEntries converts fhirpath.js results to index entries with the
// rules of Extract, and returns them described, with the raw results for
// messages.
func referenceEntries(t *testing.T, name string, k Kind, items []refItem) ([]string, string) {
	t.Helper()
	var out []string
	for _, it := range items {
		v, err := referenceValue(it)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, e := range appendValue(nil, name, k, v) {
			out = append(out, entryString(e))
		}
	}
	raw, _ := json.Marshal(items)
	return out, "fhirpath.js raw: " + string(raw)
}

// referenceRows converts the component results of a composite to rows of
// entries, one string per row.
func referenceRows(t *testing.T, p *fhir.SearchParam, comps []*fhir.SearchParam, rows [][][]refItem) ([]string, string) {
	t.Helper()
	var out []string
	for _, row := range rows {
		var parts []string
		for i, items := range row {
			es, _ := referenceEntries(t, p.Name, KindOf(comps[i].Type), items)
			sort.Strings(es)
			parts = append(parts, "{"+strings.Join(es, "; ")+"}")
		}
		out = append(out, strings.Join(parts, " $ "))
	}
	raw, _ := json.Marshal(rows)
	return out, "fhirpath.js raw rows: " + string(raw)
}

// compositeRows evaluates a composite with fhirseal's engine the way
// appendParam evaluates other parameters: the composite's expression on the
// resource, then each component's expression on each result.
func compositeRows(res *fhir.Node, p *fhir.SearchParam, comps []*fhir.SearchParam) []string {
	e := expr(p.Expression)
	if e == nil {
		return []string{"error"}
	}
	opts := evalOptions
	opts.Resource = res
	vals, err := e.Evaluate(res, &opts)
	if err != nil {
		return []string{"error"}
	}
	var out []string
	for _, v := range vals {
		var parts []string
		for i, c := range p.Components {
			ce := expr(c.Expression)
			if ce == nil {
				return []string{"error"}
			}
			cv, err := ce.EvaluateCollection(fhirpath.Collection{v}, &opts)
			if err != nil {
				return []string{"error"}
			}
			var es []string
			for _, x := range cv {
				for _, en := range appendValue(nil, p.Name, KindOf(comps[i].Type), x) {
					es = append(es, entryString(en))
				}
			}
			sort.Strings(es)
			parts = append(parts, "{"+strings.Join(es, "; ")+"}")
		}
		out = append(out, strings.Join(parts, " $ "))
	}
	return out
}

// referenceValue turns one fhirpath.js result into a FHIRPath value of
// fhirseal's engine. A FHIR-typed result is parsed as the value of a
// Parameters parameter (value[x] takes every data type, resource any
// resource), so that it becomes the same tree node the resource would
// hold; System values map to their System types.
func referenceValue(it refItem) (fhirpath.Value, error) {
	typ, ok := strings.CutPrefix(it.Type, "FHIR.")
	if !ok {
		var s string
		switch it.Type {
		case "System.String", "System.Date", "System.DateTime", "System.Time":
			if err := json.Unmarshal(it.Value, &s); err != nil {
				return nil, err
			}
			if it.Type != "System.String" {
				// Not one of the values Extract converts; kept visible.
				return fhirpath.String(it.Type + ":" + s), nil
			}
			return fhirpath.String(s), nil
		case "System.Boolean":
			return fhirpath.Boolean(string(it.Value) == "true"), nil
		case "System.Integer":
			i, err := strconv.ParseInt(string(it.Value), 10, 64)
			return fhirpath.Integer(i), err
		case "System.Decimal":
			return fhirpath.ParseDecimal(string(it.Value))
		}
		return nil, fmt.Errorf("fhirpath.js result of unexpected type %s", it.Type)
	}
	var member string
	switch td := fhir.Type(typ); {
	case td != nil && td.Kind == fhir.KindResource:
		member = `"resource":` + string(it.Value)
	case typ == "Extension":
		// Not a type of value[x]; a parameter has extensions of its own.
		member = `"extension":[` + string(it.Value) + `]`
	case td != nil:
		suffix := strings.ToUpper(typ[:1]) + typ[1:]
		switch typ {
		case "SimpleQuantity", "MoneyQuantity":
			suffix = "Quantity"
		}
		member = `"value` + suffix + `":` + string(it.Value)
		if len(it.Ext) > 0 && string(it.Ext) != "null" {
			member += `,"_value` + suffix + `":` + string(it.Ext)
		}
	default:
		// A backbone element ("FHIR.Patient.contact" or similar): no
		// parameter can hold it, and Extract converts none.
		return fhirpath.Element{Node: &fhir.Node{Type: "BackboneElement"}}, nil
	}
	doc := `{"resourceType":"Parameters","parameter":[{"name":"v",` + member + `}]}`
	n, out := fhir.Parse([]byte(doc), fhir.Limits{})
	if n == nil {
		return nil, fmt.Errorf("fhirpath.js result %s %s does not parse: %v", it.Type, it.Value, out)
	}
	p := n.First("parameter")
	if p == nil {
		return nil, fmt.Errorf("fhirpath.js result %s %s: no parameter", it.Type, it.Value)
	}
	for _, f := range p.Fields {
		if f.Name != "name" && len(f.Nodes) == 1 && (f.Name != "extension" || typ == "Extension") {
			return fhirpath.Element{Node: f.Nodes[0]}, nil
		}
	}
	return nil, fmt.Errorf("fhirpath.js result %s %s: not read as a value", it.Type, it.Value)
}

// entryString writes an entry as the comparable typed value of its kind.
func entryString(e Entry) string {
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	switch e.Kind {
	case Token:
		return fmt.Sprintf("token %s|%s text=%q", e.System, e.Code, e.Value)
	case String:
		return fmt.Sprintf("string %q", e.Value)
	case Reference:
		return "reference " + e.Value
	case URI:
		return "uri " + e.Value
	case Date:
		return fmt.Sprintf("date [%d, %d)", e.Low, e.High)
	case Number:
		return fmt.Sprintf("number [%s, %s]", num(e.LowNum), num(e.HighNum))
	case Quantity:
		return fmt.Sprintf("quantity [%s, %s] %s|%s unit=%q", num(e.LowNum), num(e.HighNum), e.System, e.Code, e.Value)
	}
	return fmt.Sprintf("kind %d %+v", e.Kind, e)
}

// goFails reports whether fhirseal's engine fails to compile or evaluate
// the expression on res.
func goFails(res *fhir.Node, expression string) bool {
	e := expr(expression)
	if e == nil {
		return true
	}
	opts := evalOptions
	_, err := e.Evaluate(res, &opts)
	return err != nil
}

// goRaw returns fhirseal's raw FHIRPath results for a message.
func goRaw(res *fhir.Node, expression string) string {
	e := expr(expression)
	if e == nil {
		return "(does not compile)"
	}
	opts := evalOptions
	vals, err := e.Evaluate(res, &opts)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(fhirpath.AppendJSON(nil, vals))
}
