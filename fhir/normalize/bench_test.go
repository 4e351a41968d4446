package normalize

import (
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
)

// BenchmarkNormalize measures normalisation alone (no parsing) over the
// valid R4 examples, per resource, with the default profile and with the
// acme-ehr profile. Each iteration normalises a fresh copy of the parsed
// tree; BenchmarkClone measures the copying, to subtract.
func BenchmarkNormalize(b *testing.B) {
	trees := benchTrees(b)
	ps := testProfiles(b)
	for _, tc := range []struct {
		name string
		p    *Profile
	}{{"default", Default()}, {"acme-ehr", ps["acme-ehr"]}, {"northwind-clinic", ps["northwind-clinic"]}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, n := range trees {
					if _, err := tc.p.Normalize(n.Clone()); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*len(trees)), "µs/resource")
		})
	}
}

func BenchmarkClone(b *testing.B) {
	trees := benchTrees(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, n := range trees {
			_ = n.Clone()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*len(trees)), "µs/resource")
}

func benchTrees(b *testing.B) []*fhir.Node {
	b.Helper()
	var trees []*fhir.Node
	for _, ex := range validExamples(b) {
		trees = append(trees, mustParse(b, ex.data))
	}
	return trees
}

// BenchmarkNormalizeCanonical measures the pipeline on resources that are
// already canonical for the profile (the common case for a well-behaved
// source): normalised once up front, then again in place, which changes
// nothing and needs no copy.
func BenchmarkNormalizeCanonical(b *testing.B) {
	trees := benchTrees(b)
	ps := testProfiles(b)
	for _, tc := range []struct {
		name string
		p    *Profile
	}{{"default", Default()}, {"acme-ehr", ps["acme-ehr"]}, {"northwind-clinic", ps["northwind-clinic"]}} {
		b.Run(tc.name, func(b *testing.B) {
			for _, n := range trees {
				if _, err := tc.p.Normalize(n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, n := range trees {
					if cs, _ := tc.p.Normalize(n); len(cs) > 0 {
						b.Fatalf("Normalize(canonical) = %v", cs)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*len(trees)), "µs/resource")
		})
	}
}
