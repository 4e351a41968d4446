// Package storetest is the conformance suite every store backend passes:
// storetest.Run(t, open) with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/store"
)

// Open returns a new empty store that indexes resources with
// search.Extract; the suite closes it.
type Open func(t *testing.T) store.Store

// Run runs the suite.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"CreateReadVRead", testCreateRead},
		{"UpdateVersions", testUpdate},
		{"DeleteTombstone", testDelete},
		{"IfMatch", testIfMatch},
		{"FailedRequestRollsBackOnlyItself", testRollback},
		{"ConcurrentWrites", testConcurrent},
		{"History", testHistory},
		{"SearchByID", testSearchID},
		{"SearchSort", testSearchSort},
		{"SearchInclude", testSearchInclude},
		{"SearchChain", testSearchChain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			tc.fn(t, s)
		})
	}
}

func patient(t *testing.T, id, family string) *fhir.Node {
	t.Helper()
	n, out := fhir.Parse([]byte(fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":%q}]}`, id, family)), fhir.Limits{})
	if out.HasErrors() {
		t.Fatalf("parse: %s", out)
	}
	return n
}

func put(t *testing.T, s store.Store, res *fhir.Node, ifMatch int64) (*store.Version, error) {
	t.Helper()
	var v *store.Version
	err := s.Update(context.Background(), func(tx store.Tx) error {
		var err error
		v, err = tx.Put(res, ifMatch)
		return err
	})
	return v, err
}

func testCreateRead(t *testing.T, s store.Store) {
	ctx := context.Background()
	v, err := put(t, s, patient(t, "p1", "Chalmers"), 0)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if v.VersionID != 1 || v.Op != store.OpCreate {
		t.Errorf("Put = vid %d op %s, want 1 create", v.VersionID, v.Op)
	}
	got, err := s.Read(ctx, "Patient", "p1")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if string(got.Body) != string(v.Body) {
		t.Errorf("Read body = %s, want %s", got.Body, v.Body)
	}
	n, out := fhir.Parse(got.Body, fhir.Limits{})
	if out.HasErrors() {
		t.Fatalf("stored body does not parse: %s", out)
	}
	if m := n.First("meta"); m == nil || m.String("versionId") != "1" || m.String("lastUpdated") != v.LastUpdated {
		t.Errorf("stored meta = %s, want versionId 1 and lastUpdated %s", got.Body, v.LastUpdated)
	}
	if _, err := s.VRead(ctx, "Patient", "p1", 1); err != nil {
		t.Errorf("VRead(1): %v", err)
	}
	if _, err := s.VRead(ctx, "Patient", "p1", 2); !errors.Is(err, fhir.ErrNotFound) {
		t.Errorf("VRead(2) = %v, want ErrNotFound", err)
	}
	if _, err := s.Read(ctx, "Patient", "nope"); !errors.Is(err, fhir.ErrNotFound) {
		t.Errorf("Read(nope) = %v, want ErrNotFound", err)
	}
	if _, err := s.Read(ctx, "Observation", "p1"); !errors.Is(err, fhir.ErrNotFound) {
		t.Errorf("Read(Observation/p1) = %v, want ErrNotFound", err)
	}
}

func testUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	var last *store.Version
	for i := 1; i <= 3; i++ {
		v, err := put(t, s, patient(t, "p1", fmt.Sprintf("F%d", i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		if v.VersionID != int64(i) {
			t.Errorf("version %d: vid = %d", i, v.VersionID)
		}
		if last != nil && v.LastUpdated <= last.LastUpdated {
			t.Errorf("lastUpdated %s not after %s", v.LastUpdated, last.LastUpdated)
		}
		if last != nil && v.LedgerIndex <= last.LedgerIndex {
			t.Errorf("ledger index %d not after %d", v.LedgerIndex, last.LedgerIndex)
		}
		last = v
	}
	cur, err := s.Read(ctx, "Patient", "p1")
	if err != nil || cur.VersionID != 3 {
		t.Fatalf("Read = %v, %v; want version 3", cur, err)
	}
	old, err := s.VRead(ctx, "Patient", "p1", 1)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := fhir.Parse(old.Body, fhir.Limits{})
	if got := n.First("name").String("family"); got != "F1" {
		t.Errorf("VRead(1) family = %q, want F1", got)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := put(t, s, patient(t, "p1", "A"), 0); err != nil {
		t.Fatal(err)
	}
	var del *store.Version
	err := s.Update(ctx, func(tx store.Tx) error {
		var err error
		del, err = tx.Delete("Patient", "p1", 0)
		return err
	})
	if err != nil || del == nil || del.VersionID != 2 || !del.Deleted() {
		t.Fatalf("Delete = %+v, %v; want tombstone version 2", del, err)
	}
	if _, err := s.Read(ctx, "Patient", "p1"); !errors.Is(err, fhir.ErrDeleted) {
		t.Errorf("Read after delete = %v, want ErrDeleted", err)
	}
	// Deleting again writes nothing.
	err = s.Update(ctx, func(tx store.Tx) error {
		v, err := tx.Delete("Patient", "p1", 0)
		if v != nil {
			t.Errorf("second Delete wrote version %d", v.VersionID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := put(t, s, patient(t, "p1", "B"), 0)
	if err != nil || v.VersionID != 3 {
		t.Fatalf("re-create = %+v, %v; want version 3", v, err)
	}
	h, err := s.History(ctx, store.HistoryQuery{Type: "Patient", ID: "p1"})
	if err != nil || len(h) != 3 || !h[1].Deleted() {
		t.Fatalf("History = %d versions (%v), want 3 with the tombstone second", len(h), err)
	}
}

func testIfMatch(t *testing.T, s store.Store) {
	if _, err := put(t, s, patient(t, "p1", "A"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := put(t, s, patient(t, "p1", "B"), 5); !errors.Is(err, fhir.ErrConflict) {
		t.Errorf("Put with wrong If-Match = %v, want ErrConflict", err)
	}
	if v, err := put(t, s, patient(t, "p1", "B"), 1); err != nil || v.VersionID != 2 {
		t.Errorf("Put with right If-Match = %v, %v; want version 2", v, err)
	}
}

func testRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[0] = s.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Put(patient(t, "bad", "X"), 0); err != nil {
				return err
			}
			return boom
		})
	}()
	go func() {
		defer wg.Done()
		_, errs[1] = put(t, s, patient(t, "good", "Y"), 0)
	}()
	wg.Wait()
	if !errors.Is(errs[0], boom) || errs[1] != nil {
		t.Fatalf("errors = %v, want boom and nil", errs)
	}
	if _, err := s.Read(ctx, "Patient", "bad"); !errors.Is(err, fhir.ErrNotFound) {
		t.Errorf("Read(bad) = %v, want ErrNotFound: a failed request left a version", err)
	}
	if _, err := s.Read(ctx, "Patient", "good"); err != nil {
		t.Errorf("Read(good) = %v", err)
	}
	h, err := s.History(ctx, store.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(h); i++ {
		if h[i-1].LedgerIndex != h[i].LedgerIndex+1 {
			t.Errorf("ledger indexes not contiguous after a rollback: %d then %d", h[i-1].LedgerIndex, h[i].LedgerIndex)
		}
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := put(t, s, patient(t, fmt.Sprintf("c%d", i%50), "X"), 0)
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.History(ctx, store.HistoryQuery{Type: "Patient"})
	if err != nil || len(h) != n {
		t.Fatalf("History = %d versions, %v; want %d", len(h), err, n)
	}
	seen := map[int64]bool{}
	for _, v := range h {
		if seen[v.LedgerIndex] {
			t.Errorf("ledger index %d used twice", v.LedgerIndex)
		}
		seen[v.LedgerIndex] = true
	}
	for i := 0; i < 50; i++ {
		v, err := s.Read(ctx, "Patient", fmt.Sprintf("c%d", i))
		if err != nil || v.VersionID != 4 {
			t.Errorf("Read(c%d) = %v, %v; want version 4", i, v, err)
		}
	}
}

func testHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := put(t, s, patient(t, fmt.Sprintf("h%d", i), "X"), 0); err != nil {
			t.Fatal(err)
		}
	}
	page1, err := s.History(ctx, store.HistoryQuery{Count: 2})
	if err != nil || len(page1) != 2 {
		t.Fatalf("History(count 2) = %d, %v", len(page1), err)
	}
	page2, err := s.History(ctx, store.HistoryQuery{Count: 2, Before: page1[1].LedgerIndex})
	if err != nil || len(page2) != 2 || page2[0].LedgerIndex >= page1[1].LedgerIndex {
		t.Fatalf("History page 2 = %+v, %v", page2, err)
	}
}

func testSearchID(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := put(t, s, patient(t, fmt.Sprintf("s%d", i), "X"), 0); err != nil {
			t.Fatal(err)
		}
	}
	c, err := search.Parse("Patient", "_id", "s0,s2")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Search(ctx, &store.Query{Types: []string{"Patient"}, Total: true, Count: 10, Criteria: []*search.Criterion{c}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 2 || len(p.Matches) != 2 {
		t.Errorf("Search(_id=s0,s2) = total %d, %d matches; want 2, 2", p.Total, len(p.Matches))
	}
}
