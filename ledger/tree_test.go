package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// rfc6962Leaves and rfc6962Roots are the reference vectors used across
// RFC 6962 implementations (certificate-transparency, transparency-dev).
var (
	rfc6962Leaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	rfc6962Roots  = []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
)

// buildRaw appends arbitrary leaf bytes (not fhirseal leaves), committing
// after each, and returns the store.
func buildRaw(t testing.TB, leaves [][]byte) (*MemStore, *Appender) {
	t.Helper()
	ctx := context.Background()
	s := NewMemStore()
	a, err := NewAppender(Head{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Begin(); err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves {
		if _, err := a.append(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	return s, a
}

func TestRFC6962Vectors(t *testing.T) {
	ctx := context.Background()
	if got := hex.EncodeToString(EmptyRoot()); got != rfc6962Roots[0] {
		t.Errorf("EmptyRoot() = %s, want %s", got, rfc6962Roots[0])
	}
	var leaves [][]byte
	for _, l := range rfc6962Leaves {
		leaves = append(leaves, unhex(l))
	}
	s, a := buildRaw(t, leaves)
	for size := range uint64(len(leaves)) + 1 {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			got, err := RootAt(ctx, s, size)
			if err != nil || hex.EncodeToString(got) != rfc6962Roots[size] {
				t.Errorf("RootAt(%d) = %x, %v, want %s", size, got, err, rfc6962Roots[size])
			}
			_, a2 := buildRaw(t, leaves[:size])
			if h := a2.Head(); hex.EncodeToString(h.Root) != rfc6962Roots[size] {
				t.Errorf("Head().Root after %d leaves = %x, want %s", size, h.Root, rfc6962Roots[size])
			}
		})
	}
	if h := a.Head(); h.Size != 8 || len(h.Range) != 1 {
		t.Errorf("Head() = %+v, want size 8 with a one-hash range", h)
	}
	// The package's node hash is RFC 6962's.
	l, r := unhex(rfc6962Roots[1]), unhex(rfc6962Roots[2])
	if got, want := hashChildren(l, r), rfc6962.DefaultHasher.HashChildren(l, r); !bytes.Equal(got, want) {
		t.Errorf("hashChildren = %x, want %x", got, want)
	}
}

func randomLeaves(r *rand.Rand, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, 1+r.IntN(40))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		out[i] = b
	}
	return out
}

// tlogReader serves our stored nodes to tlog in its storage order.
func tlogReader(t testing.TB, s *MemStore) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		ids := make([]NodeID, len(idx))
		for i, x := range idx {
			l, n := tlog.SplitStoredHashIndex(x)
			ids[i] = NodeID{Level: uint(l), Index: uint64(n)}
		}
		hs, err := s.Nodes(context.Background(), ids)
		if err != nil {
			return nil, err
		}
		out := make([]tlog.Hash, len(hs))
		for i, h := range hs {
			copy(out[i][:], h)
		}
		return out, nil
	})
}

func toTlog(p [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(p))
	for i, h := range p {
		copy(out[i][:], h)
	}
	return out
}

func TestProofsAgainstTlog(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	const n = 3000
	leaves := randomLeaves(r, n)
	s, _ := buildRaw(t, leaves)
	hr := tlogReader(t, s)

	// Every leaf hash is tlog's record hash.
	for i, l := range leaves {
		th := tlog.RecordHash(l)
		h, _ := s.Nodes(ctx, []NodeID{{Level: 0, Index: uint64(i)}})
		if !bytes.Equal(h[0], th[:]) {
			t.Fatalf("leaf hash %d = %x, want %x", i, h[0], th)
		}
	}
	roots := map[uint64][]byte{}
	root := func(size uint64) []byte {
		if r, ok := roots[size]; ok {
			return r
		}
		got, err := RootAt(ctx, s, size)
		if err != nil {
			t.Fatalf("RootAt(%d): %v", size, err)
		}
		th, err := tlog.TreeHash(int64(size), hr)
		if err != nil || !bytes.Equal(got, th[:]) {
			t.Fatalf("RootAt(%d) = %x, want tlog.TreeHash = %x (%v)", size, got, th, err)
		}
		roots[size] = got
		return got
	}

	for k := 0; k < 3000; k++ {
		size := 1 + r.Uint64N(n)
		if k < 64 {
			size = uint64(k + 1) // all small trees
		}
		index := r.Uint64N(size)
		p, err := InclusionProof(ctx, s, index, size)
		if err != nil {
			t.Fatalf("InclusionProof(%d, %d): %v", index, size, err)
		}
		tp, err := tlog.ProveRecord(int64(size), int64(index), hr)
		if err != nil {
			t.Fatal(err)
		}
		if !equalProofs(p, toTlog(p), tp) {
			t.Fatalf("InclusionProof(%d, %d) = %x, want tlog.ProveRecord = %x", index, size, p, tp)
		}
		rt := root(size)
		var rth tlog.Hash
		copy(rth[:], rt)
		if err := tlog.CheckRecord(toTlog(p), int64(size), rth, int64(index), tlog.RecordHash(leaves[index])); err != nil {
			t.Fatalf("tlog.CheckRecord(InclusionProof(%d, %d)) = %v", index, size, err)
		}
		if err := VerifyInclusion(leaves[index], index, size, p, rt); err != nil {
			t.Fatalf("VerifyInclusion(%d, %d) = %v", index, size, err)
		}
		if other := (index + 1) % size; other != index {
			if err := VerifyInclusion(leaves[other], index, size, p, rt); err == nil {
				t.Fatalf("VerifyInclusion(leaf %d at %d, %d) = nil, want error", other, index, size)
			}
		}

		size1 := 1 + r.Uint64N(size)
		cp, err := ConsistencyProof(ctx, s, size1, size)
		if err != nil {
			t.Fatalf("ConsistencyProof(%d, %d): %v", size1, size, err)
		}
		tcp, err := tlog.ProveTree(int64(size), int64(size1), hr)
		if err != nil {
			t.Fatal(err)
		}
		if !equalProofs(cp, toTlog(cp), tcp) {
			t.Fatalf("ConsistencyProof(%d, %d) = %x, want tlog.ProveTree = %x", size1, size, cp, tcp)
		}
		r1 := root(size1)
		var r1h tlog.Hash
		copy(r1h[:], r1)
		if err := tlog.CheckTree(toTlog(cp), int64(size), rth, int64(size1), r1h); err != nil {
			t.Fatalf("tlog.CheckTree(ConsistencyProof(%d, %d)) = %v", size1, size, err)
		}
		if err := VerifyConsistency(size1, size, cp, r1, rt); err != nil {
			t.Fatalf("VerifyConsistency(%d, %d) = %v", size1, size, err)
		}
		if size1 < size {
			if err := VerifyConsistency(size, size1, cp, rt, r1); err == nil {
				t.Fatalf("VerifyConsistency(%d, %d) (shrinking) = nil, want error", size, size1)
			}
		}
	}
}

