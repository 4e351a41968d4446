package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
)

// Tile geometry fixed by C2SP tlog-tiles (https://c2sp.org/tlog-tiles).
const (
	TileHeight = 8   // tree levels per tile
	TileWidth  = 256 // hashes (or entries) in a full tile
)

// EntriesLevel is the Tile.L of an entry bundle.
const EntriesLevel = -1

// Tile names a C2SP tlog-tiles resource: the hash tile N at level L, or, for
// L == EntriesLevel, the entry bundle N. W is the number of hashes (or
// entries), TileWidth for a full tile.
//
// Hash tile N at level L holds the hashes of tree nodes (8*L, N*256+i) for
// i < W: level-0 tiles hold leaf hashes, and each hash of a level-L tile is
// the root of a full tile at level L-1.
type Tile struct {
	L int
	N uint64
	W int
}

// Path returns the tile's path, "tile/<L>/<N>[.p/<W>]" or
// "tile/entries/<N>[.p/<W>]", where N is written in 3-digit groups, all but
// the last prefixed with "x" (1234067 is "x001/x234/067").
func (t Tile) Path() string {
	var b strings.Builder
	b.WriteString("tile/")
	if t.L == EntriesLevel {
		b.WriteString("entries")
	} else {
		b.WriteString(strconv.Itoa(t.L))
	}
	var groups []uint64
	for n := t.N; ; n /= 1000 {
		groups = append(groups, n%1000)
		if n < 1000 {
			break
		}
	}
	for i := len(groups) - 1; i >= 0; i-- {
		b.WriteByte('/')
		if i > 0 {
			b.WriteByte('x')
		}
		fmt.Fprintf(&b, "%03d", groups[i])
	}
	if t.W != TileWidth {
		b.WriteString(".p/")
		b.WriteString(strconv.Itoa(t.W))
	}
	return b.String()
}

// ParseTilePath parses a path as written by Tile.Path. It accepts exactly
// the canonical form: level 0-63 or "entries" without leading zeros, 3-digit
// groups with "x" on all but the last, and a width of 1-255 only after
// ".p/".
func ParseTilePath(path string) (Tile, error) {
	bad := fmt.Errorf("ledger: malformed tile path %q", path)
	f := strings.Split(path, "/")
	if len(f) < 3 || f[0] != "tile" {
		return Tile{}, bad
	}
	t := Tile{W: TileWidth}
	if f[1] == "entries" {
		t.L = EntriesLevel
	} else {
		l, ok := smallDecimal(f[1], 63)
		if !ok {
			return Tile{}, bad
		}
		t.L = l
	}
	f = f[2:]
	if len(f) >= 2 && strings.HasSuffix(f[len(f)-2], ".p") {
		w, ok := smallDecimal(f[len(f)-1], TileWidth-1)
		if !ok || w == 0 {
			return Tile{}, bad
		}
		t.W = w
		f[len(f)-2] = strings.TrimSuffix(f[len(f)-2], ".p")
		f = f[:len(f)-1]
	}
	for i, g := range f {
		if i < len(f)-1 {
			if !strings.HasPrefix(g, "x") {
				return Tile{}, bad
			}
			g = g[1:]
		}
		if len(g) != 3 {
			return Tile{}, bad
		}
		var d uint64
		for _, c := range []byte(g) {
			if c < '0' || c > '9' {
				return Tile{}, bad
			}
			d = d*10 + uint64(c-'0')
		}
		hi, lo := bits.Mul64(t.N, 1000)
		if hi != 0 || lo+d < lo {
			return Tile{}, bad
		}
		t.N = lo + d
	}
	if t.Path() != path {
		return Tile{}, bad
	}
	return t, nil
}

// smallDecimal parses canonical decimal (no sign, no leading zeros) up to max.
func smallDecimal(s string, max int) (int, bool) {
	if s == "" || len(s) > 3 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= max
}

// level returns the tree level whose nodes the tile lists.
func (t Tile) level() uint {
	if t.L == EntriesLevel {
		return 0
	}
	return uint(t.L) * TileHeight
}

// first returns the index, at t's tree level, of the tile's first hash.
func (t Tile) first() (uint64, bool) {
	hi, lo := bits.Mul64(t.N, TileWidth)
	return lo, hi == 0
}

// Within reports whether every hash (or entry) of t exists in the tree of
// the given size, that is, whether t may be served for a checkpoint of that
// size. Partial tiles are served for exactly the widths a tree size implies,
// and for any narrower width a client may still ask for.
func (t Tile) Within(size uint64) bool {
	if t.W < 1 || t.W > TileWidth || t.L < EntriesLevel || t.L > 63 {
		return false
	}
	first, ok := t.first()
	if !ok {
		return false
	}
	lv := t.level()
	if lv >= 64 {
		return false
	}
	count := size >> lv
	return first <= count && uint64(t.W) <= count-first
}

// TileWidthAt returns the width of tile n at level l (hash tiles, or
// EntriesLevel) in the tree of the given size: TileWidth for a full tile,
// less for the partial one at the right edge, 0 if it does not exist.
func TileWidthAt(l int, n, size uint64) int {
	t := Tile{L: l, N: n, W: 1}
	first, ok := t.first()
	lv := t.level()
	if !ok || l < EntriesLevel || l > 63 || lv >= 64 {
		return 0
	}
	count := size >> lv
	if first >= count {
		return 0
	}
	return int(min(count-first, TileWidth))
}

