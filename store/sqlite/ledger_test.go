package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/ledger"
	"github.com/fhirseal/fhirseal/store"
	"github.com/fhirseal/fhirseal/store/sqlite"
)

func openWithKey(t *testing.T, path string) (*sqlite.Store, *ledger.Key) {
	t.Helper()
	key, err := ledger.LoadOrCreateKey(filepath.Join(filepath.Dir(path), "ledger.key"), "example.org/fhir")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(path, sqlite.Options{LedgerKey: key, CheckpointEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s, key
}

func writeSome(t *testing.T, s store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		res, out := fhir.Parse([]byte(fmt.Sprintf(`{"resourceType":"Patient","id":"p%d","active":true}`, i%7)), fhir.Limits{})
		if out.HasErrors() {
			t.Fatal(out)
		}
		err := s.Update(ctx, func(tx store.Tx) error {
			if i%5 == 4 {
				_, err := tx.Delete("Patient", res.ID(), 0)
				return err
			}
			_, err := tx.Put(res, 0)
			if i%11 == 10 {
				return fmt.Errorf("rolled back on purpose")
			}
			return err
		})
		if err != nil && i%11 != 10 {
			t.Fatal(err)
		}
	}
}

func TestLedgerSealsEveryWrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fhirseal.db")
	s, key := openWithKey(t, path)
	writeSome(t, s, 60)
	h, err := s.History(ctx, store.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	head := s.LedgerHead()
	if int(head.Size) != len(h) {
		t.Errorf("ledger size %d, versions %d", head.Size, len(h))
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.WaitCheckpoint(waitCtx, int64(head.Size)-1); err != nil {
		t.Fatalf("WaitCheckpoint: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := sqlite.Verify(ctx, path, key.Verifier, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Versions != uint64(len(h)) || rep.Checkpoints == 0 {
		t.Fatalf("Verify = %+v, want OK over %d versions with checkpoints", rep, len(h))
	}
	// Reopening resumes the same tree.
	s2, _ := openWithKey(t, path)
	writeSome(t, s2, 5)
	s2.Close()
	rep, err = sqlite.Verify(ctx, path, key.Verifier, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify after reopen = %+v, %v", rep, err)
	}
}

// TestTamperDetected edits the database as an attacker with file access
// would (dropping the guard triggers first) and checks that Verify names
// each change.
func TestTamperDetected(t *testing.T) {
	cases := []struct {
		name string
		sql  []string
		want ledger.Kind
	}{
		{"edited body", []string{`UPDATE resource_version SET body = replace(body, 'true', 'false') WHERE ledger_index = 3`}, "body-mismatch"},
		{"deleted version row", []string{`DELETE FROM resource_version WHERE ledger_index = 5`}, "unlogged-erasure"},
		{"edited leaf", []string{`UPDATE ledger_leaf SET leaf = replace(leaf, 'create', 'update') WHERE idx = 0`}, "leaf-mismatch"},
		{"deleted node", []string{`DELETE FROM ledger_node WHERE level = 1 AND idx = 0`}, "missing-node"},
		{"truncated tail", []string{`DELETE FROM ledger_leaf WHERE idx >= (SELECT max(idx) FROM ledger_leaf)`}, "truncated"},
		{"erased without erase leaf", []string{`UPDATE resource_version SET body = NULL, ledger_key = NULL WHERE ledger_index = 2`}, "unlogged-erasure"},
		{"swapped bodies", []string{
			`UPDATE resource_version SET body = (SELECT body FROM resource_version WHERE ledger_index = 2) WHERE ledger_index = 1`,
		}, "body-mismatch"},
		{"inserted version", []string{
			`INSERT INTO resource_version (rtype, id, vid, last_updated, op, body, ledger_index, ledger_key, prev_index)
			 VALUES ('Patient', 'intruder', 1, '2030-01-01T00:00:00.000Z', 'create', '{}', 9999, zeroblob(32), -1)`,
		}, ""},
		{"edited metadata", []string{`UPDATE resource_version SET last_updated = '1999-01-01T00:00:00.000Z' WHERE ledger_index = 4`}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "fhirseal.db")
			s, key := openWithKey(t, path)
			writeSome(t, s, 30)
			s.Close()
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			for _, trig := range []string{"ledger_leaf_no_update", "ledger_leaf_no_delete", "ledger_node_no_delete", "resource_version_no_delete", "resource_version_no_update"} {
				if _, err := db.Exec(`DROP TRIGGER ` + trig); err != nil {
					t.Fatal(err)
				}
			}
			for _, q := range c.sql {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()
			rep, err := sqlite.Verify(ctx, path, key.Verifier, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatalf("Verify passed a tampered store (%s)", c.name)
			}
			if c.want != "" && rep.Counts[c.want] == 0 {
				t.Errorf("Verify found %v, want a %s finding", rep.Counts, c.want)
			}
			t.Logf("%s: %v", c.name, rep.Counts)
		})
	}
}

func TestGuardTriggers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhirseal.db")
	s, _ := openWithKey(t, path)
	writeSome(t, s, 3)
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`UPDATE ledger_leaf SET leaf = x'00' WHERE idx = 0`,
		`DELETE FROM ledger_node`,
		`DELETE FROM resource_version`,
		`UPDATE resource_version SET body = x'00' WHERE ledger_index = 0`,
	} {
		if _, err := db.Exec(q); err == nil {
			t.Errorf("%s: the database allowed it", q)
		}
	}
}

