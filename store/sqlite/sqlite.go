// Package sqlite is fhirseal's embedded storage backend: SQLite in WAL mode
// through a pure-Go driver, so the binary stays static.
//
// One writer goroutine owns the write connection. It takes the write
// requests that are waiting, runs each in a savepoint of one transaction
// (a failed request rolls back only itself) and commits the group with
// synchronous=FULL, so every acknowledged write is on disk. Reads use a
// separate pool of connections and never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/ledger"
	"github.com/fhirseal/fhirseal/store"
)

// Options configure a Store.
type Options struct {
	// Indexer extracts search index rows; nil stores none (only _id and
	// type searches then work).
	Indexer store.Indexer
	// Now is the clock used for meta.lastUpdated; nil means time.Now.
	Now func() time.Time
	// MaxGroup bounds how many requests one commit carries (default 256).
	MaxGroup int
	// LedgerKey signs checkpoints; nil signs none (the leaves, nodes and
	// head are written all the same).
	LedgerKey *ledger.Key
	// CheckpointEvery is the signing cadence (default 1s).
	CheckpointEvery time.Duration
	// Logger reports background failures (checkpoint signing).
	Logger *slog.Logger
}

// Store is the SQLite backend. It implements store.Store.
type Store struct {
	w       *sql.DB // one connection, owned by the writer goroutine
	r       *sql.DB // readers
	opts    Options
	reqs    chan *request
	done    chan struct{}
	closing sync.Once
	wg      sync.WaitGroup

	// ledgerOff skips leaf appends; only the package's benchmarks set it,
	// to measure what the ledger costs.
	ledgerOff bool
	groups    atomic.Int64 // group commits, for the benchmarks
	benchSeq  uint64

	// Writer-goroutine state.
	stmts    map[string]*sql.Stmt // prepared on the write connection
	readStmt *sql.Stmt            // qReadCurrent on the read pool
	// Ledger reads prepared on the read pool.
	readVersion, readOpening *sql.Stmt
	nodes                    nodeCache
	appender                 *ledger.Appender
	lastStamp                time.Time

	checkpointer *ledger.Checkpointer
	signed       chan struct{} // closed and replaced after each checkpoint
	signedMu     sync.Mutex
}

type request struct {
	ctx context.Context
	fn  func(store.Tx) error
	err chan error
}