func equalProofs(p [][]byte, _ []tlog.Hash, tp []tlog.Hash) bool {
	if len(p) != len(tp) {
		return false
	}
	for i := range p {
		if !bytes.Equal(p[i], tp[i][:]) {
			return false
		}
	}
	return true
}

func TestProofErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := buildRaw(t, randomLeaves(rand.New(rand.NewPCG(1, 1)), 10))
	if _, err := InclusionProof(ctx, s, 10, 10); err == nil {
		t.Error("InclusionProof(10, 10) = nil error, want error")
	}
	if _, err := InclusionProof(ctx, s, 3, 11); err == nil {
		t.Error("InclusionProof(3, 11) beyond the stored tree = nil error, want error")
	}
	if _, err := ConsistencyProof(ctx, s, 5, 4); err == nil {
		t.Error("ConsistencyProof(5, 4) = nil error, want error")
	}
	if _, err := RootAt(ctx, s, 12); err == nil {
		t.Error("RootAt(12) beyond the stored tree = nil error, want error")
	}
}

// txStore is a Writer with savepoints, standing in for a SQL transaction.
type txStore struct {
	leaves map[uint64][]byte
	nodes  map[NodeID][]byte
	head   Head
}

func newTxStore() *txStore {
	return &txStore{leaves: map[uint64][]byte{}, nodes: map[NodeID][]byte{}}
}

func (s *txStore) PutLeaves(_ context.Context, start uint64, leaves [][]byte) error {
	for i, l := range leaves {
		if _, ok := s.leaves[start+uint64(i)]; ok {
			return fmt.Errorf("leaf %d inserted twice", start+uint64(i))
		}
		s.leaves[start+uint64(i)] = l
	}
	return nil
}

func (s *txStore) PutNodes(_ context.Context, nodes []Node) error {
	for _, n := range nodes {
		if _, ok := s.nodes[n.ID]; ok {
			return fmt.Errorf("node %v inserted twice", n.ID)
		}
		s.nodes[n.ID] = n.Hash
	}
	return nil
}

func (s *txStore) PutHead(_ context.Context, h Head) error { s.head = h; return nil }

func (s *txStore) savepoint() *txStore {
	c := newTxStore()
	for k, v := range s.leaves {
		c.leaves[k] = v
	}
	for k, v := range s.nodes {
		c.nodes[k] = v
	}
	c.head = s.head
	return c
}

