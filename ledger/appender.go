package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
)

// Appender grows the tree inside the store's write transactions.
//
// It keeps two states: the committed one (what the database holds after its
// last commit) and, while a transaction is open, the working one. The store
// drives it like this, from its single writer goroutine:
//
//	a.Begin()
//	for each request in the group:
//		SAVEPOINT; s := a.Snapshot()
//		i, err := a.Append(&entry)        // i goes into the version row
//		... on failure: ROLLBACK TO SAVEPOINT; a.Restore(s)
//	a.Flush(ctx, tx)                      // leaves, nodes, head into the transaction
//	COMMIT; then a.Commit()  (or a.Rollback() if the commit failed)
//
// Flush may also be called inside each savepoint; a Snapshot taken before a
// Flush restores the "already written" bookkeeping too, matching the rows the
// savepoint rollback removes. Snapshots cost O(log n): the compact range is at
// most 64 hashes and the pending lists are only truncated.
//
// Only Head is safe for concurrent use; the other methods belong to the one
// goroutine that owns write transactions.
type Appender struct {
	mu        sync.Mutex // guards committed, for Head
	committed Head

	open    bool
	gen     uint64 // increments per transaction, to catch stale snapshots
	base    uint64 // committed size when the transaction began
	cur     *compact.Range
	leaves  [][]byte
	nodes   []Node
	wLeaves int  // leaves already passed to a Writer
	wNodes  int  // nodes already passed to a Writer
	dirty   bool // head changed since the last Flush
	visit   compact.VisitFn
	lb      leafBuilder
}

// NewAppender returns an Appender continuing from h, the head last
// committed to the store. Head{} starts an empty ledger.
func NewAppender(h Head) (*Appender, error) {
	if _, err := h.compactRange(); err != nil {
		return nil, err
	}
	a := &Appender{committed: copyHead(h)}
	if a.committed.Size == 0 {
		a.committed.Root = EmptyRoot()
	}
	a.visit = func(id compact.NodeID, hash []byte) {
		a.nodes = append(a.nodes, Node{ID: id, Hash: hash})
	}
	return a, nil
}

// Head returns the committed head. It is safe to call from any goroutine.
func (a *Appender) Head() Head {
	a.mu.Lock()
	defer a.mu.Unlock()
	return copyHead(a.committed)
}

var errNotOpen = errors.New("ledger: no open transaction")

// Begin opens a transaction on the committed state. It fails if one is
// already open.
func (a *Appender) Begin() error {
	if a.open {
		return errors.New("ledger: transaction already open")
	}
	r, err := a.committed.compactRange()
	if err != nil {
		return err
	}
	a.open = true
	a.gen++
	a.base = a.committed.Size
	a.cur = r
	a.leaves, a.nodes = a.leaves[:0], a.nodes[:0]
	a.wLeaves, a.wNodes = 0, 0
	a.dirty = false
	return nil
}

// Append adds the leaf for e and returns its index. e.Prev, if set, must
// name an earlier leaf.
func (a *Appender) Append(e *Entry) (uint64, error) {
	if !a.open {
		return 0, errNotOpen
	}
	if e.Prev >= 0 && uint64(e.Prev) >= a.cur.End() {
		return 0, fmt.Errorf("ledger: prev %d is not before index %d", e.Prev, a.cur.End())
	}
	if err := e.Validate(); err != nil {
		return 0, err
	}
	return a.append(bytes.Clone(a.lb.leaf(e)))
}

// AppendLeaf adds a leaf built elsewhere (for example by an outbox
// integrator) after checking that it parses.
func (a *Appender) AppendLeaf(leaf []byte) (uint64, error) {
	if !a.open {
		return 0, errNotOpen
	}
	if _, err := ParseLeaf(leaf); err != nil {
		return 0, err
	}
	return a.append(append([]byte(nil), leaf...))
}

func (a *Appender) append(leaf []byte) (uint64, error) {
	i := a.cur.End()
	h := leafHash(leaf)
	if err := a.cur.Append(h[:], a.visit); err != nil {
		return 0, err
	}
	a.leaves = append(a.leaves, leaf)
	a.dirty = true
	return i, nil
}