const schema = `
-- Versions are stored in ledger order (the leaf index is the row key): new
-- versions append at the end of the table, and an audit reads the table
-- front to back. Bodies are large rows, which SQLite keeps best in a rowid
-- table; (rtype, id, vid) is a unique index beside it.
CREATE TABLE IF NOT EXISTS resource_version (
	ledger_index INTEGER NOT NULL PRIMARY KEY,
	rtype        TEXT    NOT NULL,
	id           TEXT    NOT NULL,
	vid          INTEGER NOT NULL,
	last_updated TEXT    NOT NULL,
	op           TEXT    NOT NULL,
	body         BLOB,
	ledger_key   BLOB,
	prev_index   INTEGER NOT NULL,
	UNIQUE (rtype, id, vid)
);
CREATE INDEX IF NOT EXISTS resource_version_time ON resource_version (last_updated);
CREATE TABLE IF NOT EXISTS resource_current (
	rtype        TEXT    NOT NULL,
	id           TEXT    NOT NULL,
	vid          INTEGER NOT NULL,
	deleted      INTEGER NOT NULL,
	ledger_index INTEGER NOT NULL,
	PRIMARY KEY (rtype, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resource_current_seq ON resource_current (rtype, ledger_index);
CREATE TABLE IF NOT EXISTS idx_token (
	rtype TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
	system TEXT NOT NULL, code TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_token_code ON idx_token (rtype, param, code, system);
CREATE INDEX IF NOT EXISTS idx_token_res ON idx_token (rtype, id);
CREATE TABLE IF NOT EXISTS idx_string (
	rtype TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_string_value ON idx_string (rtype, param, value);
CREATE INDEX IF NOT EXISTS idx_string_res ON idx_string (rtype, id);
CREATE TABLE IF NOT EXISTS idx_reference (
	rtype TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, target TEXT NOT NULL, target_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_reference_target ON idx_reference (rtype, param, target);
CREATE INDEX IF NOT EXISTS idx_reference_tid ON idx_reference (rtype, param, target_id);
CREATE INDEX IF NOT EXISTS idx_reference_res ON idx_reference (rtype, id);
-- Reverse lookups by target alone: _revinclude=*, compartments.
CREATE INDEX IF NOT EXISTS idx_reference_to ON idx_reference (target);
CREATE TABLE IF NOT EXISTS idx_uri (
	rtype TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_uri_value ON idx_uri (rtype, param, value);
CREATE INDEX IF NOT EXISTS idx_uri_res ON idx_uri (rtype, id);
CREATE TABLE IF NOT EXISTS idx_date (
	rtype TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_date_lo ON idx_date (rtype, param, lo);
CREATE INDEX IF NOT EXISTS idx_date_res ON idx_date (rtype, id);
CREATE TABLE IF NOT EXISTS idx_number (
	rtype TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, num REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_number_num ON idx_number (rtype, param, num);
CREATE INDEX IF NOT EXISTS idx_number_res ON idx_number (rtype, id);
CREATE TABLE IF NOT EXISTS idx_quantity (
	rtype TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL,
	num REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_quantity_num ON idx_quantity (rtype, param, code, num);
CREATE INDEX IF NOT EXISTS idx_quantity_res ON idx_quantity (rtype, id);
CREATE TABLE IF NOT EXISTS ledger_leaf (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_node (
	level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
	PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_head (one INTEGER PRIMARY KEY CHECK (one = 1), head BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_checkpoint (size INTEGER PRIMARY KEY, note BLOB NOT NULL);
-- An erasure's record (the erased index list and its key) is never erased.
CREATE TABLE IF NOT EXISTS ledger_erasure (
	ledger_index INTEGER PRIMARY KEY, rtype TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
	last_updated TEXT NOT NULL, prev_index INTEGER NOT NULL, body BLOB NOT NULL, ledger_key BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS ledger_erasure_no_update BEFORE UPDATE ON ledger_erasure BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_erasure_no_delete BEFORE DELETE ON ledger_erasure BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;
-- The ledger is append-only: the database itself refuses edits and deletions.
CREATE TRIGGER IF NOT EXISTS ledger_leaf_no_update BEFORE UPDATE ON ledger_leaf BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_leaf_no_delete BEFORE DELETE ON ledger_leaf BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_node_no_update BEFORE UPDATE ON ledger_node BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_node_no_delete BEFORE DELETE ON ledger_node BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_checkpoint_no_update BEFORE UPDATE ON ledger_checkpoint BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_checkpoint_no_delete BEFORE DELETE ON ledger_checkpoint BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END;
CREATE TRIGGER IF NOT EXISTS resource_version_no_delete BEFORE DELETE ON resource_version BEGIN SELECT RAISE(ABORT, 'versions are kept; erase them instead'); END;
CREATE TRIGGER IF NOT EXISTS resource_version_no_update BEFORE UPDATE ON resource_version
	WHEN NOT (NEW.body IS NULL AND NEW.ledger_key IS NULL AND NEW.rtype = OLD.rtype AND NEW.id = OLD.id AND NEW.vid = OLD.vid
		AND NEW.last_updated = OLD.last_updated AND NEW.op = OLD.op AND NEW.ledger_index = OLD.ledger_index AND NEW.prev_index = OLD.prev_index)
	BEGIN SELECT RAISE(ABORT, 'versions are immutable; only erasure may clear a body and key'); END;
`

