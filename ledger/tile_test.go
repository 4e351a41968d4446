package ledger

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// c2spPath converts a tlog tile path of height 8 to the C2SP form, which
// drops the height and calls the data level "entries".
func c2spPath(p string) string {
	p = strings.Replace(p, "tile/8/data/", "tile/entries/", 1)
	return strings.Replace(p, "tile/8/", "tile/", 1)
}

func TestTilePath(t *testing.T) {
	tests := []struct {
		t    Tile
		want string
	}{
		{Tile{L: 0, N: 0, W: 256}, "tile/0/000"},
		{Tile{L: 0, N: 1234067, W: 256}, "tile/0/x001/x234/067"},
		{Tile{L: 4, N: 1234067, W: 8}, "tile/4/x001/x234/067.p/8"},
		{Tile{L: EntriesLevel, N: 5, W: 255}, "tile/entries/005.p/255"},
		{Tile{L: 63, N: 1000, W: 1}, "tile/63/x001/000.p/1"},
		{Tile{L: 1, N: 1<<64 - 1, W: 256}, "tile/1/x018/x446/x744/x073/x709/x551/615"},
	}
	for _, tt := range tests {
		if got := tt.t.Path(); got != tt.want {
			t.Errorf("%+v.Path() = %q, want %q", tt.t, got, tt.want)
		}
		got, err := ParseTilePath(tt.want)
		if err != nil || got != tt.t {
			t.Errorf("ParseTilePath(%q) = %+v, %v, want %+v", tt.want, got, err, tt.t)
		}
	}
	bad := []string{
		"", "tile", "tile/0", "tile/0/", "tiles/0/000", "tile/8/0/000", "tile/00/000", "tile/64/000",
		"tile/-1/000", "tile/data/000", "tile/0/0", "tile/0/0000", "tile/0/001/002", "tile/0/x001",
		"tile/0/y001/002", "tile/0/000.p/256", "tile/0/000.p/0", "tile/0/000.p/01", "tile/0/000.p/",
		"tile/0/000.p", "tile/0/000/", "tile/0/x000/001", "tile/0/+12", "tile/0/x018/x446/x744/x073/x709/x551/616",
		"tile/entries/000.p/256", "tile/0/000.p/1/2",
	}
	for _, p := range bad {
		if got, err := ParseTilePath(p); err == nil {
			t.Errorf("ParseTilePath(%q) = %+v, want error", p, got)
		}
	}
}

func TestTilePathAgainstTlog(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for k := 0; k < 3000; k++ {
		tt := tlog.Tile{H: 8, L: r.IntN(65) - 1, N: r.Int64N(1 << (r.IntN(40) + 1)), W: 1 + r.IntN(256)}
		if k%4 == 0 {
			tt.W = 256
		}
		want := c2spPath(tt.Path())
		got := Tile{L: tt.L, N: uint64(tt.N), W: tt.W}
		if p := got.Path(); p != want {
			t.Fatalf("%+v.Path() = %q, want %q", got, p, want)
		}
		back, err := ParseTilePath(want)
		if err != nil || back != got {
			t.Fatalf("ParseTilePath(%q) = %+v, %v, want %+v", want, back, err, got)
		}
	}
}

func FuzzParseTilePath(f *testing.F) {
	f.Add("tile/0/x001/x234/067.p/8")
	f.Add("tile/entries/000")
	f.Fuzz(func(t *testing.T, p string) {
		tl, err := ParseTilePath(p)
		if err != nil {
			return
		}
		if got := tl.Path(); got != p {
			t.Fatalf("ParseTilePath(%q).Path() = %q", p, got)
		}
		if tl.W < 1 || tl.W > TileWidth || tl.L < EntriesLevel || tl.L > 63 {
			t.Fatalf("ParseTilePath(%q) = %+v, out of range", p, tl)
		}
	})
}