func TestSnapshotRestore(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	all := randomLeaves(r, 200)
	for _, flushEach := range []bool{false, true} {
		t.Run(fmt.Sprintf("flushEach=%v", flushEach), func(t *testing.T) {
			a, _ := NewAppender(Head{})
			db := newTxStore()
			var kept [][]byte
			// Groups of 7 requests; every third request rolls back.
			for g := 0; g*7 < len(all); g++ {
				if err := a.Begin(); err != nil {
					t.Fatal(err)
				}
				tx := db.savepoint()
				for k := g * 7; k < min(len(all), (g+1)*7); k++ {
					sp, snap := tx.savepoint(), a.Snapshot()
					i, err := a.append(all[k])
					if err != nil {
						t.Fatal(err)
					}
					if flushEach {
						if err := a.Flush(ctx, tx); err != nil {
							t.Fatal(err)
						}
					}
					if k%3 == 2 {
						tx = sp
						a.Restore(snap)
						continue
					}
					if i != uint64(len(kept)) {
						t.Fatalf("append %d got index %d, want %d", k, i, len(kept))
					}
					kept = append(kept, all[k])
				}
				if err := a.Flush(ctx, tx); err != nil {
					t.Fatal(err)
				}
				if g%5 == 4 {
					// The whole group fails to commit.
					a.Rollback()
					kept = kept[:db.head.Size]
					continue
				}
				db = tx
				if err := a.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			// The result equals appending only the kept leaves.
			want, wa := buildRaw(t, kept)
			if got := a.Head(); !got.Equal(wa.Head()) || !db.head.Equal(wa.Head()) {
				t.Fatalf("Head() = %+v, want %+v", got, wa.Head())
			}
			if len(db.leaves) != len(kept) || len(db.nodes) != len(want.nodes) {
				t.Fatalf("stored %d leaves, %d nodes, want %d, %d", len(db.leaves), len(db.nodes), len(kept), len(want.nodes))
			}
			for id, h := range want.nodes {
				if !bytes.Equal(db.nodes[id], h) {
					t.Fatalf("node %v = %x, want %x", id, db.nodes[id], h)
				}
			}
		})
	}
}

func TestAppenderMisuse(t *testing.T) {
	ctx := context.Background()
	a, _ := NewAppender(Head{})
	e := Entry{Type: "Patient", ID: "a", VersionID: "1", LastUpdated: "2024-01-01T00:00:00Z", Op: OpCreate, Prev: -1, Key: NewKey()}
	if _, err := a.Append(&e); err == nil {
		t.Error("Append before Begin = nil error")
	}
	a.Begin()
	if err := a.Begin(); err == nil {
		t.Error("second Begin = nil error")
	}
	if _, err := a.Append(&e); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(); err == nil {
		t.Error("Commit with unflushed appends = nil error")
	}
	e2 := e
	e2.Prev = 1
	if _, err := a.Append(&e2); err == nil {
		t.Error("Append with prev not before the index = nil error")
	}
	if _, err := a.AppendLeaf([]byte("not a leaf")); err == nil {
		t.Error("AppendLeaf(garbage) = nil error")
	}
	s := a.Snapshot()
	a.Flush(ctx, NewMemStore())
	a.Commit()
	a.Begin()
	defer func() {
		if recover() == nil {
			t.Error("Restore of a stale snapshot did not panic")
		}
	}()
	a.Restore(s)
}

func TestReload(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 10))
	leaves := randomLeaves(r, 1000)
	s := NewMemStore()
	cont, contStore := mustAppender(t), NewMemStore()
	for k := 0; k < len(leaves); {
		// Reload from the stored head before each transaction, as a restart
		// would, and keep a never-restarted appender alongside.
		h, _ := s.Head(ctx)
		a, err := NewAppender(h)
		if err != nil {
			t.Fatalf("NewAppender(stored head of size %d): %v", h.Size, err)
		}
		if !a.Head().Equal(cont.Head()) {
			t.Fatalf("reloaded head = %+v, want %+v", a.Head(), cont.Head())
		}
		a.Begin()
		cont.Begin()
		for end := min(len(leaves), k+1+r.IntN(40)); k < end; k++ {
			i1, _ := a.append(leaves[k])
			i2, _ := cont.append(leaves[k])
			if i1 != i2 {
				t.Fatalf("reloaded appender gave index %d, want %d", i1, i2)
			}
		}
		if err := a.Flush(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := cont.Flush(ctx, contStore); err != nil {
			t.Fatal(err)
		}
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := cont.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := buildRaw(t, leaves)
	if len(s.nodes) != len(want.nodes) {
		t.Fatalf("stored %d nodes, want %d", len(s.nodes), len(want.nodes))
	}
	for id, h := range want.nodes {
		if !bytes.Equal(s.nodes[id], h) {
			t.Fatalf("node %v = %x, want %x", id, s.nodes[id], h)
		}
	}
}

func mustAppender(t testing.TB) *Appender {
	t.Helper()
	a, err := NewAppender(Head{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestHeadBinary(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 8, 100} {
		_, a := buildRaw(t, randomLeaves(rand.New(rand.NewPCG(uint64(n), 0)), n))
		h := a.Head()
		b, _ := h.MarshalBinary()
		var got Head
		if err := got.UnmarshalBinary(b); err != nil || !got.Equal(h) {
			t.Errorf("UnmarshalBinary(MarshalBinary(%+v)) = %+v, %v", h, got, err)
		}
		if n > 0 {
			b[len(b)-1] ^= 1
			if err := got.UnmarshalBinary(b); err == nil {
				t.Errorf("UnmarshalBinary(corrupt head of size %d) = nil error", n)
			}
		}
	}
	if _, err := NewAppender(Head{Size: 3, Root: EmptyRoot()}); err == nil {
		t.Error("NewAppender(head without range) = nil error")
	}
}
