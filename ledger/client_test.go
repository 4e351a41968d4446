package ledger

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// proofFor builds the $ledger-proof pieces for the version at index i as an
// honest server would, against the latest checkpoint.
func (f *fixture) proofFor(i uint64) VersionProof {
	f.t.Helper()
	cp, msg := f.cp.Latest()
	v := f.versionAt(i)
	p, err := InclusionProof(context.Background(), f.store, i, cp.Size)
	if err != nil {
		f.t.Fatal(err)
	}
	return VersionProof{
		Type: v.Type, ID: v.ID, VersionID: v.VersionID, Body: v.Body,
		Index: i, TreeSize: cp.Size, Leaf: f.store.leaves[i], Key: v.Key, Prev: v.Prev,
		Proof: p, Checkpoint: msg,
	}
}

func TestVersionProof(t *testing.T) {
	f := newFixture(t)
	f.build(300)
	del := f.write("Patient", "r5", OpDelete, nil)
	f.checkpoint()
	other := testKey(t, "example.org/fhir")

	tests := []struct {
		name   string
		forge  func(p *VersionProof)
		wantOK bool
	}{
		{"honest", func(p *VersionProof) {}, true},
		{"honest delete", func(p *VersionProof) { *p = f.proofFor(del) }, true},
		{"edited body", func(p *VersionProof) { p.Body = append(bytes.Clone(p.Body), ' ') }, false},
		{"delete with a body", func(p *VersionProof) { *p = f.proofFor(del); p.Body = []byte("{}") }, false},
		{"another version id", func(p *VersionProof) { p.VersionID = "99" }, false},
		{"another resource", func(p *VersionProof) { p.ID = "r6" }, false},
		{"wrong key", func(p *VersionProof) { p.Key = NewKey() }, false},
		{"wrong prev", func(p *VersionProof) { p.Prev++ }, false},
		{"proof for another index", func(p *VersionProof) {
			q := f.proofFor(p.Index + 1)
			p.Proof = q.Proof
		}, false},
		{"claimed at another index", func(p *VersionProof) { p.Index++ }, false},
		{"another version's leaf and proof", func(p *VersionProof) {
			q := f.proofFor(p.Index + 1)
			p.Leaf, p.Proof, p.Index = q.Leaf, q.Proof, q.Index
		}, false},
		{"checkpoint of another size", func(p *VersionProof) { p.TreeSize-- }, false},
		{"checkpoint signed by an unknown key", func(p *VersionProof) {
			c, _ := OpenCheckpoint(p.Checkpoint, f.key.Verifier)
			p.Checkpoint, _ = signCheckpoint(other.Signer, c)
		}, false},
		{"checkpoint with a forged root", func(p *VersionProof) {
			i := bytes.LastIndex(p.Checkpoint, []byte("\n\n"))
			p.Checkpoint[i-3] ^= 1
		}, false},
		{"truncated proof", func(p *VersionProof) { p.Proof = p.Proof[:len(p.Proof)-1] }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := f.proofFor(123)
			p.Checkpoint = bytes.Clone(p.Checkpoint)
			tt.forge(&p)
			c, err := p.Verify(f.key.Verifier)
			if (err == nil) != tt.wantOK {
				t.Fatalf("Verify = %+v, %v, want ok=%v", c, err, tt.wantOK)
			}
			if err == nil && c.Size != p.TreeSize {
				t.Errorf("Verify checkpoint size = %d, want %d", c.Size, p.TreeSize)
			}
		})
	}
}

func TestCheckpointUpdate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.build(150)
	saved := f.checkpoint() // the client keeps this one
	f.build(400)
	latest := f.checkpoint()
	// Honest, over tiles as a remote client would fetch them.
	tiles := TileNodes(400, func(ctx context.Context, tl Tile) ([]byte, error) { return ReadTile(ctx, f.store, tl) })
	p, err := ConsistencyProof(ctx, tiles, 150, 400)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := VerifyCheckpointUpdate(f.key.Verifier, saved, latest, p); err != nil || c.Size != 400 {
		t.Fatalf("VerifyCheckpointUpdate(honest) = %+v, %v", c, err)
	}
	if _, err := VerifyCheckpointUpdate(f.key.Verifier, saved, saved, nil); err != nil {
		t.Errorf("VerifyCheckpointUpdate(same checkpoint) = %v", err)
	}

	// A malicious server that forked after leaf 100 and signed the fork
	// with the log's own key.
	g := newFixture(t)
	g.key, g.cp = f.key, mustCheckpointer(t, f.key)
	for _, v := range f.versions[:100] {
		g.appendVersion(v)
	}
	g.build(420)
	forked := g.checkpoint()
	forkTiles := TileNodes(420, func(ctx context.Context, tl Tile) ([]byte, error) { return ReadTile(ctx, g.store, tl) })
	forkProof, err := ConsistencyProof(ctx, forkTiles, 150, 420)
	if err != nil {
		t.Fatal(err)
	}
	other := testKey(t, "example.org/fhir")
	cLatest, _ := OpenCheckpoint(latest, f.key.Verifier)
	unknown, _ := signCheckpoint(other.Signer, cLatest)
	shrunk := f.checkpoints[1] // size 100, older than saved

	tests := []struct {
		name    string
		latest  []byte
		proof   [][]byte
		inconst bool
	}{
		{"forked tree with its own proof", forked, forkProof, true},
		{"forked tree with the honest proof", forked, p, true},
		{"honest checkpoint with the fork's proof", latest, forkProof, true},
		{"shrinking tree", shrunk, nil, true},
		{"signed by an unknown key", unknown, p, false},
		{"empty proof", latest, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := VerifyCheckpointUpdate(f.key.Verifier, saved, tt.latest, tt.proof)
			if err == nil {
				t.Fatalf("VerifyCheckpointUpdate = %+v, want error", c)
			}
			if got := errors.Is(err, ErrInconsistent); got != tt.inconst {
				t.Errorf("VerifyCheckpointUpdate = %v, errors.Is(ErrInconsistent) = %v, want %v", err, got, tt.inconst)
			}
		})
	}
}

func mustCheckpointer(t testing.TB, k *Key) *Checkpointer {
	c, err := NewCheckpointer(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
