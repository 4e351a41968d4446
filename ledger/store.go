package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
)

// NodeID names a node of the tree: Level 0 holds leaf hashes, and node
// (l, i) covers leaves [i<<l, (i+1)<<l). It is merkle's compact.NodeID so
// that IDs from merkle's proof planning pass through unchanged.
type NodeID = compact.NodeID

// Node is one stored tree node: the hash of a complete (perfect) subtree.
// Nodes are immutable once written: a node's hash never changes as the tree
// grows, which is why they can be stored as append-only rows.
type Node struct {
	ID   NodeID
	Hash []byte
}

// Head is the one-row state of the tree: its size, its RFC 6962 root hash,
// and the compact range for [0, Size), which is the roots of the perfect
// subtrees covering the leaves, left to right (at most 64 hashes). Loading
// the head is all an Appender needs to continue appending, so a restart costs
// O(log n) regardless of the ledger size.
type Head struct {
	Size  uint64
	Root  []byte
	Range [][]byte
}

// ErrNotFound is wrapped by readers when a requested node or leaf is not
// stored.
var ErrNotFound = errors.New("ledger: not found")

// NodeReader reads stored nodes. It is all that proofs, past roots and tiles
// need.
type NodeReader interface {
	// Nodes returns the hash of each node in ids, in the same order. It
	// returns an error wrapping ErrNotFound if any is not stored. The
	// returned slices must not be modified by the caller.
	Nodes(ctx context.Context, ids []NodeID) ([][]byte, error)
}

// LeafReader reads stored leaves, for entry bundles and audits.
type LeafReader interface {
	// Leaves returns the n leaves starting at index start. It returns an
	// error wrapping ErrNotFound if any is not stored. The returned slices
	// must not be modified by the caller.
	Leaves(ctx context.Context, start, n uint64) ([][]byte, error)
}

// Opening is what a store keeps to open one version's commitment: the
// version's leaf index and stored leaf, its key (nil once the version is
// erased) and the ledger index of the resource's previous version (-1 for
// none). With a signed checkpoint and an inclusion proof it is everything a
// VersionProof needs besides the version itself.
type Opening struct {
	Index uint64
	Leaf  []byte
	Key   []byte
	Prev  int64
}

// Writer stores what an Appender produces. A store implements it on its
// write transaction so that resource versions and their leaves commit or roll
// back together. Calls arrive in the order PutLeaves, PutNodes, PutHead for
// each Appender.Flush. Leaves and nodes are only ever inserted, never
// updated; the head is a single row that is replaced. Writes need not be
// durable before the transaction commits.
type Writer interface {
	// PutLeaves stores leaves at indices start, start+1, ...
	PutLeaves(ctx context.Context, start uint64, leaves [][]byte) error
	// PutNodes stores new complete-subtree nodes, level 0 (leaf hashes)
	// included.
	PutNodes(ctx context.Context, nodes []Node) error
	// PutHead replaces the head.
	PutHead(ctx context.Context, h Head) error
}

// EmptyRoot returns the RFC 6962 root of the empty tree, SHA-256 of the
// empty string (RFC 6962, section 2.1).
func EmptyRoot() []byte {
	h := BodyHash(nil)
	return h[:]
}

var rangeFactory = &compact.RangeFactory{Hash: hashChildren}

// Validate checks that h is internally consistent: the range has the right
// number of 32-byte hashes for Size and hashes to Root. A zero Head is the
// valid head of the empty tree.
func (h Head) Validate() error {
	_, err := h.compactRange()
	return err
}

func (h Head) compactRange() (*compact.Range, error) {
	if n := compact.RangeSize(0, h.Size); len(h.Range) != n {
		return nil, fmt.Errorf("ledger: head of size %d has %d range hashes, want %d", h.Size, len(h.Range), n)
	}
	for _, x := range h.Range {
		if len(x) != HashSize {
			return nil, errors.New("ledger: head range hash has wrong size")
		}
	}
	if h.Size == 0 {
		if h.Root != nil && !bytes.Equal(h.Root, EmptyRoot()) {
			return nil, errors.New("ledger: empty head has a non-empty root")
		}
		return rangeFactory.NewEmptyRange(0), nil
	}
	r, err := rangeFactory.NewRange(0, h.Size, cloneHashes(h.Range))
	if err != nil {
		return nil, fmt.Errorf("ledger: head: %w", err)
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return nil, fmt.Errorf("ledger: head: %w", err)
	}
	if !bytes.Equal(root, h.Root) {
		return nil, errors.New("ledger: head root does not match its range")
	}
	return r, nil
}

// Equal reports whether h and o describe the same tree state.
func (h Head) Equal(o Head) bool {
	if h.Size != o.Size || !bytes.Equal(h.rootOrEmpty(), o.rootOrEmpty()) || len(h.Range) != len(o.Range) {
		return false
	}
	for i := range h.Range {
		if !bytes.Equal(h.Range[i], o.Range[i]) {
			return false
		}
	}
	return true
}

func (h Head) rootOrEmpty() []byte {
	if h.Size == 0 && h.Root == nil {
		return EmptyRoot()
	}
	return h.Root
}

// MarshalBinary encodes h as size (8 bytes, big-endian) || root || range
// hashes, for stores that keep the head in one column.
func (h Head) MarshalBinary() ([]byte, error) {
	b := make([]byte, 8, 8+HashSize*(1+len(h.Range)))
	binary.BigEndian.PutUint64(b, h.Size)
	b = append(b, h.rootOrEmpty()...)
	for _, x := range h.Range {
		b = append(b, x...)
	}
	return b, nil
}

// UnmarshalBinary decodes the MarshalBinary form and validates it.
func (h *Head) UnmarshalBinary(b []byte) error {
	if len(b) < 8+HashSize || (len(b)-8)%HashSize != 0 {
		return errors.New("ledger: malformed head")
	}
	var d Head
	d.Size = binary.BigEndian.Uint64(b)
	d.Root = bytes.Clone(b[8 : 8+HashSize])
	for p := b[8+HashSize:]; len(p) > 0; p = p[HashSize:] {
		d.Range = append(d.Range, bytes.Clone(p[:HashSize]))
	}
	if err := d.Validate(); err != nil {
		return err
	}
	*h = d
	return nil
}

func cloneHashes(hs [][]byte) [][]byte {
	if hs == nil {
		return nil
	}
	return append([][]byte(nil), hs...)
}

// readNodes calls r.Nodes and checks the shape of the answer.
func readNodes(ctx context.Context, r NodeReader, ids []NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	hs, err := r.Nodes(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(ids) {
		return nil, fmt.Errorf("ledger: reader returned %d hashes for %d nodes", len(hs), len(ids))
	}
	for i, h := range hs {
		if len(h) != HashSize {
			return nil, fmt.Errorf("ledger: node %d/%d has %d bytes", ids[i].Level, ids[i].Index, len(h))
		}
	}
	return hs, nil
}