// The write path's statements, prepared once at Open.
const (
	qInsertVersion   = `INSERT INTO resource_version (rtype, id, vid, last_updated, op, body, ledger_index, ledger_key, prev_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertToken     = `INSERT INTO idx_token (rtype, id, param, system, code, text) VALUES (?, ?, ?, ?, ?, ?)`
	qInsertString    = `INSERT INTO idx_string (rtype, id, param, value) VALUES (?, ?, ?, ?)`
	qInsertReference = `INSERT INTO idx_reference (rtype, id, param, target, target_id) VALUES (?, ?, ?, ?, ?)`
	qInsertURI       = `INSERT INTO idx_uri (rtype, id, param, value) VALUES (?, ?, ?, ?)`
	qInsertDate      = `INSERT INTO idx_date (rtype, id, param, lo, hi) VALUES (?, ?, ?, ?, ?)`
	qInsertNumber    = `INSERT INTO idx_number (rtype, id, param, num, lo, hi) VALUES (?, ?, ?, ?, ?, ?)`
	qInsertQuantity  = `INSERT INTO idx_quantity (rtype, id, param, system, code, num, lo, hi) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qUpsertCurrent   = `INSERT INTO resource_current (rtype, id, vid, deleted, ledger_index) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (rtype, id) DO UPDATE SET vid = excluded.vid, deleted = excluded.deleted, ledger_index = excluded.ledger_index`
	qReadCurrent = `SELECT v.vid, v.last_updated, v.op, v.body, v.ledger_index
		FROM resource_current c JOIN resource_version v ON v.ledger_index = c.ledger_index
		WHERE c.rtype = ? AND c.id = ?`
)

// The ledger's statements.
const (
	qInsertLeaf = `INSERT INTO ledger_leaf (idx, leaf) VALUES (?, ?)`
	qInsertNode = `INSERT INTO ledger_node (level, idx, hash) VALUES (?, ?, ?)`
	qPutHead    = `INSERT INTO ledger_head (one, head) VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET head = excluded.head`
)

var preparedQueries = []string{qInsertLeaf, qInsertNode, qPutHead, qInsertVersion, qInsertToken, qInsertString, qInsertReference, qInsertURI,
	qInsertDate, qInsertNumber, qInsertQuantity, qUpsertCurrent, qReadCurrent}