// Snapshot records the working state, to be restored if the request (the
// savepoint) that follows rolls back.
type Snapshot struct {
	gen            uint64
	size           uint64
	hashes         [][]byte
	leaves, nodes  int
	wLeaves, wNode int
	dirty          bool
}

// Snapshot returns the working state of the open transaction.
func (a *Appender) Snapshot() Snapshot {
	if !a.open {
		return Snapshot{}
	}
	return Snapshot{
		gen:     a.gen,
		size:    a.cur.End(),
		hashes:  cloneHashes(a.cur.Hashes()),
		leaves:  len(a.leaves),
		nodes:   len(a.nodes),
		wLeaves: a.wLeaves,
		wNode:   a.wNodes,
		dirty:   a.dirty,
	}
}

// Restore returns the working state to s, as if nothing had been appended
// or flushed since s was taken. It panics if s was taken in another
// transaction, which would silently corrupt the tree.
func (a *Appender) Restore(s Snapshot) {
	if !a.open || s.gen != a.gen {
		panic("ledger: Restore of a snapshot from another transaction")
	}
	r, err := rangeFactory.NewRange(0, s.size, cloneHashes(s.hashes))
	if err != nil {
		panic("ledger: corrupt snapshot: " + err.Error())
	}
	a.cur = r
	clear(a.leaves[s.leaves:])
	clear(a.nodes[s.nodes:])
	a.leaves, a.nodes = a.leaves[:s.leaves], a.nodes[:s.nodes]
	a.wLeaves, a.wNodes = s.wLeaves, s.wNode
	a.dirty = s.dirty
}

// Pending returns the head of the open transaction, including everything
// appended so far.
func (a *Appender) Pending() (Head, error) {
	if !a.open {
		return Head{}, errNotOpen
	}
	return a.workingHead()
}

func (a *Appender) workingHead() (Head, error) {
	h := Head{Size: a.cur.End(), Range: cloneHashes(a.cur.Hashes())}
	if h.Size == 0 {
		h.Root = EmptyRoot()
		return h, nil
	}
	root, err := a.cur.GetRootHash(nil)
	if err != nil {
		return Head{}, err
	}
	h.Root = root
	return h, nil
}

// Flush passes everything appended since the last Flush to w, then the new
// head. If it fails, the caller must roll back the transaction (Rollback) or
// the savepoint (Restore of an earlier snapshot).
func (a *Appender) Flush(ctx context.Context, w Writer) error {
	if !a.open {
		return errNotOpen
	}
	if !a.dirty {
		return nil
	}
	if l := a.leaves[a.wLeaves:]; len(l) > 0 {
		if err := w.PutLeaves(ctx, a.base+uint64(a.wLeaves), l); err != nil {
			return err
		}
	}
	if n := a.nodes[a.wNodes:]; len(n) > 0 {
		if err := w.PutNodes(ctx, n); err != nil {
			return err
		}
	}
	h, err := a.workingHead()
	if err != nil {
		return err
	}
	if err := w.PutHead(ctx, h); err != nil {
		return err
	}
	a.wLeaves, a.wNodes = len(a.leaves), len(a.nodes)
	a.dirty = false
	return nil
}

// Commit makes the working state the committed state. Call it after the
// database transaction committed. It fails, leaving the transaction open,
// if appends were not flushed: the database would not hold them.
func (a *Appender) Commit() error {
	if !a.open {
		return errNotOpen
	}
	if a.dirty {
		return errors.New("ledger: commit with unflushed appends")
	}
	h, err := a.workingHead()
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.committed = h
	a.mu.Unlock()
	a.end()
	return nil
}

// Rollback discards the open transaction, if any.
func (a *Appender) Rollback() {
	if a.open {
		a.end()
	}
}

func (a *Appender) end() {
	a.open = false
	a.cur = nil
	clear(a.leaves)
	clear(a.nodes)
	a.leaves, a.nodes = a.leaves[:0], a.nodes[:0]
}

func copyHead(h Head) Head {
	h.Root = append([]byte(nil), h.Root...)
	h.Range = cloneHashes(h.Range)
	return h
}
