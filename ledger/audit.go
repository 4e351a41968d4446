package ledger

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"iter"
	"math/bits"
	"slices"
	"strconv"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

// StoredLeaf is one stored leaf row.
type StoredLeaf struct {
	Index uint64
	Leaf  []byte
}

// Version is a stored resource version or erasure record, as the store
// holds it: the leaf's fields plus the body and key that open its
// commitment. Erasure removes Body and Key and keeps the rest, so chains
// stay checkable. A store may also drop an erased row entirely; a prev that
// points at such a dropped row is then only checked to be an erased leaf.
type Version struct {
	Index       uint64 // ledger index of its leaf
	Type        string
	ID          string
	VersionID   string
	LastUpdated string
	Op          Op
	Prev        int64
	Body        []byte // exact stored bytes; empty for a delete; the erased-index list for an erase; nil once erased
	Key         []byte // nil once erased
}

func (v *Version) resource() string {
	return v.Type + "/" + v.ID + "/_history/" + v.VersionID
}

// AuditInput is everything a store holds about its ledger. The iterators
// are each ranged over once and one after another (Nodes, then Leaves, then
// Versions), never interleaved, so a store can back each with one query in
// one read transaction.
type AuditInput struct {
	// Head is the stored head row.
	Head Head
	// Leaves yields every stored leaf row in increasing index order.
	Leaves iter.Seq2[StoredLeaf, error]
	// Nodes yields every stored node row, in any order.
	Nodes iter.Seq2[Node, error]
	// Versions yields every stored version and erasure record, in
	// increasing Index order.
	Versions iter.Seq2[Version, error]
	// Checkpoints are the signed checkpoint notes the store kept.
	Checkpoints [][]byte
	// Verifier is the log's checkpoint key. It is required when there are
	// checkpoints to check.
	Verifier note.Verifier
	// Trusted, if not nil, is a signed checkpoint obtained from outside (a
	// client, a witness, an earlier audit). The stored ledger must contain
	// it: same root at its size.
	Trusted []byte
	// MaxFindings bounds the findings listed per kind (default 100);
	// Report.Counts counts them all.
	MaxFindings int
}

// Kind classifies a finding. Each names what no longer holds.
type Kind string

// Finding kinds. The storage layer is read as stacked layers, each checked
// against the one below it: versions against leaves, leaves against level-0
// nodes, nodes against their children, the head and checkpoints against the
// nodes. A tampered row is reported at the layer where it was changed.
const (
	// A version's body, key or metadata no longer matches its leaf.
	KindBodyMismatch Kind = "body-mismatch"
	// A version row is not well formed (bad op, key size, id syntax, prev).
	KindVersionInvalid Kind = "version-invalid"
	// A leaf row does not hash to the tree's level-0 node for its index.
	KindLeafMismatch Kind = "leaf-mismatch"
	// A leaf row does not parse.
	KindLeafMalformed Kind = "leaf-malformed"
	// A leaf row is missing below the head size (and not at the tail).
	KindMissingLeaf Kind = "missing-leaf"
	// Leaf rows exist at or beyond the head size.
	KindExtraLeaf Kind = "extra-leaf"
	// A stored node differs from the hash of its stored children.
	KindNodeMismatch Kind = "node-mismatch"
	// A complete-subtree node of the tree is not stored.
	KindMissingNode Kind = "missing-node"
	// A node row lies outside the tree or is stored twice.
	KindExtraNode Kind = "extra-node"
	// The head row does not match the stored nodes.
	KindHeadMismatch Kind = "head-mismatch"
	// The ledger is shorter than something proves it was: a checkpoint, the
	// trusted checkpoint, versions, or the head.
	KindTruncated Kind = "truncated"
	// A stored checkpoint does not parse or verify.
	KindCheckpointInvalid Kind = "checkpoint-invalid"
	// A stored checkpoint's root differs from the stored tree at its size.
	KindCheckpointRootMismatch Kind = "checkpoint-root-mismatch"
	// Signed checkpoints contradict each other, or the trusted checkpoint is
	// not contained in the stored tree: the log forked.
	KindCheckpointInconsistent Kind = "checkpoint-inconsistent"
	// A version's prev does not point at the previous leaf of its resource.
	KindPrevChain Kind = "prev-chain"
	// Versions of one resource go back in time or repeat a versionId.
	KindOrder Kind = "order"
	// Two version rows claim one leaf.
	KindDuplicateIndex Kind = "duplicate-index"
	// A version's body or key, or its whole row, is gone, and no erase leaf
	// lists it: silent deletion.
	KindUnloggedErasure Kind = "unlogged-erasure"
	// An erasure record is malformed, lost its list, or lists leaves it may
	// not erase (itself or later leaves, erase leaves, a leaf twice).
	KindErasureInvalid Kind = "erasure-invalid"
	// A leaf listed as erased still has its body or key.
	KindErasureIncomplete Kind = "erasure-incomplete"
	// A store's pointer to a resource's current version disagrees with the
	// versions themselves: reads would serve a version other than the
	// latest sealed one. Audit does not see such pointers; stores that keep
	// them check them and Add the finding.
	KindCurrentMismatch Kind = "current-mismatch"
)

