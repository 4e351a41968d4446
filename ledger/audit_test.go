package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
	"testing"
	"time"
)

// fixture plays the part of a store: it keeps versions beside a MemStore
// ledger, appending one leaf per write in its own transaction.
type fixture struct {
	t           testing.TB
	store       *MemStore
	app         *Appender
	key         *Key
	cp          *Checkpointer
	versions    []Version // in index order
	checkpoints [][]byte
	heads       map[uint64]Head
	last        map[resKey]int64
	vid         map[resKey]int
	erases      map[resKey]int
	lastErase   map[resKey]int64
	clock       time.Time
}

func newFixture(t testing.TB) *fixture {
	k := testKey(t, "example.org/fhir")
	cp, err := NewCheckpointer(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		t: t, store: NewMemStore(), app: mustAppender(t), key: k, cp: cp,
		heads: map[uint64]Head{}, last: map[resKey]int64{}, vid: map[resKey]int{},
		erases: map[resKey]int{}, lastErase: map[resKey]int64{},
		clock: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func (f *fixture) now() string {
	f.clock = f.clock.Add(1500 * time.Millisecond)
	return f.clock.Format("2006-01-02T15:04:05.000Z07:00")
}

func (f *fixture) appendVersion(v Version) uint64 {
	f.t.Helper()
	ctx := context.Background()
	if err := f.app.Begin(); err != nil {
		f.t.Fatal(err)
	}
	e := Entry{Type: v.Type, ID: v.ID, VersionID: v.VersionID, LastUpdated: v.LastUpdated, Op: v.Op,
		BodyHash: BodyHash(v.Body), Prev: v.Prev, Key: v.Key}
	i, err := f.app.Append(&e)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.app.Flush(ctx, f.store); err != nil {
		f.t.Fatal(err)
	}
	if err := f.app.Commit(); err != nil {
		f.t.Fatal(err)
	}
	v.Index = i
	f.versions = append(f.versions, v)
	f.heads[i+1] = f.app.Head()
	return i
}

// write stores a new version of typ/id.
func (f *fixture) write(typ, id string, op Op, body []byte) uint64 {
	k := resKey{typ, id}
	prev, ok := f.last[k]
	if !ok {
		prev = -1
	}
	f.vid[k]++
	if op == OpDelete {
		body = []byte{}
	}
	i := f.appendVersion(Version{Type: typ, ID: id, VersionID: fmt.Sprint(f.vid[k]), LastUpdated: f.now(),
		Op: op, Prev: prev, Body: body, Key: NewKey()})
	f.last[k] = int64(i)
	return i
}

// erase lawfully erases the versions at indices, naming target typ/id.
func (f *fixture) erase(typ, id string, indices []uint64, dropRows bool) uint64 {
	list, err := EncodeErasure(indices)
	if err != nil {
		f.t.Fatal(err)
	}
	k := resKey{typ, id}
	prev, ok := f.lastErase[k]
	if !ok {
		prev = -1
	}
	f.erases[k]++
	i := f.appendVersion(Version{Type: typ, ID: id, VersionID: fmt.Sprint(f.erases[k]), LastUpdated: f.now(),
		Op: OpErase, Prev: prev, Body: list, Key: NewKey()})
	f.lastErase[k] = int64(i)
	f.versions = slices.DeleteFunc(f.versions, func(v Version) bool {
		if !slices.Contains(indices, v.Index) {
			return false
		}
		if dropRows {
			return true
		}
		v.Body, v.Key = nil, nil
		f.versions[slices.IndexFunc(f.versions, func(x Version) bool { return x.Index == v.Index })] = v
		return false
	})
	return i
}

func (f *fixture) checkpoint() []byte {
	f.t.Helper()
	msg, err := f.cp.Sign(context.Background(), f.store, f.app.Head())
	if err != nil {
		f.t.Fatal(err)
	}
	f.checkpoints = append(f.checkpoints, msg)
	return msg
}

func (f *fixture) input() AuditInput {
	h, _ := f.store.Head(context.Background())
	return AuditInput{
		Head:        h,
		Leaves:      f.store.StoredLeaves(),
		Nodes:       f.store.StoredNodes(),
		Versions:    sliceSeq(f.versions),
		Checkpoints: f.checkpoints,
		Verifier:    f.key.Verifier,
		MaxFindings: 1000,
	}
}

func sliceSeq(vs []Version) iter.Seq2[Version, error] {
	return func(yield func(Version, error) bool) {
		for _, v := range vs {
			if !yield(v, nil) {
				return
			}
		}
	}
}

func (f *fixture) versionAt(i uint64) *Version {
	for k := range f.versions {
		if f.versions[k].Index == i {
			return &f.versions[k]
		}
	}
	f.t.Fatalf("no version at %d", i)
	return nil
}

// build writes a realistic mix: creates, updates and deletes across
// resources, with checkpoints along the way.
func (f *fixture) build(n int) {
	for i := 0; f.app.Head().Size < uint64(n); i++ {
		id := fmt.Sprintf("r%d", i%37)
		typ := []string{"Patient", "Observation", "Encounter"}[i%3]
		op := OpUpdate
		if _, ok := f.last[resKey{typ, id}]; !ok {
			op = OpCreate
		} else if i%29 == 0 {
			op = OpDelete
		}
		f.write(typ, id, op, fmt.Appendf(nil, `{"resourceType":%q,"id":%q,"n":%d}`, typ, id, i))
		if s := f.app.Head().Size; s%50 == 0 {
			f.checkpoint()
		}
	}
	f.checkpoint()
}

func kinds(r *Report) []Kind {
	return slices.Sorted(maps.Keys(r.Counts))
}

func TestAuditTampering(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		tamper func(f *fixture)
		want   []Kind
	}{
		{"untouched", func(f *fixture) {}, nil},
		{"lawful erasure", func(f *fixture) {
			f.erase("Patient", "r0", []uint64{0, 37}, false)
			f.checkpoint()
		}, nil},
		{"lawful erasure with rows dropped", func(f *fixture) {
			f.erase("Patient", "r0", []uint64{0, 37}, true)
			f.write("Patient", "r0", OpUpdate, []byte("{}"))
			f.checkpoint()
		}, nil},
		{"compartment erasure twice", func(f *fixture) {
			f.erase("Patient", "r1", []uint64{1, 5}, false)
			f.erase("Patient", "r1", []uint64{9}, false)
		}, nil},
		{"edited body", func(f *fixture) { f.versionAt(10).Body = []byte(`{"edited":true}`) }, []Kind{KindBodyMismatch}},
		{"edited key", func(f *fixture) { f.versionAt(10).Key[0] ^= 1 }, []Kind{KindBodyMismatch}},
		{"edited lastUpdated", func(f *fixture) { f.versionAt(150).LastUpdated = "2030-01-01T00:00:00Z" }, []Kind{KindBodyMismatch}},
		{"edited leaf", func(f *fixture) {
			l, _ := ParseLeaf(f.store.leaves[20])
			l.Commitment[0] ^= 1
			f.store.leaves[20] = l.Bytes()
		}, []Kind{KindLeafMismatch}},
		{"garbage leaf", func(f *fixture) { f.store.leaves[20] = []byte("garbage") }, []Kind{KindLeafMalformed, KindLeafMismatch}},
		{"swapped leaves", func(f *fixture) {
			f.store.leaves[20], f.store.leaves[21] = f.store.leaves[21], f.store.leaves[20]
		}, []Kind{KindLeafMismatch}},
		{"edited level-0 node", func(f *fixture) { f.store.nodes[NodeID{Level: 0, Index: 20}][0] ^= 1 }, []Kind{KindNodeMismatch}},
		{"edited inner node", func(f *fixture) { f.store.nodes[NodeID{Level: 2, Index: 5}][0] ^= 1 }, []Kind{KindNodeMismatch}},
		{"deleted node", func(f *fixture) { delete(f.store.nodes, NodeID{Level: 3, Index: 2}) }, []Kind{KindMissingNode}},
		{"deleted leaf row", func(f *fixture) { f.store.leaves[33] = nil }, []Kind{KindMissingLeaf}},
		{"extra node row", func(f *fixture) { f.store.nodes[NodeID{Level: 9, Index: 0}] = make([]byte, 32) }, []Kind{KindExtraNode}},
		{"extra leaf row", func(f *fixture) {
			f.store.leaves = append(f.store.leaves, f.store.leaves[0])
		}, []Kind{KindExtraLeaf}},
		{"edited head root", func(f *fixture) { f.store.head.Root = bytes.Repeat([]byte{1}, 32) }, []Kind{KindHeadMismatch}},
		{"unlogged erasure", func(f *fixture) {
			v := f.versionAt(40)
			v.Body, v.Key = nil, nil
		}, []Kind{KindUnloggedErasure}},
		{"unlogged body removal", func(f *fixture) { f.versionAt(41).Body = nil }, []Kind{KindUnloggedErasure}},
		{"silently deleted row", func(f *fixture) {
			// The last version of its resource, so no chain points at it.
			f.versions = f.versions[:len(f.versions)-1]
		}, []Kind{KindUnloggedErasure}},
		{"silently deleted row inside a chain", func(f *fixture) {
			f.versions = slices.DeleteFunc(f.versions, func(v Version) bool { return v.Index == 3 })
		}, []Kind{KindPrevChain, KindUnloggedErasure}},
		{"duplicate version row", func(f *fixture) {
			f.versions = slices.Insert(f.versions, 12, f.versions[12])
		}, []Kind{KindDuplicateIndex}},
		{"erasure leaves data behind", func(f *fixture) {
			list, _ := EncodeErasure([]uint64{2})
			f.appendVersion(Version{Type: "Encounter", ID: "r2", VersionID: "1", LastUpdated: f.now(), Op: OpErase, Prev: -1, Body: list, Key: NewKey()})
		}, []Kind{KindErasureIncomplete}},
		{"erasure of a later leaf", func(f *fixture) {
			n := f.app.Head().Size
			list, _ := EncodeErasure([]uint64{n + 5})
			f.appendVersion(Version{Type: "Encounter", ID: "r2", VersionID: "1", LastUpdated: f.now(), Op: OpErase, Prev: -1, Body: list, Key: NewKey()})
		}, []Kind{KindErasureInvalid}},
		{"erasure record erased", func(f *fixture) {
			i := f.erase("Patient", "r0", []uint64{0}, false)
			v := f.versionAt(i)
			v.Body, v.Key = nil, nil
		}, []Kind{KindErasureInvalid, KindUnloggedErasure}},
		{"broken prev", func(f *fixture) {
			// Re-sealed with the stored key, so only the chain shows it.
			v := f.versionAt(150)
			v.Prev = -1
			e := Entry{Type: v.Type, ID: v.ID, VersionID: v.VersionID, LastUpdated: v.LastUpdated, Op: v.Op, BodyHash: BodyHash(v.Body), Prev: v.Prev, Key: v.Key}
			f.store.leaves[150], _ = e.Leaf()
		}, []Kind{KindLeafMismatch, KindPrevChain}},
		{"time goes back", func(f *fixture) {
			f.write("Patient", "r0", OpUpdate, []byte("{}"))
			f.clock = f.clock.Add(-time.Hour)
			f.write("Patient", "r0", OpUpdate, []byte("{}"))
		}, []Kind{KindOrder}},
		{"truncated tail, head rewritten", func(f *fixture) {
			// Drop the last 30 leaves with their nodes and versions, and
			// write the head of that size: only checkpoints remember.
			n := f.app.Head().Size
			k := n - 30
			f.store.leaves = f.store.leaves[:k]
			for id := range f.store.nodes {
				if _, end := id.Coverage(); end > k {
					delete(f.store.nodes, id)
				}
			}
			f.store.head = f.heads[k]
			f.versions = slices.DeleteFunc(f.versions, func(v Version) bool { return v.Index >= k })
		}, []Kind{KindTruncated}},
		{"truncated leaves only", func(f *fixture) {
			f.store.leaves = f.store.leaves[:len(f.store.leaves)-10]
		}, []Kind{KindTruncated}},
		{"rewritten history", func(f *fixture) {
			// An insider with the keys re-seals an edited body and rebuilds
			// leaves, nodes and head consistently. Only the signed
			// checkpoints still show the original tree.
			v := f.versionAt(60)
			v.Body = []byte(`{"rewritten":true}`)
			g := newFixture(f.t)
			for _, x := range f.versions {
				e := Entry{Type: x.Type, ID: x.ID, VersionID: x.VersionID, LastUpdated: x.LastUpdated, Op: x.Op, BodyHash: BodyHash(x.Body), Prev: x.Prev, Key: x.Key}
				g.app.Begin()
				g.app.Append(&e)
				g.app.Flush(context.Background(), g.store)
				g.app.Commit()
			}
			f.store = g.store
		}, []Kind{KindCheckpointRootMismatch}},
		{"checkpoint of a forked tree", func(f *fixture) {
			g := newFixture(f.t)
			g.build(140)
			fork, _ := signCheckpoint(f.key.Signer, Checkpoint{Origin: "example.org/fhir", Size: 140, Root: g.app.Head().Root})
			f.checkpoints = append(f.checkpoints, fork)
		}, []Kind{KindCheckpointRootMismatch}},
		{"two roots for one size", func(f *fixture) {
			c, _ := OpenCheckpoint(f.checkpoints[0], f.key.Verifier)
			c.Root = bytes.Repeat([]byte{2}, 32)
			fork, _ := signCheckpoint(f.key.Signer, c)
			f.checkpoints = append(f.checkpoints, fork)
		}, []Kind{KindCheckpointInconsistent, KindCheckpointRootMismatch}},
		{"checkpoint with a bad signature", func(f *fixture) {
			c := bytes.Clone(f.checkpoints[1])
			c[len(c)-5] ^= 1
			f.checkpoints[1] = c
		}, []Kind{KindCheckpointInvalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.build(200)
			tt.tamper(f)
			rep, err := Audit(ctx, f.input())
			if err != nil {
				t.Fatalf("Audit: %v", err)
			}
			if got := kinds(rep); !slices.Equal(got, tt.want) {
				b, _ := json.MarshalIndent(rep.Findings, "", "  ")
				t.Errorf("Audit kinds = %v, want %v\n%s", got, tt.want, b)
			}
			if tt.want == nil && rep.Versions != uint64(len(f.versions)) {
				t.Errorf("Report.Versions = %d, want %d", rep.Versions, len(f.versions))
			}
		})
	}
}

func TestAuditTrusted(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.build(120)
	trusted := f.checkpoints[1]
	in := f.input()
	in.Trusted = trusted
	if rep, err := Audit(ctx, in); err != nil || !rep.OK() {
		t.Fatalf("Audit with a contained trusted checkpoint = %v, %v", kinds(rep), err)
	}

	// A fork: the same key signed another tree, which a client saved.
	g := newFixture(t)
	g.key = f.key
	g.build(80)
	fork, _ := signCheckpoint(f.key.Signer, Checkpoint{Origin: "example.org/fhir", Size: 80, Root: g.app.Head().Root})
	in = f.input()
	in.Trusted = fork
	rep, err := Audit(ctx, in)
	if err != nil || !slices.Equal(kinds(rep), []Kind{KindCheckpointInconsistent}) {
		t.Errorf("Audit with a forked trusted checkpoint = %v, %v, want [checkpoint-inconsistent]", kinds(rep), err)
	}

	// A trusted checkpoint beyond the stored ledger: truncation.
	big, _ := signCheckpoint(f.key.Signer, Checkpoint{Origin: "example.org/fhir", Size: 500, Root: g.app.Head().Root})
	in.Trusted = big
	rep, err = Audit(ctx, in)
	if err != nil || !slices.Equal(kinds(rep), []Kind{KindTruncated}) {
		t.Errorf("Audit with a larger trusted checkpoint = %v, %v, want [truncated]", kinds(rep), err)
	}

	// A trusted checkpoint that does not verify is an input error.
	in.Trusted = []byte("nonsense")
	if _, err := Audit(ctx, in); err == nil {
		t.Error("Audit with an unverifiable trusted checkpoint = nil error")
	}
}

func TestAuditInputErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.build(30)
	in := f.input()
	vs := slices.Clone(f.versions)
	vs[3], vs[4] = vs[4], vs[3]
	in.Versions = sliceSeq(vs)
	if _, err := Audit(ctx, in); err == nil {
		t.Error("Audit(unordered versions) = nil error")
	}
	in = f.input()
	in.Nodes = func(yield func(Node, error) bool) { yield(Node{}, fmt.Errorf("disk on fire")) }
	if _, err := Audit(ctx, in); err == nil {
		t.Error("Audit(failing node iterator) = nil error")
	}
	in = f.input()
	in.Verifier = nil
	if _, err := Audit(ctx, in); err == nil {
		t.Error("Audit(checkpoints without verifier) = nil error")
	}
}

func TestAuditEmpty(t *testing.T) {
	m := NewMemStore()
	rep, err := Audit(context.Background(), AuditInput{Head: Head{}, Leaves: m.StoredLeaves(), Nodes: m.StoredNodes(), Versions: sliceSeq(nil)})
	if err != nil || !rep.OK() {
		t.Fatalf("Audit(empty) = %+v, %v", rep, err)
	}
	if b, err := json.Marshal(rep); err != nil || !bytes.Contains(b, []byte(`"findings":[]`)) {
		t.Errorf("json.Marshal(report) = %s, %v", b, err)
	}
}

// Every node of a size-n tree is compared: none is left unchecked.
func TestAuditCoversAllNodes(t *testing.T) {
	f := newFixture(t)
	f.build(77)
	n := f.app.Head().Size
	var want uint64
	for l := uint(0); n>>l > 0; l++ {
		want += n >> l
	}
	rep, err := Audit(context.Background(), f.input())
	if err != nil || !rep.OK() || rep.Nodes != want || uint64(len(f.store.nodes)) != want {
		t.Fatalf("Audit nodes = %d (stored %d), want %d; %v %v", rep.Nodes, len(f.store.nodes), want, kinds(rep), err)
	}
}