func TestReadTileAgainstTlog(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(15, 16))
	const n = 70000
	leaves := randomLeaves(r, n)
	s, _ := buildRaw(t, leaves)
	hr := tlogReader(t, s)
	// C2SP: a tree of 70,000 is 273 full level-0 tiles, a partial one of
	// width 112, a full level-1 tile, a partial one of 17, and one of 1 at
	// level 2.
	tiles := tlog.NewTiles(8, 0, n)
	var partial []string
	for _, tt := range tiles {
		if tt.W != 256 {
			partial = append(partial, c2spPath(tt.Path()))
		}
	}
	if want := []string{"tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"}; fmt.Sprint(partial) != fmt.Sprint(want) {
		t.Errorf("partial tiles = %v, want %v", partial, want)
	}
	for k, tt := range tiles {
		if k%17 != 0 && tt.W == 256 {
			continue // a sample of full tiles, all partial ones
		}
		ours := Tile{L: tt.L, N: uint64(tt.N), W: tt.W}
		if w := TileWidthAt(tt.L, uint64(tt.N), n); w != tt.W {
			t.Errorf("TileWidthAt(%d, %d, %d) = %d, want %d", tt.L, tt.N, n, w, tt.W)
		}
		if !ours.Within(n) {
			t.Errorf("%s.Within(%d) = false", ours.Path(), n)
		}
		got, err := ReadTile(ctx, s, ours)
		if err != nil {
			t.Fatalf("ReadTile(%s): %v", ours.Path(), err)
		}
		want, err := tlog.ReadTileData(tt, hr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("ReadTile(%s) differs from tlog.ReadTileData", ours.Path())
		}
	}
	outside := []Tile{{L: 0, N: 273, W: 113}, {L: 0, N: 274, W: 1}, {L: 2, N: 0, W: 2}, {L: 3, N: 0, W: 1}, {L: 0, N: 1 << 62, W: 256}}
	for _, tl := range outside {
		if tl.Within(n) {
			t.Errorf("%s.Within(%d) = true, want false", tl.Path(), n)
		}
	}

	// Entry bundles round-trip and hash to the level-0 tile.
	b, err := ReadEntryBundle(ctx, s, Tile{L: EntriesLevel, N: 273, W: 112})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ParseEntryBundle(b)
	if err != nil || len(entries) != 112 {
		t.Fatalf("ParseEntryBundle = %d entries, %v", len(entries), err)
	}
	tile0, _ := ReadTile(ctx, s, Tile{L: 0, N: 273, W: 112})
	for i, e := range entries {
		if !bytes.Equal(LeafHash(e), tile0[i*HashSize:(i+1)*HashSize]) {
			t.Fatalf("entry %d does not hash to its tile hash", i)
		}
	}
	if _, err := ParseEntryBundle(b[:len(b)-1]); err == nil {
		t.Error("ParseEntryBundle(truncated) = nil error")
	}
}

func FuzzParseEntryBundle(f *testing.F) {
	f.Add([]byte{0, 1, 'a', 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseEntryBundle(b)
		if err != nil {
			return
		}
		var again []byte
		for _, e := range entries {
			again = append(again, byte(len(e)>>8), byte(len(e)))
			again = append(again, e...)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("ParseEntryBundle(%x) does not round-trip", b)
		}
	})
}

func TestTileNodes(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(17, 18))
	const n = 66000
	s, _ := buildRaw(t, randomLeaves(r, n))
	fetches := 0
	fetch := func(ctx context.Context, tl Tile) ([]byte, error) {
		fetches++
		return ReadTile(ctx, s, tl)
	}
	for k := 0; k < 300; k++ {
		size := 1 + r.Uint64N(n)
		tn := TileNodes(size, fetch)
		index := r.Uint64N(size)
		want, _ := InclusionProof(ctx, s, index, size)
		got, err := InclusionProof(ctx, tn, index, size)
		if err != nil || !equalHashes(got, want) {
			t.Fatalf("InclusionProof(%d, %d) over tiles = %x, %v, want %x", index, size, got, err, want)
		}
		size1 := 1 + r.Uint64N(size)
		want, _ = ConsistencyProof(ctx, s, size1, size)
		got, err = ConsistencyProof(ctx, tn, size1, size)
		if err != nil || !equalHashes(got, want) {
			t.Fatalf("ConsistencyProof(%d, %d) over tiles = %x, %v, want %x", size1, size, got, err, want)
		}
		wr, _ := RootAt(ctx, s, size)
		gr, err := RootAt(ctx, tn, size)
		if err != nil || !bytes.Equal(gr, wr) {
			t.Fatalf("RootAt(%d) over tiles = %x, %v, want %x", size, gr, err, wr)
		}
	}
	if fetches == 0 {
		t.Error("no tile fetched")
	}
	// A node that is not complete at the reader's size is not found.
	if _, err := TileNodes(10, fetch).Nodes(ctx, []NodeID{{Level: 2, Index: 2}}); err == nil {
		t.Error("TileNodes(10).Nodes(2/2) = nil error")
	}
}

func equalHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
