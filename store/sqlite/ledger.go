package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/ledger"
	"github.com/fhirseal/fhirseal/store"
)

// openLedger loads the head, checks it against the stored nodes and starts
// the appender (and the checkpointer when a key is configured). A store
// whose ledger disagrees with itself refuses to open: serving writes on top
// of it would seal a broken history.
func (s *Store) openLedger() error {
	ctx := context.Background()
	var head ledger.Head
	var raw []byte
	err := s.w.QueryRow(`SELECT head FROM ledger_head WHERE one = 1`).Scan(&raw)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		var n int64
		if err := s.w.QueryRow(`SELECT count(*) FROM ledger_leaf`).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			return fmt.Errorf("sqlite: ledger has %d leaves but no head", n)
		}
		head = ledger.Head{Root: ledger.EmptyRoot()}
	case err != nil:
		return err
	default:
		if err := head.UnmarshalBinary(raw); err != nil {
			return fmt.Errorf("sqlite: ledger head: %w", err)
		}
		if err := s.checkHead(ctx, head); err != nil {
			return err
		}
	}
	a, err := ledger.NewAppender(head)
	if err != nil {
		return fmt.Errorf("sqlite: ledger head: %w", err)
	}
	s.appender = a
	var last sql.NullString
	if err := s.w.QueryRow(`SELECT max(last_updated) FROM resource_version`).Scan(&last); err != nil {
		return err
	}
	if last.Valid {
		if t, err := time.Parse(time.RFC3339Nano, last.String); err == nil {
			s.lastStamp = t
		}
	}
	if s.opts.LedgerKey != nil {
		var note []byte
		err := s.w.QueryRow(`SELECT note FROM ledger_checkpoint ORDER BY size DESC LIMIT 1`).Scan(&note)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		cp, err := ledger.NewCheckpointer(s.opts.LedgerKey, note)
		if err != nil {
			return fmt.Errorf("sqlite: latest checkpoint: %w", err)
		}
		s.checkpointer = cp
	}
	return nil
}

// checkHead verifies that the head's root is the root the stored nodes
// give, and that leaves and versions reach exactly to the head's size.
func (s *Store) checkHead(ctx context.Context, head ledger.Head) error {
	if err := head.Validate(); err != nil {
		return fmt.Errorf("sqlite: ledger head: %w", err)
	}
	if head.Size > 0 {
		root, err := ledger.RootAt(ctx, nodeReader{s.w}, head.Size)
		if err != nil {
			return fmt.Errorf("sqlite: ledger nodes do not reach the head: %w", err)
		}
		if string(root) != string(head.Root) {
			return errors.New("sqlite: the ledger head's root differs from the stored nodes; refusing to serve writes (run fhirseal verify)")
		}
	}
	var leaves, maxVersion sql.NullInt64
	if err := s.w.QueryRow(`SELECT max(idx) FROM ledger_leaf`).Scan(&leaves); err != nil {
		return err
	}
	if err := s.w.QueryRow(`SELECT max(ledger_index) FROM resource_version`).Scan(&maxVersion); err != nil {
		return err
	}
	want := int64(head.Size) - 1
	if (leaves.Valid && leaves.Int64 != want) || (!leaves.Valid && want != -1) {
		return fmt.Errorf("sqlite: ledger leaves end at %d but the head has size %d; refusing to serve writes", leaves.Int64, head.Size)
	}
	if maxVersion.Valid && maxVersion.Int64 > want {
		return fmt.Errorf("sqlite: a version has ledger index %d beyond the head (size %d); refusing to serve writes", maxVersion.Int64, head.Size)
	}
	return nil
}

// sqlWriter implements ledger.Writer on the write transaction, with the
// statements prepared at Open.
type sqlWriter struct{ t *txn }

func (w sqlWriter) PutLeaves(ctx context.Context, start uint64, leaves [][]byte) error {
	for i, l := range leaves {
		if _, err := w.t.exec(qInsertLeaf, int64(start)+int64(i), l); err != nil {
			return err
		}
	}
	return nil
}

func (w sqlWriter) PutNodes(ctx context.Context, nodes []ledger.Node) error {
	for _, n := range nodes {
		if _, err := w.t.exec(qInsertNode, int64(n.ID.Level), int64(n.ID.Index), n.Hash); err != nil {
			return err
		}
	}
	return nil
}

