package ledger

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// VersionProof is what a client holds to check one resource version against
// the log: the version it read (from the request URL and the vread body) and
// the pieces of the $ledger-proof operation's Parameters (index, treeSize,
// leaf, key, prev, proof, checkpoint). Nothing in it is trusted until
// Verify returns.
type VersionProof struct {
	// The version as the client read it.
	Type      string
	ID        string
	VersionID string
	Body      []byte // exact bytes of the vread response; empty for a deleted version

	// The $ledger-proof parameters.
	Index      uint64
	TreeSize   uint64
	Leaf       []byte
	Key        []byte
	Prev       int64
	Proof      [][]byte // audit path, RFC 6962 order
	Checkpoint []byte   // signed note whose size is TreeSize
}

// Verify checks p against the log key v and returns the verified
// checkpoint. It holds that: the checkpoint is signed by v and has size
// TreeSize; the leaf is the commitment, under Key, to exactly this type, id,
// versionId, body and prev, with the op and lastUpdated the leaf shows; and
// the audit path puts that leaf at Index in the checkpoint's tree.
//
// The caller should also check that the returned checkpoint is consistent
// with any it saved before (VerifyCheckpointUpdate), which is what detects a
// log showing different clients different trees, and that the body's
// meta.lastUpdated equals the leaf's.
func (p *VersionProof) Verify(v note.Verifier) (Checkpoint, error) {
	c, err := OpenCheckpoint(p.Checkpoint, v)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Size != p.TreeSize {
		return Checkpoint{}, fmt.Errorf("ledger: checkpoint size %d is not treeSize %d", c.Size, p.TreeSize)
	}
	l, err := ParseLeaf(p.Leaf)
	if err != nil {
		return Checkpoint{}, err
	}
	if l.Op == OpErase {
		return Checkpoint{}, errors.New("ledger: leaf is an erase leaf, not a version")
	}
	if p.Prev >= 0 && uint64(p.Prev) >= p.Index {
		return Checkpoint{}, fmt.Errorf("ledger: prev %d is not before index %d", p.Prev, p.Index)
	}
	if l.Op == OpDelete && len(p.Body) != 0 {
		return Checkpoint{}, errors.New("ledger: a delete has an empty body")
	}
	e := Entry{
		Type: p.Type, ID: p.ID, VersionID: p.VersionID,
		LastUpdated: l.LastUpdated, Op: l.Op,
		BodyHash: BodyHash(p.Body), Prev: p.Prev, Key: p.Key,
	}
	want, err := e.Leaf()
	if err != nil {
		return Checkpoint{}, err
	}
	if !bytes.Equal(want, p.Leaf) {
		return Checkpoint{}, fmt.Errorf("%w: leaf does not commit to this version", ErrProof)
	}
	if err := VerifyInclusion(p.Leaf, p.Index, p.TreeSize, p.Proof, c.Root); err != nil {
		return Checkpoint{}, err
	}
	return c, nil
}

// VerifyCheckpointUpdate checks a newly fetched checkpoint note against one
// the client saved earlier: both must be signed by v, and the new tree must
// extend the old one, as shown by proof, a consistency proof from the old
// size to the new (ConsistencyProof, for example over TileNodes). A tree that
// shrank or forked is rejected with an error wrapping ErrInconsistent. On
// success the new checkpoint is returned and should replace the saved one.
func VerifyCheckpointUpdate(v note.Verifier, saved, latest []byte, proof [][]byte) (Checkpoint, error) {
	old, err := OpenCheckpoint(saved, v)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("saved %w", err)
	}
	c, err := OpenCheckpoint(latest, v)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Size < old.Size {
		return Checkpoint{}, fmt.Errorf("%w: tree shrank from %d to %d", ErrInconsistent, old.Size, c.Size)
	}
	if err := VerifyConsistency(old.Size, c.Size, proof, old.Root, c.Root); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrInconsistent, err)
	}
	return c, nil
}
