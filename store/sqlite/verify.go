package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"

	"golang.org/x/mod/sumdb/note"

	"github.com/fhirseal/fhirseal/ledger"
)

// Verify audits the database file at path offline: it recomputes every leaf
// from the stored versions and keys, rebuilds the tree and checks every
// node, the head, the checkpoints (signed by v), the prev chains and the
// erasures (ledger.Audit), and that the current-version pointers reads
// follow agree with the versions. trusted, when not nil, is a checkpoint
// obtained elsewhere that the stored ledger must contain. The file is opened
// read only, everything is read in one read transaction (one snapshot, even
// while a server writes), and nothing is written.
func Verify(ctx context.Context, path string, v note.Verifier, trusted []byte) (*ledger.Report, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(on)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// The audit reads every row of the ledger and version tables; it talks
	// to the driver directly, which spares database/sql's per-value
	// conversions and copies (the driver returns fresh slices).
	var rep *ledger.Report
	err = conn.Raw(func(dc any) error {
		q, ok1 := dc.(driver.QueryerContext)
		x, ok2 := dc.(driver.ExecerContext)
		if !ok1 || !ok2 {
			return errors.New("sqlite: the driver cannot run queries directly")
		}
		if _, err := x.ExecContext(ctx, "BEGIN", nil); err != nil {
			return err
		}
		defer x.ExecContext(context.Background(), "ROLLBACK", nil)
		var err error
		rep, err = audit(ctx, q, v, trusted)
		return err
	})
	return rep, err
}