// ReadTile returns the bytes of hash tile t: its W hashes concatenated.
func ReadTile(ctx context.Context, r NodeReader, t Tile) ([]byte, error) {
	if t.L == EntriesLevel || t.W < 1 || t.W > TileWidth {
		return nil, fmt.Errorf("ledger: %s is not a hash tile", t.Path())
	}
	first, ok := t.first()
	if !ok {
		return nil, fmt.Errorf("ledger: tile %s out of range", t.Path())
	}
	ids := make([]NodeID, t.W)
	for i := range ids {
		ids[i] = NodeID{Level: t.level(), Index: first + uint64(i)}
	}
	hs, err := readNodes(ctx, r, ids)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, t.W*HashSize)
	for _, h := range hs {
		out = append(out, h...)
	}
	return out, nil
}

// ReadEntryBundle returns entry bundle t: each leaf as a big-endian uint16
// length followed by its bytes (C2SP tlog-tiles, "Log entries").
func ReadEntryBundle(ctx context.Context, r LeafReader, t Tile) ([]byte, error) {
	if t.L != EntriesLevel || t.W < 1 || t.W > TileWidth {
		return nil, fmt.Errorf("ledger: %s is not an entry bundle", t.Path())
	}
	first, ok := t.first()
	if !ok {
		return nil, fmt.Errorf("ledger: bundle %s out of range", t.Path())
	}
	leaves, err := r.Leaves(ctx, first, uint64(t.W))
	if err != nil {
		return nil, err
	}
	if len(leaves) != t.W {
		return nil, fmt.Errorf("ledger: reader returned %d leaves, want %d", len(leaves), t.W)
	}
	var out []byte
	for _, l := range leaves {
		if len(l) > 0xffff {
			return nil, errors.New("ledger: leaf too long for an entry bundle")
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(l)))
		out = append(out, l...)
	}
	return out, nil
}

// ParseEntryBundle splits an entry bundle into its entries.
func ParseEntryBundle(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("ledger: truncated entry bundle")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, errors.New("ledger: truncated entry bundle")
		}
		out = append(out, b[2:2+n:2+n])
		b = b[2+n:]
		if len(out) > TileWidth {
			return nil, errors.New("ledger: entry bundle has more than 256 entries")
		}
	}
	return out, nil
}

// TileFetcher fetches the bytes of a tile, typically with an HTTP GET of
// t.Path() under the log's prefix. It may be called more than once for the
// same tile and must be safe for concurrent use if the reader is.
type TileFetcher func(ctx context.Context, t Tile) ([]byte, error)

// TileNodes returns a NodeReader over a remote log's hash tiles for the tree
// of the given size, so that a client can compute proofs (InclusionProof,
// ConsistencyProof, RootAt) from tiles. Nothing it returns is trusted: the
// proofs must be verified against signed checkpoints, which is what makes
// fetched tiles safe to use. Each tile is fetched at most once per reader.
func TileNodes(size uint64, fetch TileFetcher) NodeReader {
	return &tileNodes{size: size, fetch: fetch, tiles: make(map[Tile][]byte)}
}

type tileNodes struct {
	size  uint64
	fetch TileFetcher
	mu    sync.Mutex
	tiles map[Tile][]byte
}

func (r *tileNodes) Nodes(ctx context.Context, ids []NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := r.node(ctx, id)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// node finds node (l, i) in the tile at level l/8: it is the root of the
// 2^(l%8) consecutive hashes starting at i<<(l%8) on level 8*(l/8).
func (r *tileNodes) node(ctx context.Context, id NodeID) ([]byte, error) {
	if id.Level >= 64 {
		return nil, fmt.Errorf("node %d/%d: %w", id.Level, id.Index, ErrNotFound)
	}
	tl := int(id.Level / TileHeight)
	k := id.Level % TileHeight
	start := id.Index << k
	if start>>k != id.Index {
		return nil, fmt.Errorf("node %d/%d: %w", id.Level, id.Index, ErrNotFound)
	}
	n := start / TileWidth
	w := TileWidthAt(tl, n, r.size)
	off := int(start % TileWidth)
	if w == 0 || off+1<<k > w {
		return nil, fmt.Errorf("node %d/%d not complete at size %d: %w", id.Level, id.Index, r.size, ErrNotFound)
	}
	t := Tile{L: tl, N: n, W: w}
	data, err := r.tile(ctx, t)
	if err != nil {
		return nil, err
	}
	return subtreeHash(data[off*HashSize : (off+1<<k)*HashSize]), nil
}

func (r *tileNodes) tile(ctx context.Context, t Tile) ([]byte, error) {
	r.mu.Lock()
	data, ok := r.tiles[t]
	r.mu.Unlock()
	if ok {
		return data, nil
	}
	data, err := r.fetch(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("ledger: fetch %s: %w", t.Path(), err)
	}
	if len(data) != t.W*HashSize {
		return nil, fmt.Errorf("ledger: tile %s has %d bytes, want %d", t.Path(), len(data), t.W*HashSize)
	}
	r.mu.Lock()
	r.tiles[t] = data
	r.mu.Unlock()
	return data, nil
}

// subtreeHash returns the root of the perfect subtree whose leaves are the
// hashes in data (a power of two of them).
func subtreeHash(data []byte) []byte {
	if len(data) == HashSize {
		return data[:HashSize:HashSize]
	}
	half := len(data) / 2
	return hashChildren(subtreeHash(data[:half]), subtreeHash(data[half:]))
}