// NodeRef names a tree node in a finding.
type NodeRef struct {
	Level uint   `json:"level"`
	Index uint64 `json:"index"`
}

// Finding is one problem found by Audit.
type Finding struct {
	Kind Kind `json:"kind"`
	// Index is the leaf index concerned, or -1.
	Index int64 `json:"index"`
	// Node is the tree node concerned, if any.
	Node *NodeRef `json:"node,omitempty"`
	// Resource is "type/id/_history/vid" of the version concerned, if any.
	Resource string `json:"resource,omitempty"`
	Message  string `json:"message"`
}

// Report is the result of Audit.
type Report struct {
	TreeSize    uint64       `json:"treeSize"`
	Leaves      uint64       `json:"leaves"`
	Nodes       uint64       `json:"nodes"`
	Versions    uint64       `json:"versions"`
	Erased      uint64       `json:"erased"`
	Checkpoints int          `json:"checkpoints"`
	Findings    []Finding    `json:"findings"`
	Counts      map[Kind]int `json:"counts"`
}

// OK reports whether the audit found nothing.
func (r *Report) OK() bool { return len(r.Counts) == 0 }

// Add records a finding made outside Audit, by a store's own checks.
func (r *Report) Add(f Finding) {
	if r.Counts == nil {
		r.Counts = make(map[Kind]int)
	}
	r.Counts[f.Kind]++
	r.Findings = append(r.Findings, f)
}

// Audit re-checks a whole stored ledger offline: it recomputes every leaf
// from its version and key, rebuilds the tree from the leaves and compares
// every stored node, the head and each checkpoint (signature and root),
// follows every prev chain, and matches erasures against erase leaves. It
// returns an error only when it cannot read its input, or the input breaks
// the ordering rules of AuditInput; everything wrong with the data itself is
// a finding.
//
// Memory use is about 140 bytes per leaf (the stored nodes, the leaf hashes
// and per-leaf flags) plus one map entry per resource.
func Audit(ctx context.Context, in AuditInput) (*Report, error) {
	a, err := newAuditor(in)
	if err != nil {
		return nil, err
	}
	if err := a.loadNodes(ctx); err != nil {
		return nil, err
	}
	if err := a.loadLeaves(ctx); err != nil {
		return nil, err
	}
	if err := a.loadVersions(ctx); err != nil {
		return nil, err
	}
	a.classifyTree()
	a.checkHead()
	a.checkErasures()
	if err := a.checkCheckpoints(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(a.rep.Findings, func(x, y Finding) int { return cmp.Compare(x.Index, y.Index) })
	return a.rep, nil
}

// bitset is a fixed-size set of indices.
type bitset []uint64

func newBitset(n uint64) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) get(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i uint64)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) all() iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		for w, x := range b {
			for x != 0 {
				i := uint64(w)*64 + uint64(bits.TrailingZeros64(x))
				if !yield(i) {
					return
				}
				x &= x - 1
			}
		}
	}
}

// level holds the stored nodes of one tree level.
type level struct {
	count   uint64
	hashes  []byte
	present bitset
	mism    bitset // stored node differs from the one rebuilt from leaves
}

