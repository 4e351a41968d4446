package fhir_test

import (
	"bytes"
	"encoding/json"
	"os"
	"runtime"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/internal/corpus"
)

// loadCorpus reads the valid R4 examples (the big definitional Bundles
// are left out so that one file does not dominate).
func loadCorpus(b *testing.B) ([][]byte, int64) {
	b.Helper()
	var docs [][]byte
	var size int64
	for _, f := range corpus.Examples(b) {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if len(data) > 1<<20 {
			continue
		}
		if _, out := fhir.Parse(data, fhir.Limits{}); out.HasErrors() {
			continue
		}
		docs = append(docs, data)
		size += int64(len(data))
	}
	return docs, size
}

// BenchmarkRoundTrip measures parse + validate + serialise over the R4
// examples; compare with BenchmarkEncodingJSON in the same run.
func BenchmarkRoundTrip(b *testing.B) {
	docs, size := loadCorpus(b)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	startMallocs := mallocs()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			n, out := fhir.Parse(d, fhir.Limits{})
			if out.HasErrors() {
				b.Fatal(out)
			}
			_ = fhir.Marshal(n)
		}
	}
	reportPerResource(b, len(docs), mallocs()-startMallocs)
}

// BenchmarkEncodingJSON is the baseline: encoding/json into map[string]any
// with UseNumber, then re-encoding.
func BenchmarkEncodingJSON(b *testing.B) {
	docs, size := loadCorpus(b)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	startMallocs := mallocs()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			dec := json.NewDecoder(bytes.NewReader(d))
			dec.UseNumber()
			var v map[string]any
			if err := dec.Decode(&v); err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportPerResource(b, len(docs), mallocs()-startMallocs)
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// reportPerResource adds the time and allocations per resource of the
// corpus (the op is the whole corpus).
func reportPerResource(b *testing.B, docs int, allocs uint64) {
	n := float64(b.N * docs)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/resource")
	b.ReportMetric(float64(allocs)/n, "allocs/resource")
}
