package ledger

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sync"
)

// MemStore is an in-memory Writer, NodeReader and LeafReader, for tests of
// this package and of the packages that use it. It is safe for concurrent
// use. It is not transactional: writes take effect at once, and writing an
// existing leaf or node replaces it.
type MemStore struct {
	mu     sync.RWMutex
	leaves [][]byte
	nodes  map[NodeID][]byte
	head   Head
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{nodes: make(map[NodeID][]byte), head: Head{Root: EmptyRoot()}}
}

// PutLeaves implements Writer. start may not leave a gap after the last
// stored leaf.
func (m *MemStore) PutLeaves(_ context.Context, start uint64, leaves [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if start > uint64(len(m.leaves)) {
		return fmt.Errorf("ledger: leaf %d leaves a gap after %d leaves", start, len(m.leaves))
	}
	for i, l := range leaves {
		j := start + uint64(i)
		if j < uint64(len(m.leaves)) {
			m.leaves[j] = bytes.Clone(l)
		} else {
			m.leaves = append(m.leaves, bytes.Clone(l))
		}
	}
	return nil
}

// PutNodes implements Writer.
func (m *MemStore) PutNodes(_ context.Context, nodes []Node) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range nodes {
		m.nodes[n.ID] = bytes.Clone(n.Hash)
	}
	return nil
}

// PutHead implements Writer.
func (m *MemStore) PutHead(_ context.Context, h Head) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.head = copyHead(h)
	return nil
}

// Head returns the stored head.
func (m *MemStore) Head(context.Context) (Head, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return copyHead(m.head), nil
}

// Nodes implements NodeReader.
func (m *MemStore) Nodes(_ context.Context, ids []NodeID) ([][]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := m.nodes[id]
		if !ok {
			return nil, fmt.Errorf("node %d/%d: %w", id.Level, id.Index, ErrNotFound)
		}
		out[i] = h
	}
	return out, nil
}

// Leaves implements LeafReader.
func (m *MemStore) Leaves(_ context.Context, start, n uint64) ([][]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if start > uint64(len(m.leaves)) || n > uint64(len(m.leaves))-start {
		return nil, fmt.Errorf("leaves [%d, %d+%d): %w", start, start, n, ErrNotFound)
	}
	return slices.Clone(m.leaves[start : start+n]), nil
}

// StoredLeaves yields every stored leaf in index order, as Audit wants.
func (m *MemStore) StoredLeaves() iter.Seq2[StoredLeaf, error] {
	return func(yield func(StoredLeaf, error) bool) {
		m.mu.RLock()
		leaves := slices.Clone(m.leaves)
		m.mu.RUnlock()
		for i, l := range leaves {
			if l == nil {
				continue
			}
			if !yield(StoredLeaf{Index: uint64(i), Leaf: l}, nil) {
				return
			}
		}
	}
}

// StoredNodes yields every stored node, ordered by level then index.
func (m *MemStore) StoredNodes() iter.Seq2[Node, error] {
	return func(yield func(Node, error) bool) {
		m.mu.RLock()
		ids := slices.SortedFunc(maps.Keys(m.nodes), func(a, b NodeID) int {
			return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.Index, b.Index))
		})
		nodes := make([]Node, len(ids))
		for i, id := range ids {
			nodes[i] = Node{ID: id, Hash: m.nodes[id]}
		}
		m.mu.RUnlock()
		for _, n := range nodes {
			if !yield(n, nil) {
				return
			}
		}
	}
}