func (l *level) hash(i uint64) []byte { return l.hashes[i*HashSize : (i+1)*HashSize] }

type resKey struct{ typ, id string }

type chainState struct {
	last uint64
	t    int64
	vid  string
}

type prevRef struct {
	index, prev uint64
	resource    string
}

const (
	opNone byte = iota
	opCreate
	opUpdate
	opDelete
	opErase
)

func opCode(o Op) byte {
	switch o {
	case OpCreate:
		return opCreate
	case OpUpdate:
		return opUpdate
	case OpDelete:
		return opDelete
	case OpErase:
		return opErase
	}
	return opNone
}

type auditor struct {
	in     AuditInput
	n      uint64
	rep    *Report
	max    int
	listed map[Kind]int

	lv       []level
	leafHash []byte // per index: hash of the stored leaf row (or the stored level-0 node if the row is missing)
	leafLU   []uint64
	leafOp   []byte
	unknown  bitset // neither leaf nor level-0 node stored
	hasRow   bitset
	hasData  bitset
	erased   bitset
	lacking  bitset // no body/key, or no row at all
	missing  [][2]uint64

	chains   map[resKey]chainState
	erasures map[resKey]chainState
	deferred []prevRef

	lb    leafBuilder
	lh    hash.Hash
	zero  [1]byte
	sum   [HashSize]byte
	stack [64][HashSize]byte
	top   int
}

// maxAuditSize bounds the head size the audit accepts, so that a corrupt
// head cannot make it allocate without limit (about 140 bytes per leaf).
const maxAuditSize = 1 << 36

func newAuditor(in AuditInput) (*auditor, error) {
	n := in.Head.Size
	if n > maxAuditSize {
		return nil, fmt.Errorf("ledger: audit: head size %d is beyond what an audit can hold", n)
	}
	a := &auditor{
		in:       in,
		n:        n,
		rep:      &Report{TreeSize: n, Findings: []Finding{}, Counts: map[Kind]int{}},
		max:      cmp.Or(in.MaxFindings, 100),
		listed:   map[Kind]int{},
		leafHash: make([]byte, n*HashSize),
		leafLU:   make([]uint64, n),
		leafOp:   make([]byte, n),
		unknown:  newBitset(n),
		hasRow:   newBitset(n),
		hasData:  newBitset(n),
		erased:   newBitset(n),
		lacking:  newBitset(n),
		chains:   map[resKey]chainState{},
		erasures: map[resKey]chainState{},
		lh:       sha256.New(),
	}
	for l := uint(0); l < 64 && n>>l > 0; l++ {
		c := n >> l
		a.lv = append(a.lv, level{count: c, hashes: make([]byte, c*HashSize), present: newBitset(c), mism: newBitset(c)})
	}
	return a, nil
}

func (a *auditor) add(f Finding) {
	a.rep.Counts[f.Kind]++
	if a.listed[f.Kind] < a.max {
		a.listed[f.Kind]++
		a.rep.Findings = append(a.rep.Findings, f)
	}
}

func (a *auditor) addf(k Kind, index int64, res string, format string, args ...any) {
	a.add(Finding{Kind: k, Index: index, Resource: res, Message: fmt.Sprintf(format, args...)})
}

func (a *auditor) addNode(k Kind, l uint, i uint64, format string, args ...any) {
	idx := int64(-1)
	if l == 0 {
		idx = int64(i)
	}
	a.add(Finding{Kind: k, Index: idx, Node: &NodeRef{Level: l, Index: i}, Message: fmt.Sprintf(format, args...)})
}

