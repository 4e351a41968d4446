package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/ledger"
	"github.com/fhirseal/fhirseal/store"
	"github.com/fhirseal/fhirseal/store/sqlite"
)

// tamperTable names a table Verify answers for: its key columns (in
// order) and the column that carries its content.
type tamperTable struct {
	name string
	key  []string
	col  string
	// insert adds a plausible row that the ledger never sealed.
	insert string
}

var tamperTables = []tamperTable{
	{"resource_version", []string{"ledger_index"}, "body",
		`INSERT INTO resource_version (rtype, id, vid, last_updated, op, body, ledger_index, ledger_key, prev_index)
		 SELECT rtype, 'intruder', 1, last_updated, 'create', body, (SELECT max(idx) + 1 FROM ledger_leaf), ledger_key, -1
		 FROM resource_version WHERE body IS NOT NULL LIMIT 1`},
	{"resource_current", []string{"rtype", "id"}, "ledger_index",
		`INSERT INTO resource_current (rtype, id, vid, deleted, ledger_index) VALUES ('Patient', 'intruder', 1, 0, 0)`},
	{"ledger_leaf", []string{"idx"}, "leaf",
		`INSERT INTO ledger_leaf (idx, leaf) SELECT max(idx) + 1, (SELECT leaf FROM ledger_leaf WHERE idx = 0) FROM ledger_leaf`},
	{"ledger_node", []string{"level", "idx"}, "hash",
		`INSERT INTO ledger_node (level, idx, hash) SELECT 0, max(idx) + 1, zeroblob(32) FROM ledger_node WHERE level = 0`},
	{"ledger_head", []string{"one"}, "head", ""},
	{"ledger_checkpoint", []string{"size"}, "note",
		`INSERT INTO ledger_checkpoint (size, note) SELECT max(size) + 1, (SELECT note FROM ledger_checkpoint ORDER BY size DESC LIMIT 1) FROM ledger_checkpoint`},
	{"ledger_erasure", []string{"ledger_index"}, "body",
		`INSERT INTO ledger_erasure (ledger_index, rtype, id, seq, last_updated, prev_index, body, ledger_key)
		 SELECT (SELECT max(idx) + 1 FROM ledger_leaf), rtype, id, seq + 1, last_updated, prev_index, body, ledger_key FROM ledger_erasure LIMIT 1`},
}

// tamperOps are the edits of the matrix; each returns false when it does
// not apply to the table (with the reason logged).
var tamperOps = []struct {
	name string
	do   func(t *testing.T, db *sql.DB, tb tamperTable) bool
}{
	{"flip a byte", func(t *testing.T, db *sql.DB, tb tamperTable) bool {
		key, val := pickRow(t, db, tb, 0)
		switch v := val.(type) {
		case []byte:
			b := []byte(string(v))
			b[len(b)/2] ^= 0x01
			val = b
		case int64:
			val = v ^ 1
		default:
			t.Fatalf("%s.%s: unexpected %T", tb.name, tb.col, val)
		}
		exec(t, db, "UPDATE "+tb.name+" SET "+tb.col+" = ? WHERE "+keyWhere(tb), append([]any{val}, key...)...)
		return true
	}},
	{"delete a row", func(t *testing.T, db *sql.DB, tb tamperTable) bool {
		key, _ := pickRow(t, db, tb, 0)
		exec(t, db, "DELETE FROM "+tb.name+" WHERE "+keyWhere(tb), key...)
		return true
	}},
	{"swap two rows", func(t *testing.T, db *sql.DB, tb tamperTable) bool {
		if rows(t, db, tb) < 2 {
			t.Logf("%s holds one row: nothing to swap with", tb.name)
			return false
		}
		k1, v1 := pickRow(t, db, tb, 0)
		k2, v2 := pickRow(t, db, tb, 1)
		exec(t, db, "UPDATE "+tb.name+" SET "+tb.col+" = ? WHERE "+keyWhere(tb), append([]any{v2}, k1...)...)
		exec(t, db, "UPDATE "+tb.name+" SET "+tb.col+" = ? WHERE "+keyWhere(tb), append([]any{v1}, k2...)...)
		return true
	}},
	{"insert a row", func(t *testing.T, db *sql.DB, tb tamperTable) bool {
		if tb.insert == "" {
			t.Logf("%s holds exactly one row by its schema", tb.name)
			return false
		}
		exec(t, db, tb.insert)
		return true
	}},
	{"truncate the tail", func(t *testing.T, db *sql.DB, tb tamperTable) bool {
		if tb.name == "ledger_node" { // the level-0 tail, not the top of the tree
			exec(t, db, "DELETE FROM ledger_node WHERE level = 0 AND idx = (SELECT max(idx) FROM ledger_node WHERE level = 0)")
			return true
		}
		var n int64
		if err := db.QueryRow("SELECT count(*) FROM " + tb.name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		order := strings.Join(tb.key, " DESC, ") + " DESC"
		exec(t, db, "DELETE FROM "+tb.name+" WHERE ("+strings.Join(tb.key, ", ")+") IN (SELECT "+strings.Join(tb.key, ", ")+" FROM "+tb.name+" ORDER BY "+order+" LIMIT ?)", max(1, n/4))
		return true
	}},
}

// TestTamperMatrix applies every edit of tamperOps to every table the
// store keeps for resources and the ledger, on a store holding creates,
// updates, deletes, rolled-back writes and two lawful erasures, and
// requires Verify to report each one. Checkpoint rows are the exception:
// a checkpoint is a signed statement about the tree, not part of it, so
// removing one loses no evidence the tree needs and must still verify;
// rolling the whole store back is caught against a trusted checkpoint
// (TestRollbackDetected).
func TestTamperMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a store per case")
	}
	harmless := map[string]bool{
		"ledger_checkpoint/delete a row":      true,
		"ledger_checkpoint/truncate the tail": true,
	}
	for _, tb := range tamperTables {
		for _, op := range tamperOps {
			name := tb.name + "/" + op.name
			t.Run(name, func(t *testing.T) {
				path, key := tamperFixture(t)
				db, err := sql.Open("sqlite", "file:"+path)
				if err != nil {
					t.Fatal(err)
				}
				dropTriggers(t, db)
				applied := op.do(t, db, tb)
				db.Close()
				if !applied {
					t.Skip("not applicable")
				}
				rep, err := sqlite.Verify(context.Background(), path, key.Verifier, nil)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if harmless[name] {
					if !rep.OK() {
						t.Errorf("Verify after removing a signed checkpoint = %v, want OK", rep.Counts)
					}
					return
				}
				if rep.OK() {
					t.Fatalf("Verify passed a store with %s", name)
				}
				if len(rep.Findings) == 0 || rep.Findings[0].Message == "" {
					t.Errorf("Verify found %v without naming it", rep.Counts)
				}
				t.Logf("%v", rep.Counts)
			})
		}
	}
}

