package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"os"

	"golang.org/x/mod/sumdb/note"

	"github.com/fhirseal/fhirseal/ledger"
)

// Verify audits the database file at path offline: it recomputes every leaf
// from the stored versions and keys, rebuilds the tree and checks every
// node, the head, the checkpoints (signed by v), the prev chains and the
// erasures (ledger.Audit). trusted, when not nil, is a checkpoint obtained
// elsewhere that the stored ledger must contain. The file is opened read
// only and nothing is written.
func Verify(ctx context.Context, path string, v note.Verifier, trusted []byte) (*ledger.Report, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(on)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	in := ledger.AuditInput{Verifier: v, Trusted: trusted}
	var raw []byte
	switch err := tx.QueryRowContext(ctx, `SELECT head FROM ledger_head WHERE one = 1`).Scan(&raw); {
	case errors.Is(err, sql.ErrNoRows):
		in.Head = ledger.Head{Root: ledger.EmptyRoot()}
	case err != nil:
		return nil, err
	default:
		if err := in.Head.UnmarshalBinary(raw); err != nil {
			return nil, fmt.Errorf("ledger head row: %w", err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT note FROM ledger_checkpoint ORDER BY size`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var n []byte
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		in.Checkpoints = append(in.Checkpoints, n)
	}
	rows.Close()

	in.Nodes = query(ctx, tx, `SELECT level, idx, hash FROM ledger_node`, func(r *sql.Rows) (ledger.Node, error) {
		var n ledger.Node
		var level, idx int64
		err := r.Scan(&level, &idx, &n.Hash)
		n.ID = ledger.NodeID{Level: uint(level), Index: uint64(idx)}
		return n, err
	})
	in.Leaves = query(ctx, tx, `SELECT idx, leaf FROM ledger_leaf ORDER BY idx`, func(r *sql.Rows) (ledger.StoredLeaf, error) {
		var l ledger.StoredLeaf
		var idx int64
		err := r.Scan(&idx, &l.Leaf)
		l.Index = uint64(idx)
		return l, err
	})
	in.Versions = query(ctx, tx, `SELECT ledger_index, rtype, id, vid, last_updated, op, prev_index, body, ledger_key FROM resource_version
		UNION ALL SELECT ledger_index, rtype, id, seq, last_updated, 'erase', prev_index, body, ledger_key FROM ledger_erasure
		ORDER BY 1`,
		func(r *sql.Rows) (ledger.Version, error) {
			var v ledger.Version
			var idx, vid int64
			var op string
			err := r.Scan(&idx, &v.Type, &v.ID, &vid, &v.LastUpdated, &op, &v.Prev, &v.Body, &v.Key)
			v.Index, v.VersionID, v.Op = uint64(idx), fmt.Sprint(vid), ledger.Op(op)
			if v.Op == ledger.OpDelete && v.Key != nil && v.Body == nil {
				v.Body = []byte{} // a tombstone's stored body is empty, not erased
			}
			return v, err
		})
	return ledger.Audit(ctx, in)
}

// query turns a query into an iterator for ledger.Audit.
func query[T any](ctx context.Context, tx *sql.Tx, q string, scan func(*sql.Rows) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			yield(zero, err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if !yield(v, err) || err != nil {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(zero, err)
		}
	}
}