func (w sqlWriter) PutHead(ctx context.Context, h ledger.Head) error {
	b, err := h.MarshalBinary()
	if err != nil {
		return err
	}
	_, err = w.t.exec(qPutHead, b)
	return err
}

// nodeReader implements ledger.NodeReader and ledger.LeafReader on a
// connection pool.
type nodeReader struct{ db *sql.DB }

func (r nodeReader) Nodes(ctx context.Context, ids []ledger.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		err := r.db.QueryRowContext(ctx, `SELECT hash FROM ledger_node WHERE level = ? AND idx = ?`, int64(id.Level), int64(id.Index)).Scan(&out[i])
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("node %d/%d: %w", id.Level, id.Index, ledger.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r nodeReader) Leaves(ctx context.Context, start, n uint64) ([][]byte, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT idx, leaf FROM ledger_leaf WHERE idx >= ? ORDER BY idx LIMIT ?`, int64(start), int64(n))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var idx int64
		var leaf []byte
		if err := rows.Scan(&idx, &leaf); err != nil {
			return nil, err
		}
		if uint64(idx) != start+uint64(len(out)) {
			return nil, fmt.Errorf("leaf %d: %w", start+uint64(len(out)), ledger.ErrNotFound)
		}
		out = append(out, leaf)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if uint64(len(out)) != n {
		return nil, fmt.Errorf("leaf %d: %w", start+uint64(len(out)), ledger.ErrNotFound)
	}
	return out, nil
}

// Nodes implements ledger.NodeReader for proofs and tiles. Nodes are
// immutable once committed, so those high in the tree, which every proof
// passes through, are served from memory after their first read; the rest
// are read in one query.
func (s *Store) Nodes(ctx context.Context, ids []ledger.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	var miss []int
	s.nodes.mu.RLock()
	for i, id := range ids {
		if h, ok := s.nodes.m[id]; ok {
			out[i] = h
		} else {
			miss = append(miss, i)
		}
	}
	s.nodes.mu.RUnlock()
	for len(miss) > 0 {
		n := min(len(miss), maxNodeBatch)
		if err := s.readNodes(ctx, ids, miss[:n], out); err != nil {
			return nil, err
		}
		miss = miss[n:]
	}
	return out, nil
}

// maxNodeBatch bounds the nodes read by one query: a proof in a tree of
// 2^32 leaves needs at most 64.
const maxNodeBatch = 64

// readNodes reads ids[i] for each i in want into out, in one query, and
// caches the upper ones.
func (s *Store) readNodes(ctx context.Context, ids []ledger.NodeID, want []int, out [][]byte) error {
	st, err := s.nodes.stmt(s.r, len(want))
	if err != nil {
		return err
	}
	args := make([]any, 0, 2*len(want))
	for _, i := range want {
		args = append(args, int64(ids[i].Level), int64(ids[i].Index))
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	got := make(map[ledger.NodeID][]byte, len(want))
	for rows.Next() {
		var level, idx int64
		var h []byte
		if err := rows.Scan(&level, &idx, &h); err != nil {
			return err
		}
		got[ledger.NodeID{Level: uint(level), Index: uint64(idx)}] = h
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, i := range want {
		h, ok := got[ids[i]]
		if !ok {
			return fmt.Errorf("node %d/%d: %w", ids[i].Level, ids[i].Index, ledger.ErrNotFound)
		}
		out[i] = h
	}
	s.nodes.add(got)
	return nil
}

// nodeCache keeps committed ledger nodes at cachedLevel and above: one per
// 2^cachedLevel leaves and level, a few percent of the tree, bounded by
// maxCachedNodes. It is filled only from reads of the read pool, which see
// committed rows only, so a rolled-back write never leaves a node in it.
type nodeCache struct {
	mu sync.RWMutex
	m  map[ledger.NodeID][]byte

	stmtMu sync.Mutex
	stmts  map[int]*sql.Stmt // by number of nodes asked
}

const (
	cachedLevel    = 5
	maxCachedNodes = 1 << 20
)

func (c *nodeCache) add(got map[ledger.NodeID][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[ledger.NodeID][]byte)
	}
	for id, h := range got {
		if id.Level >= cachedLevel && len(c.m) < maxCachedNodes {
			c.m[id] = h
		}
	}
}

// stmt returns the statement reading n nodes by (level, idx), prepared on
// first use.
func (c *nodeCache) stmt(db *sql.DB, n int) (*sql.Stmt, error) {
	c.stmtMu.Lock()
	defer c.stmtMu.Unlock()
	if st := c.stmts[n]; st != nil {
		return st, nil
	}
	// An OR of primary-key equalities: SQLite answers it with one index
	// search per term (a row-value IN list would scan the table).
	q := "SELECT level, idx, hash FROM ledger_node WHERE (level = ? AND idx = ?)" + strings.Repeat(" OR (level = ? AND idx = ?)", n-1)
	st, err := db.Prepare(q)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = make(map[int]*sql.Stmt)
	}
	c.stmts[n] = st
	return st, nil
}

func (c *nodeCache) close() {
	c.stmtMu.Lock()
	defer c.stmtMu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
}

// Leaves implements ledger.LeafReader for entry bundles.
func (s *Store) Leaves(ctx context.Context, start, n uint64) ([][]byte, error) {
	return nodeReader{s.r}.Leaves(ctx, start, n)
}

// LedgerHead returns the committed head of the ledger.
func (s *Store) LedgerHead() ledger.Head { return s.appender.Head() }

// Checkpoint returns the latest signed checkpoint note, or the one whose
// tree size is size (size > 0).
func (s *Store) Checkpoint(ctx context.Context, size uint64) ([]byte, error) {
	if size == 0 && s.checkpointer != nil {
		// The latest note is kept in memory once signed or loaded.
		if _, note := s.checkpointer.Latest(); note != nil {
			return note, nil
		}
	}
	var note []byte
	var err error
	if size == 0 {
		err = s.r.QueryRowContext(ctx, `SELECT note FROM ledger_checkpoint ORDER BY size DESC LIMIT 1`).Scan(&note)
	} else {
		err = s.r.QueryRowContext(ctx, `SELECT note FROM ledger_checkpoint WHERE size = ?`, int64(size)).Scan(&note)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fhir.ErrNotFound
	}
	return note, err
}

// VersionOpening returns what opens a version's commitment, read in one
// query: its index and leaf, its key (nil once erased) and the ledger index
// of the resource's previous version.
func (s *Store) VersionOpening(ctx context.Context, typ, id string, vid int64) (ledger.Opening, error) {
	var o ledger.Opening
	var index int64
	err := s.readOpening.QueryRowContext(ctx, typ, id, vid).Scan(&index, &o.Leaf, &o.Key, &o.Prev)
	if errors.Is(err, sql.ErrNoRows) {
		return o, fhir.ErrNotFound
	}
	o.Index = uint64(index)
	return o, err
}

// WaitCheckpoint blocks until a signed checkpoint covers index, or ctx ends.
func (s *Store) WaitCheckpoint(ctx context.Context, index int64) error {
	if s.checkpointer == nil {
		return errors.New("sqlite: checkpoints are not signed on this store")
	}
	for {
		s.signedMu.Lock()
		ch := s.signed
		s.signedMu.Unlock()
		if cp, _ := s.checkpointer.Latest(); int64(cp.Size) > index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Store) checkpointLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if err := s.checkpoint(context.Background()); err != nil {
				s.opts.Logger.Error("checkpoint", "err", err)
			}
		}
	}
}

// checkpoint signs the committed head if it grew, and stores the note.
func (s *Store) checkpoint(ctx context.Context) error {
	head := s.appender.Head()
	if cp, _ := s.checkpointer.Latest(); cp.Size >= head.Size && cp.Size > 0 {
		return nil
	}
	if head.Size == 0 {
		return nil
	}
	note, err := s.checkpointer.Sign(ctx, nodeReader{s.w}, head)
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO ledger_checkpoint (size, note) VALUES (?, ?) ON CONFLICT (size) DO NOTHING`, int64(head.Size), note); err != nil {
		return fmt.Errorf("store checkpoint: %w", err)
	}
	s.signedMu.Lock()
	close(s.signed)
	s.signed = make(chan struct{})
	s.signedMu.Unlock()
	return nil
}

var _ store.Store = (*Store)(nil)
