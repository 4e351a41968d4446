package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/ledger"
	"github.com/fhirseal/fhirseal/store"
)

const benchObservation = `{"resourceType":"Observation","id":"o%d","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p%d"},"effectiveDateTime":"2024-02-01T09:30:10+01:00","valueQuantity":{"value":%d,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`

// benchWrites measures concurrent single-resource writes (32 writers, as
// the HTTP load generator uses), each its own request in the group commit.
func benchWrites(b *testing.B, ledgerOn, indexOn bool) {
	dir := b.TempDir()
	opts := Options{}
	if indexOn {
		opts.Indexer = search.Extract
	}
	if ledgerOn {
		key, err := ledger.LoadOrCreateKey(filepath.Join(dir, "ledger.key"), "bench.example/fhir")
		if err != nil {
			b.Fatal(err)
		}
		opts.LedgerKey = key
	}
	s, err := Open(filepath.Join(dir, "db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.ledgerOff = !ledgerOn
	docs := make([]*fhir.Node, 256)
	for i := range docs {
		n, out := fhir.Parse([]byte(fmt.Sprintf(benchObservation, i, i%50, 60+i%40)), fhir.Limits{})
		if out.HasErrors() {
			b.Fatal(out)
		}
		docs[i] = n
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				res := docs[i%len(docs)].Clone()
				res.Set("id", benchID())
				if err := s.Update(context.Background(), func(tx store.Tx) error {
					_, err := tx.Put(res, 0)
					return err
				}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/float64(s.groups.Load()), "writes/group")
	if ledgerOn {
		var leafBytes, nodeBytes int64
		s.r.QueryRow(`SELECT coalesce(sum(length(leaf)),0) FROM ledger_leaf`).Scan(&leafBytes)
		s.r.QueryRow(`SELECT coalesce(sum(length(hash)),0) + count(*) * 16 FROM ledger_node`).Scan(&nodeBytes)
		b.ReportMetric(float64(leafBytes+nodeBytes+int64(b.N)*48)/float64(b.N), "ledger-bytes/write")
	}
}

// benchID returns server-style ids (time-ordered UUIDs, as the server
// assigns).
var benchID = func() string { return uuid.Must(uuid.NewV7()).String() }

// BenchmarkWrite compares writes with the ledger on and off, and with
// search indexing on and off, in the same run.
func BenchmarkWrite(b *testing.B) {
	b.Run("ledger=on/index=on", func(b *testing.B) { benchWrites(b, true, true) })
	b.Run("ledger=off/index=on", func(b *testing.B) { benchWrites(b, false, true) })
	b.Run("ledger=on/index=off", func(b *testing.B) { benchWrites(b, true, false) })
	b.Run("ledger=off/index=off", func(b *testing.B) { benchWrites(b, false, false) })
}

// BenchmarkVerify measures the offline audit of a data file (what
// `fhirseal verify --data` runs) over 100,000 versions of 1 KB
// Observations: reading every version, recomputing its leaf, rebuilding the
// tree and checking nodes, head and checkpoint.
func BenchmarkVerify(b *testing.B) {
	const n = 100000
	dir := b.TempDir()
	key, err := ledger.LoadOrCreateKey(filepath.Join(dir, "ledger.key"), "bench.example/fhir")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "db")
	s, err := Open(path, Options{LedgerKey: key})
	if err != nil {
		b.Fatal(err)
	}
	doc, out := fhir.Parse([]byte(fmt.Sprintf(benchObservation, 0, 0, 60)), fhir.Limits{})
	if out.HasErrors() {
		b.Fatal(out)
	}
	for i := 0; i < n; i += 1000 {
		err := s.Update(context.Background(), func(tx store.Tx) error {
			for j := i; j < i+1000; j++ {
				res := doc.Clone()
				res.Set("id", fmt.Sprintf("o%d", j%(n/2))) // two versions per resource
				if _, err := tx.Put(res, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // signs the final checkpoint
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Verify(context.Background(), path, key.Verifier, nil)
		if err != nil || !rep.OK() || rep.Versions != n {
			b.Fatalf("Verify = %+v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "versions/s")
}