// Open opens (creating if needed) the database file at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = 256
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// temp_store(memory) keeps the savepoint journals of the group commit
	// in memory: on disk they cost a write per page touched by a request.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(on)&_pragma=temp_store(memory)"
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: create schema: %w", err)
	}
	// Reads map the database file (256 MiB at most) instead of copying
	// each page through a read call into every connection's cache.
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(on)&_pragma=mmap_size(268435456)")
	if err != nil {
		w.Close()
		return nil, err
	}
	// Every read connection stays open: database/sql keeps two idle by
	// default, and reopening one (open, pragmas, statements) costs more
	// than the read itself.
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	s := &Store{w: w, r: r, opts: opts, reqs: make(chan *request, 1024), done: make(chan struct{}), signed: make(chan struct{})}
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&s.readStmt, qReadCurrent},
		{&s.readVersion, `SELECT last_updated, op, body, ledger_index FROM resource_version WHERE rtype = ? AND id = ? AND vid = ?`},
		{&s.readOpening, `SELECT v.ledger_index, l.leaf, v.ledger_key, v.prev_index FROM resource_version v JOIN ledger_leaf l ON l.idx = v.ledger_index WHERE v.rtype = ? AND v.id = ? AND v.vid = ?`},
	} {
		if *p.dst, err = r.Prepare(p.q); err != nil {
			w.Close()
			r.Close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
	}
	s.stmts = map[string]*sql.Stmt{}
	for _, q := range preparedQueries {
		st, err := w.Prepare(q)
		if err != nil {
			w.Close()
			r.Close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
		s.stmts[q] = st
	}
	if err := s.openLedger(); err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.writer()
	if s.checkpointer != nil {
		s.wg.Add(1)
		go s.checkpointLoop()
	}
	return s, nil
}

// Close stops the writer after the requests already queued and closes the
// database.
func (s *Store) Close() error {
	s.closing.Do(func() { close(s.done) })
	s.wg.Wait()
	if s.checkpointer != nil {
		// A last checkpoint covers every acknowledged write.
		if err := s.checkpoint(context.Background()); err != nil {
			s.opts.Logger.Error("final checkpoint", "err", err)
		}
	}
	s.nodes.close()
	err := errors.Join(s.r.Close(), s.w.Close())
	return err
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	req := &request{ctx: ctx, fn: fn, err: make(chan error, 1)}
	select {
	case s.reqs <- req:
	case <-s.done:
		return errors.New("sqlite: store closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the request runs to completion; waiting for it keeps an
	// acknowledged result meaningful even if the caller has gone.
	return <-req.err
}

func (s *Store) writer() {
	defer s.wg.Done()
	for {
		var first *request
		select {
		case first = <-s.reqs:
		case <-s.done:
			// Drain what is queued, then stop.
			for {
				select {
				case r := <-s.reqs:
					s.commitGroup([]*request{r})
				default:
					return
				}
			}
		}
		group := []*request{first}
	fill:
		for len(group) < s.opts.MaxGroup {
			select {
			case r := <-s.reqs:
				group = append(group, r)
			default:
				break fill
			}
		}
		s.groups.Add(1)
		s.commitGroup(group)
	}
}

// commitGroup runs a group of requests in one transaction, each in its own
// savepoint.
func (s *Store) commitGroup(group []*request) {
	fail := func(err error) {
		for _, r := range group {
			r.err <- err
		}
	}
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	startStamp := s.lastStamp
	if err := s.appender.Begin(); err != nil {
		tx.Rollback()
		fail(err)
		return
	}
	abort := func(err error) {
		tx.Rollback()
		s.appender.Rollback()
		s.lastStamp = startStamp
		fail(err)
	}
	results := make([]error, len(group))
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT req`); err != nil {
			results[i] = err
			continue
		}
		snap, stamp := s.appender.Snapshot(), s.lastStamp
		err := r.fn(&txn{s: s, tx: tx})
		if err != nil {
			results[i] = err
			s.appender.Restore(snap)
			s.lastStamp = stamp
			if _, rerr := tx.Exec(`ROLLBACK TO req`); rerr != nil {
				abort(fmt.Errorf("sqlite: rollback to savepoint: %w", rerr))
				return
			}
		}
		if _, err := tx.Exec(`RELEASE req`); err != nil {
			abort(fmt.Errorf("sqlite: release savepoint: %w", err))
			return
		}
	}
	if err := s.appender.Flush(ctx, sqlWriter{&txn{s: s, tx: tx}}); err != nil {
		abort(fmt.Errorf("sqlite: write ledger: %w", err))
		return
	}
	if err := tx.Commit(); err != nil {
		s.appender.Rollback()
		s.lastStamp = startStamp
		fail(fmt.Errorf("sqlite: commit: %w", err))
		return
	}
	if err := s.appender.Commit(); err != nil {
		// The database committed; the appender refusing means a bug, and
		// continuing could fork the tree.
		panic(fmt.Sprintf("sqlite: ledger appender out of step with the database: %v", err))
	}
	for i, r := range group {
		r.err <- results[i]
	}
}

// txn implements store.Tx on the writer's transaction.
type txn struct {
	s  *Store
	tx *sql.Tx
}

type queryer interface {
	QueryRow(query string, args ...any) *sql.Row
	Query(query string, args ...any) (*sql.Rows, error)
}

func readCurrent(q queryer, typ, id string) (*store.Version, error) {
	v := &store.Version{Type: typ, ID: id}
	var op string
	err := q.QueryRow(qReadCurrent, typ, id).Scan(&v.VersionID, &v.LastUpdated, &op, &v.Body, &v.LedgerIndex)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fhir.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	v.Op = store.Op(op)
	if v.Deleted() || v.Body == nil {
		// A tombstone, or an erased version.
		return v, fhir.ErrDeleted
	}
	return v, nil
}

func (t *txn) Current(typ, id string) (*store.Version, error) { return readCurrent(t, typ, id) }

// exec runs q, through the statement prepared at Open when there is one
// (the write path's statements are prepared once on the write connection
// and reused by every transaction).
func (t *txn) exec(q string, args ...any) (sql.Result, error) {
	if st, ok := t.s.stmts[q]; ok {
		return t.tx.Stmt(st).Exec(args...)
	}
	return t.tx.Exec(q, args...)
}

// QueryRow and Query make txn a queryer with the prepared statements.
func (t *txn) QueryRow(q string, args ...any) *sql.Row {
	if st, ok := t.s.stmts[q]; ok {
		return t.tx.Stmt(st).QueryRow(args...)
	}
	return t.tx.QueryRow(q, args...)
}

func (t *txn) Query(q string, args ...any) (*sql.Rows, error) { return t.tx.Query(q, args...) }

// stamp returns the lastUpdated for a new version: now, at millisecond
// precision, and strictly after the previous write's stamp so versions are
// ordered by it.
func (t *txn) stamp() string {
	now := t.s.opts.Now().UTC().Truncate(time.Millisecond)
	if !now.After(t.s.lastStamp) {
		now = t.s.lastStamp.Add(time.Millisecond)
	}
	t.s.lastStamp = now
	return now.Format("2006-01-02T15:04:05.000Z")
}

func (t *txn) Put(res *fhir.Node, ifMatch int64) (*store.Version, error) {
	typ, id := res.Type, res.ID()
	if !fhir.ValidID(id) {
		return nil, fhir.Invalid("value", typ+".id", "the resource needs a valid id")
	}
	cur, err := t.Current(typ, id)
	var vid int64 = 1
	op := store.OpCreate
	prev := int64(-1)
	switch {
	case err == nil:
		vid, op, prev = cur.VersionID+1, store.OpUpdate, cur.LedgerIndex
	case errors.Is(err, fhir.ErrDeleted):
		vid, prev = cur.VersionID+1, cur.LedgerIndex
	case errors.Is(err, fhir.ErrNotFound):
	default:
		return nil, err
	}
	if ifMatch != 0 && (cur == nil || cur.VersionID != ifMatch) {
		return nil, fhir.ErrConflict
	}
	v := &store.Version{Type: typ, ID: id, VersionID: vid, Op: op, LastUpdated: t.stamp()}
	meta := res.Ensure("meta")
	meta.Set("versionId", strconv.FormatInt(vid, 10))
	meta.Set("lastUpdated", v.LastUpdated)
	v.Body = fhir.Marshal(res)
	if err := t.insert(v, prev); err != nil {
		return nil, err
	}
	if err := t.index(res, typ, id, op == store.OpUpdate); err != nil {
		return nil, err
	}
	return v, nil
}

func (t *txn) Delete(typ, id string, ifMatch int64) (*store.Version, error) {
	cur, err := t.Current(typ, id)
	if err != nil {
		if errors.Is(err, fhir.ErrNotFound) || errors.Is(err, fhir.ErrDeleted) {
			if ifMatch != 0 {
				return nil, fhir.ErrConflict
			}
			return nil, nil
		}
		return nil, err
	}
	if ifMatch != 0 && cur.VersionID != ifMatch {
		return nil, fhir.ErrConflict
	}
	v := &store.Version{Type: typ, ID: id, VersionID: cur.VersionID + 1, Op: store.OpDelete, LastUpdated: t.stamp()}
	if err := t.insert(v, cur.LedgerIndex); err != nil {
		return nil, err
	}
	if err := t.unindex(typ, id); err != nil {
		return nil, err
	}
	return v, nil
}

// insert writes a version row and appends its ledger leaf; prev is the
// ledger index of the resource's previous version, or -1.
func (t *txn) insert(v *store.Version, prev int64) error {
	e := ledger.Entry{
		Type: v.Type, ID: v.ID, VersionID: strconv.FormatInt(v.VersionID, 10), LastUpdated: v.LastUpdated,
		Op: ledger.Op(v.Op), BodyHash: ledger.BodyHash(v.Body), Prev: prev, Key: ledger.NewKey(),
	}
	var idx uint64
	if t.s.ledgerOff {
		t.s.benchSeq++
		idx = t.s.benchSeq
	} else {
		var err error
		if idx, err = t.s.appender.Append(&e); err != nil {
			return fmt.Errorf("sqlite: ledger append: %w", err)
		}
	}
	v.LedgerIndex = int64(idx)
	if _, err := t.exec(qInsertVersion,
		v.Type, v.ID, v.VersionID, v.LastUpdated, string(v.Op), v.Body, v.LedgerIndex, e.Key, prev); err != nil {
		return fmt.Errorf("sqlite: insert version: %w", err)
	}
	deleted := 0
	if v.Deleted() {
		deleted = 1
	}
	if _, err := t.exec(qUpsertCurrent,
		v.Type, v.ID, v.VersionID, deleted, v.LedgerIndex); err != nil {
		return fmt.Errorf("sqlite: update current: %w", err)
	}
	return nil
}

var indexTables = []string{"idx_token", "idx_string", "idx_reference", "idx_uri", "idx_date", "idx_number", "idx_quantity"}

func (t *txn) unindex(typ, id string) error {
	for _, table := range indexTables {
		if _, err := t.exec(`DELETE FROM `+table+` WHERE rtype = ? AND id = ?`, typ, id); err != nil {
			return fmt.Errorf("sqlite: clear index: %w", err)
		}
	}
	return nil
}

// index writes res's index rows; replace clears the previous version's
// first (a create has none: deletes and erasures already cleared them).
func (t *txn) index(res *fhir.Node, typ, id string, replace bool) error {
	if replace {
		if err := t.unindex(typ, id); err != nil {
			return err
		}
	}
	if t.s.opts.Indexer == nil {
		return nil
	}
	for _, e := range t.s.opts.Indexer(res) {
		var err error
		switch e.Kind {
		case search.Token:
			_, err = t.exec(qInsertToken, typ, id, e.Param, e.System, e.Code, e.Value)
		case search.String:
			_, err = t.exec(qInsertString, typ, id, e.Param, e.Value)
		case search.Reference:
			tid := e.Value
			if i := strings.LastIndexByte(tid, '/'); i >= 0 {
				tid = tid[i+1:]
			}
			_, err = t.exec(qInsertReference, typ, id, e.Param, e.Value, tid)
		case search.URI:
			_, err = t.exec(qInsertURI, typ, id, e.Param, e.Value)
		case search.Date:
			_, err = t.exec(qInsertDate, typ, id, e.Param, e.Low, e.High)
		case search.Number:
			_, err = t.exec(qInsertNumber, typ, id, e.Param, (e.LowNum+e.HighNum)/2, e.LowNum, e.HighNum)
		case search.Quantity:
			_, err = t.exec(qInsertQuantity, typ, id, e.Param, e.System, e.Code, (e.LowNum+e.HighNum)/2, e.LowNum, e.HighNum)
		}
		if err != nil {
			return fmt.Errorf("sqlite: insert index row: %w", err)
		}
	}
	return nil
}

func (t *txn) Search(q *store.Query) (*store.Page, error) { return runSearch(t.tx, q) }

func (t *txn) Erase(target fhir.Ref, resources []fhir.Ref) (*store.Erasure, error) {
	var indices []uint64
	for _, r := range resources {
		rows, err := t.tx.Query(`SELECT ledger_index FROM resource_version WHERE rtype = ? AND id = ? AND ledger_key IS NOT NULL`, r.Type, r.ID)
		if err != nil {
			return nil, err
		}
		n := len(indices)
		for rows.Next() {
			var i int64
			if err := rows.Scan(&i); err != nil {
				rows.Close()
				return nil, err
			}
			indices = append(indices, uint64(i))
		}
		rows.Close()
		if len(indices) == n {
			continue
		}
		if _, err := t.exec(`UPDATE resource_version SET body = NULL, ledger_key = NULL WHERE rtype = ? AND id = ?`, r.Type, r.ID); err != nil {
			return nil, fmt.Errorf("sqlite: erase: %w", err)
		}
		if _, err := t.exec(`UPDATE resource_current SET deleted = 1 WHERE rtype = ? AND id = ?`, r.Type, r.ID); err != nil {
			return nil, fmt.Errorf("sqlite: erase: %w", err)
		}
		if err := t.unindex(r.Type, r.ID); err != nil {
			return nil, err
		}
	}
	if len(indices) == 0 {
		return nil, fhir.ErrNotFound
	}
	body, err := ledger.EncodeErasure(indices)
	if err != nil {
		return nil, err
	}
	var prev sql.NullInt64
	var seq int64
	if err := t.tx.QueryRow(`SELECT max(ledger_index), count(*) FROM ledger_erasure WHERE rtype = ? AND id = ?`, target.Type, target.ID).Scan(&prev, &seq); err != nil {
		return nil, err
	}
	e := ledger.Entry{
		Type: target.Type, ID: target.ID, VersionID: strconv.FormatInt(seq+1, 10), LastUpdated: t.stamp(),
		Op: ledger.OpErase, BodyHash: ledger.BodyHash(body), Prev: -1, Key: ledger.NewKey(),
	}
	if prev.Valid {
		e.Prev = prev.Int64
	}
	idx, err := t.s.appender.Append(&e)
	if err != nil {
		return nil, fmt.Errorf("sqlite: ledger append: %w", err)
	}
	if _, err := t.exec(`INSERT INTO ledger_erasure (ledger_index, rtype, id, seq, last_updated, prev_index, body, ledger_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(idx), target.Type, target.ID, seq+1, e.LastUpdated, e.Prev, body, e.Key); err != nil {
		return nil, fmt.Errorf("sqlite: erasure record: %w", err)
	}
	return &store.Erasure{LedgerIndex: int64(idx), Versions: len(indices), LastUpdated: e.LastUpdated}, nil
}

// Read implements store.Store.
func (s *Store) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	return readCurrent(readConn{ctx, s.r, s.readStmt}, typ, id)
}

// readConn adapts *sql.DB with a context to queryer.
type readConn struct {
	ctx     context.Context
	db      *sql.DB
	current *sql.Stmt // qReadCurrent prepared on the pool, or nil
}

func (c readConn) QueryRow(q string, args ...any) *sql.Row {
	if c.current != nil && q == qReadCurrent {
		return c.current.QueryRowContext(c.ctx, args...)
	}
	return c.db.QueryRowContext(c.ctx, q, args...)
}
func (c readConn) Query(q string, args ...any) (*sql.Rows, error) {
	return c.db.QueryContext(c.ctx, q, args...)
}

// VRead implements store.Store.
func (s *Store) VRead(ctx context.Context, typ, id string, vid int64) (*store.Version, error) {
	v := &store.Version{Type: typ, ID: id, VersionID: vid}
	var op string
	err := s.readVersion.QueryRowContext(ctx, typ, id, vid).Scan(&v.LastUpdated, &op, &v.Body, &v.LedgerIndex)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fhir.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	v.Op = store.Op(op)
	if v.Body == nil && !v.Deleted() {
		return v, fhir.ErrDeleted // erased
	}
	return v, nil
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, q store.HistoryQuery) ([]store.Version, error) {
	var where []string
	var args []any
	if q.Type != "" {
		where = append(where, "rtype = ?")
		args = append(args, q.Type)
	}
	if q.ID != "" {
		where = append(where, "id = ?")
		args = append(args, q.ID)
	}
	if !q.Since.IsZero() {
		where = append(where, "last_updated >= ?")
		args = append(args, q.Since.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if !q.At.IsZero() {
		// Versions current at the instant: the newest version of each
		// resource with lastUpdated at or before it.
		where = append(where, `last_updated <= ? AND NOT EXISTS (SELECT 1 FROM resource_version n
			WHERE n.rtype = resource_version.rtype AND n.id = resource_version.id AND n.vid > resource_version.vid AND n.last_updated <= ?)`)
		at := q.At.UTC().Format("2006-01-02T15:04:05.000Z")
		args = append(args, at, at)
	}
	if q.Before > 0 {
		where = append(where, "ledger_index < ?")
		args = append(args, q.Before)
	}
	sqlText := `SELECT rtype, id, vid, last_updated, op, body, ledger_index FROM resource_version`
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	sqlText += " ORDER BY ledger_index DESC"
	if q.Count > 0 {
		sqlText += " LIMIT " + strconv.Itoa(q.Count)
	}
	rows, err := s.r.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, err
	}
	return scanVersions(rows)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