func audit(ctx context.Context, q driver.QueryerContext, v note.Verifier, trusted []byte) (*ledger.Report, error) {
	in := ledger.AuditInput{Verifier: v, Trusted: trusted}
	var headErr error
	heads, err := collect(ctx, q, `SELECT head FROM ledger_head WHERE one = 1`, func(r []driver.Value) ([]byte, error) { return blob(r[0]) })
	switch {
	case err != nil:
		return nil, err
	case len(heads) == 0:
		in.Head = ledger.Head{Root: ledger.EmptyRoot()}
	default:
		if headErr = in.Head.UnmarshalBinary(heads[0]); headErr != nil {
			// A head that does not decode is a finding, not a reason to
			// stop: the tree the leaves give is audited all the same.
			n, err := collect(ctx, q, `SELECT count(*) FROM ledger_leaf`, func(r []driver.Value) (int64, error) { return integer(r[0]) })
			if err != nil {
				return nil, err
			}
			in.Head = ledger.Head{Size: uint64(n[0])}
		}
	}
	var misfiled []ledger.Finding
	in.Checkpoints, err = collect(ctx, q, `SELECT size, note FROM ledger_checkpoint ORDER BY size`, func(r []driver.Value) ([]byte, error) {
		size, err := integer(r[0])
		if err != nil {
			return nil, err
		}
		n, err := blob(r[1])
		// The row's size is what /ledger/checkpoint/{size} serves the note
		// under; a note filed under another size is tampering even if its
		// signature holds.
		if cp, perr := ledger.ParseCheckpoint(checkpointText(n)); perr == nil && int64(cp.Size) != size {
			misfiled = append(misfiled, ledger.Finding{Kind: ledger.KindCheckpointInvalid, Index: -1,
				Message: fmt.Sprintf("the checkpoint stored under size %d is for size %d", size, cp.Size)})
		}
		return n, err
	})
	if err != nil {
		return nil, err
	}
	in.Nodes = query(ctx, q, `SELECT level, idx, hash FROM ledger_node`, func(r []driver.Value) (n ledger.Node, err error) {
		level, err1 := integer(r[0])
		idx, err2 := integer(r[1])
		n.Hash, err = blob(r[2])
		n.ID = ledger.NodeID{Level: uint(level), Index: uint64(idx)}
		return n, errors.Join(err1, err2, err)
	})
	in.Leaves = query(ctx, q, `SELECT idx, leaf FROM ledger_leaf ORDER BY idx`, func(r []driver.Value) (l ledger.StoredLeaf, err error) {
		idx, err1 := integer(r[0])
		l.Leaf, err = blob(r[1])
		l.Index = uint64(idx)
		return l, errors.Join(err1, err)
	})
	latest := make(map[resKey]current)
	scanVersion := func(r []driver.Value) (v ledger.Version, err error) {
		idx, e1 := integer(r[0])
		v.Type, v.ID = text(r[1]), text(r[2])
		vid, e2 := integer(r[3])
		v.LastUpdated, v.Op = text(r[4]), ledger.Op(text(r[5]))
		v.Prev, err = integer(r[6])
		body, e3 := blob(r[7])
		key, e4 := blob(r[8])
		if err = errors.Join(e1, e2, err, e3, e4); err != nil {
			return v, fmt.Errorf("version row %d: %w", idx, err)
		}
		v.Index, v.VersionID, v.Body, v.Key = uint64(idx), strconv.FormatInt(vid, 10), body, key
		if v.Op == ledger.OpDelete && v.Key != nil && v.Body == nil {
			v.Body = []byte{} // a tombstone's stored body is empty, not erased
		}
		if v.Op != ledger.OpErase {
			// Versions arrive in ledger order: the last one seen of a
			// resource is its latest.
			latest[resKey{v.Type, v.ID}] = current{vid: vid, index: idx, gone: v.Op == ledger.OpDelete || v.Body == nil}
		}
		return v, nil
	}
	// Erasure records are few: read first, they are merged into the scan
	// of the versions by index (cheaper than a merge in SQL).
	erasures, err := collect(ctx, q, `SELECT ledger_index, rtype, id, seq, last_updated, 'erase', prev_index, body, ledger_key FROM ledger_erasure ORDER BY ledger_index`, scanVersion)
	if err != nil {
		return nil, err
	}
	in.Versions = mergeByIndex(query(ctx, q, `SELECT ledger_index, rtype, id, vid, last_updated, op, prev_index, body, ledger_key FROM resource_version ORDER BY ledger_index`, scanVersion), erasures)
	rep, err := ledger.Audit(ctx, in)
	if err != nil {
		return nil, err
	}
	if headErr != nil {
		rep.Add(ledger.Finding{Kind: ledger.KindHeadMismatch, Index: -1, Message: "the head row does not decode: " + headErr.Error()})
	}
	for _, f := range misfiled {
		rep.Add(f)
	}
	if err := checkCurrent(ctx, q, latest, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// Column values as the driver returns them: int64, float64, bool,
// []byte, string, time.Time or nil.

func integer(v driver.Value) (int64, error) {
	if n, ok := v.(int64); ok {
		return n, nil
	}
	return 0, fmt.Errorf("an integer column holds %T", v)
}

func blob(v driver.Value) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case string:
		return []byte(b), nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("a blob column holds %T", v)
}

func text(v driver.Value) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// current is what resource_current should say of a resource.
type current struct {
	vid, index int64
	gone       bool // deleted or erased
}

// checkCurrent compares resource_current, the pointer reads follow, with
// the latest version of each resource seen by the audit: same version, same
// leaf, and deleted exactly when that version is a tombstone or erased. It
// also finds resources with versions but no pointer, and pointers with no
// versions.
func checkCurrent(ctx context.Context, q driver.QueryerContext, latest map[resKey]current, rep *ledger.Report) error {
	for row, err := range query(ctx, q, `SELECT rtype, id, vid, deleted, ledger_index FROM resource_current`, func(r []driver.Value) (row struct {
		k resKey
		c current
	}, err error) {
		row.k = resKey{text(r[0]), text(r[1])}
		vid, e1 := integer(r[2])
		deleted, e2 := integer(r[3])
		index, e3 := integer(r[4])
		row.c = current{vid: vid, index: index, gone: deleted != 0}
		return row, errors.Join(e1, e2, e3)
	}) {
		if err != nil {
			return err
		}
		k, c := row.k, row.c
		want, ok := latest[k]
		switch {
		case !ok:
			rep.Add(ledger.Finding{Kind: ledger.KindCurrentMismatch, Index: c.index, Resource: k.typ + "/" + k.id,
				Message: "a current-version pointer names a resource that has no versions"})
		case want != c:
			rep.Add(ledger.Finding{Kind: ledger.KindCurrentMismatch, Index: c.index, Resource: fmt.Sprintf("%s/%s/_history/%d", k.typ, k.id, c.vid),
				Message: fmt.Sprintf("the current-version pointer disagrees with the latest version (%d at leaf %d)", want.vid, want.index)})
		}
		delete(latest, k)
	}
	for k, want := range latest {
		rep.Add(ledger.Finding{Kind: ledger.KindCurrentMismatch, Index: want.index, Resource: fmt.Sprintf("%s/%s/_history/%d", k.typ, k.id, want.vid),
			Message: "the resource has versions but no current-version pointer"})
	}
	return nil
}

// checkpointText is a signed note's text, before the blank line that starts
// its signatures.
func checkpointText(note []byte) []byte {
	if i := bytes.Index(note, []byte("\n\n")); i >= 0 {
		return note[:i+1]
	}
	return note
}

// mergeByIndex yields the versions of vs and the erasure records es (in
// index order) together, in index order.
func mergeByIndex(vs iter.Seq2[ledger.Version, error], es []ledger.Version) iter.Seq2[ledger.Version, error] {
	return func(yield func(ledger.Version, error) bool) {
		for v, err := range vs {
			for err == nil && len(es) > 0 && es[0].Index < v.Index {
				if !yield(es[0], nil) {
					return
				}
				es = es[1:]
			}
			if !yield(v, err) || err != nil {
				return
			}
		}
		for _, e := range es {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// collect runs a small query and returns all its rows.
func collect[T any](ctx context.Context, q driver.QueryerContext, text string, scan func([]driver.Value) (T, error)) ([]T, error) {
	var out []T
	for v, err := range query(ctx, q, text, scan) {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// query turns a query into an iterator for ledger.Audit. Rows are read
// and decoded ahead, in batches on a goroutine of their own, so that reading
// the database and the audit's hashing run side by side; the connection is
// used by that goroutine alone until it stops, and the iterator returns only
// once it has stopped, so whatever scan records is complete when the
// iteration ends.
func query[T any](ctx context.Context, q driver.QueryerContext, text string, scan func([]driver.Value) (T, error)) iter.Seq2[T, error] {
	const batch = 256
	type chunk struct {
		items []T
		err   error
	}
	return func(yield func(T, error) bool) {
		ch := make(chan chunk, 4)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer close(ch)
			send := func(c chunk) bool {
				select {
				case ch <- c:
					return true
				case <-stop:
					return false
				}
			}
			rows, err := q.QueryContext(ctx, text, nil)
			if err != nil {
				send(chunk{err: err})
				return
			}
			defer rows.Close()
			dest := make([]driver.Value, len(rows.Columns()))
			items := make([]T, 0, batch)
			for {
				err := rows.Next(dest)
				if err == io.EOF {
					break
				}
				if err != nil {
					send(chunk{items: items, err: err})
					return
				}
				v, err := scan(dest)
				if err != nil {
					send(chunk{items: items, err: err})
					return
				}
				if items = append(items, v); len(items) == batch {
					if !send(chunk{items: items}) {
						return
					}
					items = make([]T, 0, batch)
				}
			}
			send(chunk{items: items})
		}()
		defer func() {
			close(stop)
			<-done
		}()
		var zero T
		for c := range ch {
			for _, v := range c.items {
				if !yield(v, nil) {
					return
				}
			}
			if c.err != nil {
				yield(zero, c.err)
				return
			}
		}
	}
}