func (a *auditor) loadNodes(ctx context.Context) error {
	if a.in.Nodes == nil {
		return errors.New("ledger: audit: no node iterator")
	}
	for nd, err := range a.in.Nodes {
		if err != nil {
			return fmt.Errorf("ledger: audit: reading nodes: %w", err)
		}
		if a.rep.Nodes++; a.rep.Nodes%(1<<16) == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		l, j := nd.ID.Level, nd.ID.Index
		if int(l) >= len(a.lv) || j >= a.lv[l].count {
			a.addNode(KindExtraNode, l, j, "node %d/%d lies outside the tree of size %d", l, j, a.n)
			continue
		}
		lv := &a.lv[l]
		if lv.present.get(j) {
			a.addNode(KindExtraNode, l, j, "node %d/%d is stored twice", l, j)
			continue
		}
		lv.present.set(j)
		copy(lv.hash(j), nd.Hash)
		if len(nd.Hash) != HashSize {
			// A short hash is padded with zeros, a long one cut: either way
			// it no longer equals the rebuilt node and is reported as such.
			lv.hash(j)[0] ^= 0xff
		}
	}
	return nil
}

// loadLeaves reads the leaf rows in index order, rebuilding the tree as it
// goes and keeping what the version pass needs of each leaf.
func (a *auditor) loadLeaves(ctx context.Context) error {
	if a.in.Leaves == nil {
		return errors.New("ledger: audit: no leaf iterator")
	}
	var i, extra, extraLow uint64
	for row, err := range a.in.Leaves {
		if err != nil {
			return fmt.Errorf("ledger: audit: reading leaves: %w", err)
		}
		if row.Index < i {
			return fmt.Errorf("ledger: audit: leaf %d out of order or repeated", row.Index)
		}
		if row.Index >= a.n {
			for ; i < a.n; i++ {
				a.leaf(i, nil, false)
			}
			if extra == 0 {
				extraLow = row.Index
			}
			extra++
			i = row.Index + 1
			continue
		}
		for ; i < row.Index; i++ {
			a.leaf(i, nil, false)
		}
		a.leaf(i, row.Leaf, true)
		if i++; i%(1<<16) == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	for ; i < a.n; i++ {
		a.leaf(i, nil, false)
	}
	if extra > 0 {
		a.addf(KindExtraLeaf, int64(extraLow), "", "%d leaf rows lie at or beyond the head size %d, the first at %d", extra, a.n, extraLow)
	}
	for _, r := range a.missing {
		if r[1] == a.n {
			a.addf(KindTruncated, int64(r[0]), "", "leaves [%d, %d) are missing at the tail of the ledger", r[0], r[1])
			continue
		}
		for j := r[0]; j < r[1]; j++ {
			a.addf(KindMissingLeaf, int64(j), "", "leaf %d is not stored", j)
		}
	}
	return nil
}

// leaf handles leaf index i: the stored row if have, else its absence.
func (a *auditor) leaf(i uint64, leaf []byte, have bool) {
	l0 := &a.lv[0]
	var lh [HashSize]byte
	if have {
		a.rep.Leaves++
		var c [HashSize]byte
		op, lu, err := parseLeaf(leaf, &c)
		if err != nil {
			a.addf(KindLeafMalformed, int64(i), "", "leaf %d does not parse: %v", i, err)
		} else {
			a.leafOp[i] = opCode(op)
			a.leafLU[i] = fnv64(string(lu))
		}
		lh = a.hashLeaf(leaf)
	} else {
		if k := len(a.missing); k > 0 && a.missing[k-1][1] == i {
			a.missing[k-1][1] = i + 1
		} else {
			a.missing = append(a.missing, [2]uint64{i, i + 1})
		}
		if l0.present.get(i) {
			copy(lh[:], l0.hash(i))
		} else {
			a.unknown.set(i)
			l0.mism.set(i)
		}
	}
	copy(a.leafHash[i*HashSize:], lh[:])
	a.push(i, &lh)
}

// push adds leaf hash lh at index i to the rebuilt tree and compares every
// node it completes with the stored one.
func (a *auditor) push(i uint64, lh *[HashSize]byte) {
	a.check(0, i, lh)
	cur := *lh
	for l, j := uint(1), i; j&1 == 1; l++ {
		a.top--
		cur = nodeHash(&a.stack[a.top], &cur)
		j >>= 1
		a.check(l, j, &cur)
	}
	a.stack[a.top] = cur
	a.top++
}

func (a *auditor) check(l uint, j uint64, h *[HashSize]byte) {
	lv := &a.lv[l]
	if !lv.present.get(j) {
		a.addNode(KindMissingNode, l, j, "node %d/%d is not stored", l, j)
		copy(lv.hash(j), h[:])
		lv.present.set(j)
		return
	}
	if !bytes.Equal(lv.hash(j), h[:]) {
		lv.mism.set(j)
	}
}

// hashLeaf is LeafHash without allocations.
func (a *auditor) hashLeaf(leaf []byte) [HashSize]byte {
	a.lh.Reset()
	a.lh.Write(a.zero[:])
	a.lh.Write(leaf)
	a.lh.Sum(a.sum[:0])
	return a.sum
}

// fnv64 is FNV-1a, to remember a leaf's lastUpdated in 8 bytes.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// loadVersions reads the version rows in index order and checks each
// against its leaf, its erasure status and its chain.
func (a *auditor) loadVersions(ctx context.Context) error {
	if a.in.Versions == nil {
		return errors.New("ledger: audit: no version iterator")
	}
	var last, beyond, beyondLow uint64
	first := true
	for v, err := range a.in.Versions {
		if err != nil {
			return fmt.Errorf("ledger: audit: reading versions: %w", err)
		}
		if !first && v.Index < last {
			return fmt.Errorf("ledger: audit: version at %d after one at %d: versions out of order", v.Index, last)
		}
		first, last = false, v.Index
		if a.rep.Versions++; a.rep.Versions%(1<<16) == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		i := v.Index
		switch {
		case i >= a.n:
			if beyond == 0 {
				beyondLow = i
			}
			beyond++
		case a.hasRow.get(i):
			a.addf(KindDuplicateIndex, int64(i), v.resource(), "a second version row claims leaf %d", i)
		default:
			a.hasRow.set(i)
			a.version(i, &v)
		}
	}
	if beyond > 0 {
		a.addf(KindTruncated, int64(beyondLow), "", "%d versions refer to leaves at or beyond the ledger size %d, the first to %d", beyond, a.n, beyondLow)
	}
	// Leaves without a version row.
	for w, x := range a.hasRow {
		for b := range 64 {
			i := uint64(w)*64 + uint64(b)
			if i >= a.n {
				break
			}
			if x&(1<<b) != 0 {
				continue
			}
			if a.leafOp[i] == opErase {
				a.addf(KindErasureInvalid, int64(i), "", "erase leaf %d has no erasure record", i)
			} else {
				a.lacking.set(i)
			}
		}
	}
	return nil
}

func (a *auditor) version(i uint64, v *Version) {
	e := Entry{Type: v.Type, ID: v.ID, VersionID: v.VersionID, LastUpdated: v.LastUpdated, Op: v.Op, Prev: v.Prev, Key: v.Key}
	if !validType(e.Type) || !validID(e.ID) || !validID(e.VersionID) || !validInstant(e.LastUpdated) ||
		!e.Op.Valid() || e.Prev < -1 || e.Prev >= int64(i) || e.Key != nil && len(e.Key) != KeySize {
		a.addf(KindVersionInvalid, int64(i), v.resource(), "version row for leaf %d is malformed", i)
		return
	}
	hasData := v.Key != nil && (v.Body != nil || v.Op == OpDelete)
	if hasData {
		a.hasData.set(i)
		e.BodyHash = sha256.Sum256(v.Body)
		gh := a.hashLeaf(a.lb.leaf(&e))
		// If the version still hashes to the tree's leaf hash, the leaf row
		// was edited or removed, which the tree checks report; otherwise the
		// version was changed.
		if !a.unknown.get(i) && !bytes.Equal(gh[:], a.leafHash[i*HashSize:(i+1)*HashSize]) && !bytes.Equal(gh[:], a.lv[0].hash(i)) {
			a.addf(KindBodyMismatch, int64(i), v.resource(), "version does not match leaf %d: its body, key or metadata changed", i)
		}
	} else if v.Op != OpErase {
		a.lacking.set(i)
		if op := a.leafOp[i]; op != opNone && (op != opCode(v.Op) || a.leafLU[i] != fnv64(v.LastUpdated)) {
			a.addf(KindBodyMismatch, int64(i), v.resource(), "erased version's op or lastUpdated differs from leaf %d", i)
		}
	}
	if v.Op == OpErase {
		a.erasure(i, v, hasData)
	}
	a.chain(i, v)
}

func (a *auditor) erasure(i uint64, v *Version, hasData bool) {
	if !hasData {
		a.addf(KindErasureInvalid, int64(i), v.resource(), "erasure record %d lost its list or key; erasure records are never erased", i)
		return
	}
	list, err := ParseErasure(v.Body)
	if err != nil {
		a.addf(KindErasureInvalid, int64(i), v.resource(), "erasure record %d: %v", i, err)
		return
	}
	for _, j := range list {
		switch {
		case j >= i:
			a.addf(KindErasureInvalid, int64(i), v.resource(), "erase leaf %d lists leaf %d, which is not earlier", i, j)
		case a.leafOp[j] == opErase:
			a.addf(KindErasureInvalid, int64(i), v.resource(), "erase leaf %d lists erase leaf %d", i, j)
		case a.erased.get(j):
			a.addf(KindErasureInvalid, int64(i), v.resource(), "erase leaf %d lists leaf %d, which was already erased", i, j)
		default:
			a.erased.set(j)
			a.rep.Erased++
		}
	}
}

func (a *auditor) chain(i uint64, v *Version) {
	m := a.chains
	if v.Op == OpErase {
		m = a.erasures
	}
	k := resKey{v.Type, v.ID}
	st, ok := m[k]
	want := int64(-1)
	if ok {
		want = int64(st.last)
	}
	if v.Prev != want {
		if v.Prev > want && !a.hasRow.get(uint64(v.Prev)) {
			// The previous version may have been erased with its row; that
			// is checked once all erase leaves are known.
			a.deferred = append(a.deferred, prevRef{index: i, prev: uint64(v.Prev), resource: v.resource()})
		} else {
			a.addf(KindPrevChain, int64(i), v.resource(), "prev is %s, want %s", prevText(v.Prev), prevText(want))
		}
	}
	t, _ := instantNanos(v.LastUpdated)
	if ok {
		switch {
		case t < st.t:
			a.addf(KindOrder, int64(i), v.resource(), "lastUpdated %s is earlier than the previous version's", v.LastUpdated)
		case v.VersionID == st.vid:
			a.addf(KindOrder, int64(i), v.resource(), "versionId %s repeats the previous version's", v.VersionID)
		default:
			n1, err1 := strconv.ParseUint(st.vid, 10, 64)
			n2, err2 := strconv.ParseUint(v.VersionID, 10, 64)
			if err1 == nil && err2 == nil && n2 < n1 {
				a.addf(KindOrder, int64(i), v.resource(), "versionId %s follows %s", v.VersionID, st.vid)
			}
		}
	}
	m[k] = chainState{last: i, t: t, vid: v.VersionID}
}

func prevText(p int64) string {
	if p < 0 {
		return "-"
	}
	return strconv.FormatInt(p, 10)
}

// classifyTree reports each stored node that differs from the tree rebuilt
// from the leaves, at the lowest place the difference starts: a node whose
// child already differs is not reported again. A differing level-0 node is
// blamed on the leaf row when the parent differs too (the leaf changed),
// and on the node row when the parent still matches.
func (a *auditor) classifyTree() {
	for l := range a.lv {
		lv := &a.lv[l]
		for j := range lv.mism.all() {
			if l == 0 {
				if a.unknown.get(j) {
					continue
				}
				if len(a.lv) > 1 && j/2 < a.lv[1].count && !a.lv[1].mism.get(j/2) {
					a.addNode(KindNodeMismatch, 0, j, "stored leaf hash %d differs from its leaf, which the tree above still matches", j)
				} else {
					a.addf(KindLeafMismatch, int64(j), "", "leaf %d does not hash to the tree's leaf hash", j)
				}
				continue
			}
			below := &a.lv[l-1]
			if below.mism.get(2*j) || below.mism.get(2*j+1) {
				continue
			}
			a.addNode(KindNodeMismatch, uint(l), j, "node %d/%d differs from the hash of its children", l, j)
		}
	}
}

// storedRoot computes the root at size s (<= n) from the stored nodes, with
// missing ones filled in from the rebuilt tree.
func (a *auditor) storedRoot(s uint64) []byte {
	if s == 0 {
		return EmptyRoot()
	}
	ids := compact.RangeNodes(0, s, nil)
	hs := make([][]byte, len(ids))
	for k, id := range ids {
		hs[k] = a.lv[id.Level].hash(id.Index)
	}
	return foldRange(hs)
}

func (a *auditor) checkHead() {
	h := a.in.Head
	ids := compact.RangeNodes(0, a.n, nil)
	if len(h.Range) != len(ids) {
		a.addf(KindHeadMismatch, -1, "", "head range has %d hashes, want %d for size %d", len(h.Range), len(ids), a.n)
	} else {
		for k, id := range ids {
			if !bytes.Equal(h.Range[k], a.lv[id.Level].hash(id.Index)) {
				a.addf(KindHeadMismatch, -1, "", "head range hash %d differs from node %d/%d", k, id.Level, id.Index)
			}
		}
	}
	if !bytes.Equal(h.rootOrEmpty(), a.storedRoot(a.n)) {
		a.addf(KindHeadMismatch, -1, "", "head root differs from the stored tree of size %d", a.n)
	}
}

func (a *auditor) checkErasures() {
	for i := range a.lacking.all() {
		if a.erased.get(i) {
			continue
		}
		if a.hasRow.get(i) {
			a.addf(KindUnloggedErasure, int64(i), "", "version at leaf %d lost its body or key, and no erase leaf lists it", i)
		} else {
			a.addf(KindUnloggedErasure, int64(i), "", "leaf %d has no version row, and no erase leaf lists it", i)
		}
	}
	for j := range a.erased.all() {
		if a.hasData.get(j) {
			a.addf(KindErasureIncomplete, int64(j), "", "leaf %d is listed as erased but its body and key are still stored", j)
		}
	}
	for _, d := range a.deferred {
		if !a.erased.get(d.prev) || a.hasRow.get(d.prev) {
			a.addf(KindPrevChain, int64(d.index), d.resource, "prev %d is not a version of this resource", d.prev)
		}
	}
}

func (a *auditor) checkCheckpoints() error {
	if (len(a.in.Checkpoints) > 0 || a.in.Trusted != nil) && a.in.Verifier == nil {
		return errors.New("ledger: audit: checkpoints given without a verifier")
	}
	roots := map[uint64][]byte{}
	for k, msg := range a.in.Checkpoints {
		a.rep.Checkpoints++
		c, err := OpenCheckpoint(msg, a.in.Verifier)
		if err != nil {
			a.addf(KindCheckpointInvalid, -1, "", "checkpoint #%d: %v", k, err)
			continue
		}
		if r, ok := roots[c.Size]; ok && !bytes.Equal(r, c.Root) {
			a.addf(KindCheckpointInconsistent, -1, "", "checkpoint #%d signs a second root for size %d", k, c.Size)
		}
		roots[c.Size] = c.Root
		if c.Size > a.n {
			a.addf(KindTruncated, -1, "", "checkpoint #%d was signed at size %d, but the ledger has %d leaves", k, c.Size, a.n)
		} else if !bytes.Equal(c.Root, a.storedRoot(c.Size)) {
			a.addf(KindCheckpointRootMismatch, -1, "", "checkpoint #%d root differs from the stored tree at size %d", k, c.Size)
		}
	}
	if a.in.Trusted != nil {
		c, err := OpenCheckpoint(a.in.Trusted, a.in.Verifier)
		if err != nil {
			return fmt.Errorf("ledger: audit: trusted checkpoint: %w", err)
		}
		if c.Size > a.n {
			a.addf(KindTruncated, -1, "", "the trusted checkpoint has size %d, but the ledger has %d leaves", c.Size, a.n)
		} else if !bytes.Equal(c.Root, a.storedRoot(c.Size)) {
			a.addf(KindCheckpointInconsistent, -1, "", "the trusted checkpoint's root differs from the stored tree at size %d: the log forked", c.Size)
		}
	}
	return nil
}
