// Package corpus locates the test corpora that live outside the project's
// tree: the R4 definitions and examples (npm package hl7.fhir.r4.examples,
// unpacked into .cache by scripts/r4-package) and ../shared/data.
//
// A test that needs a corpus calls one of these functions: when the corpus
// is missing it skips with a clear message, except under CI (the CI
// environment variable set), where a missing corpus fails the test.
package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// root returns the project's top folder (the one holding go.mod).
func root() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func need(t testing.TB, path, what, how string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found at %s (%s)", what, path, how)
		}
		t.Skipf("%s not found at %s (%s)", what, path, how)
	}
	return path
}

// R4 returns the folder of the unpacked R4 package.
func R4(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("FHIRSEAL_R4_PACKAGE")
	if dir == "" {
		dir = filepath.Join(root(), ".cache", "hl7.fhir.r4.examples-4.0.1", "package")
	}
	return need(t, dir, "the R4 package", "run scripts/r4-package")
}

// Shared returns a folder of ../shared/data beside the project.
func Shared(t testing.TB, name string) string {
	t.Helper()
	return need(t, filepath.Join(root(), "..", "shared", "data", name), "shared corpus "+name, "the shared folder must sit beside the project")
}

// conformanceTypes are the definitional resources of the package; the rest
// are example instances.
var conformanceTypes = map[string]bool{
	"StructureDefinition": true, "ValueSet": true, "CodeSystem": true, "SearchParameter": true,
	"ConceptMap": true, "OperationDefinition": true, "CompartmentDefinition": true,
	"CapabilityStatement": true, "ImplementationGuide": true, "NamingSystem": true,
	"StructureMap": true, "GraphDefinition": true, "MessageDefinition": true, "TerminologyCapabilities": true,
}

// Examples returns the paths of the R4 example instances: every JSON file of
// the package whose name does not start with a conformance resource type.
func Examples(t testing.TB) []string {
	t.Helper()
	dir := R4(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		base := filepath.Base(f)
		typ := base
		if i := indexByte(base, '-'); i >= 0 {
			typ = base[:i]
		}
		if base == "package.json" || base == ".index.json" || conformanceTypes[typ] {
			continue
		}
		out = append(out, f)
	}
	return out
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