func TestRefusesBrokenHead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fhirseal.db")
	s, _ := openWithKey(t, path)
	writeSome(t, s, 10)
	s.Close()
	db, _ := sql.Open("sqlite", "file:"+path)
	if _, err := db.Exec(`DROP TRIGGER ledger_node_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE ledger_node SET hash = zeroblob(32) WHERE level = (SELECT max(level) FROM ledger_node)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlite.Open(path, sqlite.Options{}); err == nil {
		s.Close()
		t.Fatal("Open accepted a ledger whose nodes disagree with its head")
	}
}

// TestLawfulErasure erases a resource and a compartment-like set, and
// checks that the bodies are gone, reads answer deleted, and the audit
// passes because an erase leaf records each erasure.
func TestLawfulErasure(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fhirseal.db")
	s, key := openWithKey(t, path)
	writeSome(t, s, 30)
	var er *store.Erasure
	err := s.Update(ctx, func(tx store.Tx) error {
		var err error
		er, err = tx.Erase(fhir.Ref{Type: "Patient", ID: "p1"}, []fhir.Ref{{Type: "Patient", ID: "p1"}, {Type: "Patient", ID: "p2"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if er.Versions == 0 {
		t.Fatal("nothing erased")
	}
	if _, err := s.Read(ctx, "Patient", "p1"); !errors.Is(err, fhir.ErrDeleted) {
		t.Errorf("Read(erased) = %v, want ErrDeleted", err)
	}
	if v, err := s.VRead(ctx, "Patient", "p2", 1); !errors.Is(err, fhir.ErrDeleted) || (v != nil && v.Body != nil) {
		t.Errorf("VRead(erased) = %v, %v; want no body and ErrDeleted", v, err)
	}
	// Erasing again finds nothing left.
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Erase(fhir.Ref{Type: "Patient", ID: "p1"}, []fhir.Ref{{Type: "Patient", ID: "p1"}})
		return err
	})
	if !errors.Is(err, fhir.ErrNotFound) {
		t.Errorf("second Erase = %v, want ErrNotFound", err)
	}
	writeSome(t, s, 5)
	s.Close()
	rep, err := sqlite.Verify(ctx, path, key.Verifier, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Erased == 0 {
		t.Fatalf("Verify after a lawful erasure = %+v", rep)
	}
}

// TestRollbackDetected restores an older copy of the whole data file, as
// an operator (or attacker) rolling the store back would. Only a checkpoint
// kept outside the store can reveal it: Verify with that checkpoint fails.
func TestRollbackDetected(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "fhirseal.db")
	s, key := openWithKey(t, path)
	writeSome(t, s, 10)
	s.Close()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, _ = openWithKey(t, path)
	writeSome(t, s, 10)
	s.Close()
	trusted, err := latestCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	rep, err := sqlite.Verify(ctx, path, key.Verifier, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("the older copy alone should verify: %+v, %v", rep, err)
	}
	rep, err = sqlite.Verify(ctx, path, key.Verifier, trusted)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("Verify with a newer trusted checkpoint passed a rolled-back store")
	}
	t.Logf("rollback: %v", rep.Counts)
}

func latestCheckpoint(path string) ([]byte, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var note []byte
	err = db.QueryRow(`SELECT note FROM ledger_checkpoint ORDER BY size DESC LIMIT 1`).Scan(&note)
	return note, err
}

// TestProofsMatchReference checks the store's node reads (cached upper
// levels, batched lower ones) against a tree rebuilt in memory from its
// leaves: every inclusion and consistency proof must be identical, and a
// node that does not exist must be reported as missing.
func TestProofsMatchReference(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 300
	for i := 0; i < n; i += 50 {
		err := s.Update(ctx, func(tx store.Tx) error {
			for j := i; j < i+50; j++ {
				res, out := fhir.Parse([]byte(fmt.Sprintf(`{"resourceType":"Patient","id":"p%d"}`, j)), fhir.Limits{})
				if out.HasErrors() {
					t.Fatal(out)
				}
				if _, err := tx.Put(res, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	leaves, err := s.Leaves(ctx, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	ref := ledger.NewMemStore()
	a, err := ledger.NewAppender(ledger.Head{Root: ledger.EmptyRoot()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Begin(); err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves {
		if _, err := a.AppendLeaf(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx, ref); err != nil {
		t.Fatal(err)
	}
	// Twice over, so that the second pass is served from the cache.
	for pass := 0; pass < 2; pass++ {
		for size := uint64(1); size <= n; size += 7 {
			for index := uint64(0); index < size; index += 5 {
				got, err := ledger.InclusionProof(ctx, s, index, size)
				if err != nil {
					t.Fatalf("InclusionProof(%d, %d): %v", index, size, err)
				}
				want, err := ledger.InclusionProof(ctx, ref, index, size)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("pass %d: InclusionProof(%d, %d) differs from the reference", pass, index, size)
				}
			}
			got, err := ledger.ConsistencyProof(ctx, s, size, n)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", size, n, err)
			}
			want, _ := ledger.ConsistencyProof(ctx, ref, size, n)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("pass %d: ConsistencyProof(%d, %d) differs from the reference", pass, size, n)
			}
		}
	}
	_, err = s.Nodes(ctx, []ledger.NodeID{{Level: 0, Index: 1}, {Level: 8, Index: 1}, {Level: 1, Index: 3}})
	if !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Nodes with a missing node = %v, want ErrNotFound", err)
	}
}