// tamperFixture builds (once per test, in its temporary directory) a store
// with several versions per resource, deletions, rolled-back writes, two
// lawful erasures and several checkpoints, and checks it verifies.
func tamperFixture(t *testing.T) (string, *ledger.Key) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fhirseal.db")
	s, key := openWithKey(t, path)
	sealed := func() {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.WaitCheckpoint(wctx, int64(s.LedgerHead().Size)-1); err != nil {
			t.Fatal(err)
		}
	}
	writeSome(t, s, 30)
	sealed()
	for _, id := range []string{"p1", "p3"} {
		err := s.Update(ctx, func(tx store.Tx) error {
			_, err := tx.Erase(fhir.Ref{Type: "Patient", ID: id}, []fhir.Ref{{Type: "Patient", ID: id}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sealed()
	}
	writeSome(t, s, 12)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := sqlite.Verify(ctx, path, key.Verifier, nil)
	if err != nil || !rep.OK() || rep.Erased == 0 || rep.Checkpoints < 3 {
		t.Fatalf("fixture: Verify = %+v, %v", rep, err)
	}
	return path, key
}

func dropTriggers(t *testing.T, db *sql.DB) {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'trigger'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := db.Exec("DROP TRIGGER " + n); err != nil {
			t.Fatal(err)
		}
	}
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	res, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s %v: changed nothing", q, args)
	}
}

func keyWhere(tb tamperTable) string {
	return strings.Join(tb.key, " = ? AND ") + " = ?"
}

func rows(t *testing.T, db *sql.DB, tb tamperTable) int64 {
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM " + tb.name + " WHERE " + tb.col + " IS NOT NULL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// pickRow returns the key and content of a row in the middle of the table
// (offset 0) or of the next row with different content (offset 1), among
// rows whose content is not NULL.
func pickRow(t *testing.T, db *sql.DB, tb tamperTable, offset int) ([]any, any) {
	t.Helper()
	n := rows(t, db, tb)
	cols := strings.Join(tb.key, ", ")
	q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s IS NOT NULL ORDER BY %s LIMIT 1 OFFSET ?", cols, tb.col, tb.name, tb.col, cols)
	var first any
	for off := (n - 1) / 2; off < n; off++ {
		dst := make([]any, len(tb.key)+1)
		ptrs := make([]any, len(dst))
		for i := range dst {
			ptrs[i] = &dst[i]
		}
		if err := db.QueryRow(q, off).Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		val := dst[len(dst)-1]
		if offset == 0 {
			return dst[:len(tb.key)], val
		}
		if first == nil {
			first = val
			continue
		}
		if fmt.Sprint(val) != fmt.Sprint(first) {
			return dst[:len(tb.key)], val
		}
	}
	t.Fatalf("%s: no second row with different content", tb.name)
	return nil, nil
}
