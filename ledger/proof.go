package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// ErrProof is wrapped by the Verify functions when a proof does not verify.
var ErrProof = errors.New("ledger: proof does not verify")

// InclusionProof returns the RFC 6962 audit path (RFC 6962, section 2.1.1)
// for leaf index in the tree of the given size, ordered from the leaf's
// sibling up. Only complete subtrees are read from r; the one ephemeral node
// on the right border, if any, is recomputed from them.
func InclusionProof(ctx context.Context, r NodeReader, index, size uint64) ([][]byte, error) {
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return rehash(ctx, r, n)
}

// ConsistencyProof returns the RFC 6962 consistency proof (section 2.1.2)
// between the trees of sizes size1 <= size2.
func ConsistencyProof(ctx context.Context, r NodeReader, size1, size2 uint64) ([][]byte, error) {
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return rehash(ctx, r, n)
}

func rehash(ctx context.Context, r NodeReader, n proof.Nodes) ([][]byte, error) {
	if len(n.IDs) == 0 {
		return [][]byte{}, nil
	}
	hs, err := readNodes(ctx, r, n.IDs)
	if err != nil {
		return nil, err
	}
	// Rehash overwrites the outer slice only; the reader's hashes are kept.
	return n.Rehash(append([][]byte(nil), hs...), hashChildren)
}

// RootAt returns the root of the tree of the given size, which may be any
// size up to the stored one: the tree of a smaller size is covered by
// complete subtrees that are all stored.
func RootAt(ctx context.Context, r NodeReader, size uint64) ([]byte, error) {
	if size == 0 {
		return EmptyRoot(), nil
	}
	hs, err := readNodes(ctx, r, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	return foldRange(hs), nil
}

// foldRange hashes the compact range for [0, size) into the root: the
// perfect subtrees are merged from the right.
func foldRange(hs [][]byte) []byte {
	root := hs[len(hs)-1]
	for i := len(hs) - 2; i >= 0; i-- {
		root = hashChildren(hs[i], root)
	}
	return root
}

// VerifyInclusion checks that leaf (the leaf bytes, not their hash) is at
// index in the tree of the given size and root, using an audit path as
// returned by InclusionProof. The error wraps ErrProof if the proof is wrong.
func VerifyInclusion(leaf []byte, index, size uint64, path [][]byte, root []byte) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, LeafHash(leaf), path, root); err != nil {
		return fmt.Errorf("%w: inclusion of %d in %d: %v", ErrProof, index, size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree of size2 and root2 extends the tree
// of size1 and root1, using a proof as returned by ConsistencyProof. A
// shrinking tree (size2 < size1) never verifies. The error wraps ErrProof.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, p, root1, root2); err != nil {
		return fmt.Errorf("%w: consistency of %d and %d: %v", ErrProof, size1, size2, err)
	}
	return nil
}
