package ledger

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
)

// Op is the kind of write a leaf records. Its string value is the exact text
// written into leaves and commitments.
type Op string

// The four operations of the contract (doc.go, "Leaf format").
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
	OpErase  Op = "erase"
)

// Valid reports whether o is one of the four operations.
func (o Op) Valid() bool {
	switch o {
	case OpCreate, OpUpdate, OpDelete, OpErase:
		return true
	}
	return false
}

const (
	// KeySize is the size of a per-version commitment key.
	KeySize = 32
	// HashSize is the size of every hash in the ledger (SHA-256).
	HashSize = sha256.Size

	leafPrefix   = "fhirseal/v1\n"
	commitPrefix = "fhirseal/v1/commit\n"

	// maxField bounds the type, id and version id. FHIR ids are at most 64
	// characters and resource type names are much shorter.
	maxField = 64
	// maxInstant bounds lastUpdated so that a leaf always fits the uint16
	// length prefix of a C2SP entry bundle with room to spare.
	maxInstant = 64
	// commitmentB64Len is len(base64.StdEncoding.EncodeToString(32 bytes)).
	commitmentB64Len = 44
	// MaxLeafSize is an upper bound on the size of a valid leaf.
	MaxLeafSize = len(leafPrefix) + len(OpCreate) + 1 + maxInstant + 1 + commitmentB64Len + 1
)

// NewKey returns a fresh random commitment key of KeySize bytes. One key is
// drawn per resource version (and per erasure) and stored beside it; erasing
// the key leaves the commitment in the ledger unopenable.
func NewKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // never fails (crypto/rand, Go 1.24+)
	return k
}

// BodyHash returns SHA-256 of the exact stored bytes of a version. For a
// delete tombstone the body is empty, so its body hash is SHA-256 of the
// empty string (e3b0c442...b855); for an erase entry the body is the
// canonical erased-index list (see EncodeErasure).
func BodyHash(body []byte) [HashSize]byte {
	return sha256.Sum256(body)
}

// Entry is everything one leaf commits to. It holds no resource content:
// only the body hash, which is itself hidden behind the keyed commitment.
type Entry struct {
	Type        string // resource type, e.g. "Observation"; for an erase, the target's type
	ID          string // resource id; for an erase, the target's id
	VersionID   string // meta.versionId; for an erase, the erasure's sequence number for the target ("1", "2", ...)
	LastUpdated string // exact meta.lastUpdated text (FHIR instant)
	Op          Op
	BodyHash    [HashSize]byte // BodyHash(stored bytes), BodyHash(nil) for a delete, BodyHash(EncodeErasure(...)) for an erase
	Prev        int64          // ledger index of the previous leaf in this entry's chain, or -1 for none
	Key         []byte         // KeySize random bytes (NewKey)
}

// Validate checks every field against the contract. Fields are restricted to
// the FHIR id, resource-type and instant syntaxes, which contain neither "/"
// nor newlines, so the commitment message is unambiguous.
func (e *Entry) Validate() error {
	switch {
	case !validType(e.Type):
		return fmt.Errorf("ledger: invalid resource type %q", e.Type)
	case !validID(e.ID):
		return fmt.Errorf("ledger: invalid id %q", e.ID)
	case !validID(e.VersionID):
		return fmt.Errorf("ledger: invalid version id %q", e.VersionID)
	case !validInstant(e.LastUpdated):
		return fmt.Errorf("ledger: invalid lastUpdated %q", e.LastUpdated)
	case !e.Op.Valid():
		return fmt.Errorf("ledger: invalid op %q", e.Op)
	case e.Prev < -1:
		return fmt.Errorf("ledger: invalid prev %d", e.Prev)
	case len(e.Key) != KeySize:
		return fmt.Errorf("ledger: key has %d bytes, want %d", len(e.Key), KeySize)
	}
	return nil
}

// Commitment returns HMAC-SHA-256(key, message) for the contract's message
//
//	"fhirseal/v1/commit\n" + type + "/" + id + "/_history/" + vid + "\n" +
//	lastUpdated + "\n" + op + "\n" + hex(bodyHash) + "\n" + prev + "\n"
//
// where prev is decimal or "-".
func (e *Entry) Commitment() ([HashSize]byte, error) {
	if err := e.Validate(); err != nil {
		return [HashSize]byte{}, err
	}
	var b leafBuilder
	return b.commitment(e), nil
}

// Leaf returns the leaf bytes for e:
//
//	"fhirseal/v1\n" + op + "\n" + lastUpdated + "\n" + base64(commitment) + "\n"
func (e *Entry) Leaf() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	var b leafBuilder
	return bytes.Clone(b.leaf(e)), nil
}

// Leaf is a parsed leaf: the only things a leaf shows in the clear are the
// operation and the timestamp.
type Leaf struct {
	Op          Op
	LastUpdated string
	Commitment  [HashSize]byte
}

// Bytes returns the leaf's canonical encoding.
func (l Leaf) Bytes() []byte {
	return appendLeaf(make([]byte, 0, MaxLeafSize), l.Op, l.LastUpdated, &l.Commitment)
}

var errLeaf = errors.New("ledger: malformed leaf")

// ParseLeaf parses and strictly validates a leaf. Exactly the bytes produced
// by Entry.Leaf are accepted: four newline-terminated lines, a known op, a
// FHIR instant, and canonical padded standard base64 of 32 bytes.
func ParseLeaf(b []byte) (Leaf, error) {
	var l Leaf
	op, lu, err := parseLeaf(b, &l.Commitment)
	if err != nil {
		return Leaf{}, err
	}
	l.Op, l.LastUpdated = op, string(lu)
	return l, nil
}

// parseLeaf is ParseLeaf without allocations: it returns the lastUpdated
// bytes inside b.
func parseLeaf(b []byte, commitment *[HashSize]byte) (Op, []byte, error) {
	if len(b) > MaxLeafSize || !bytes.HasPrefix(b, []byte(leafPrefix)) {
		return "", nil, errLeaf
	}
	rest := b[len(leafPrefix):]
	opb, rest, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return "", nil, errLeaf
	}
	var op Op
	switch string(opb) {
	case string(OpCreate):
		op = OpCreate
	case string(OpUpdate):
		op = OpUpdate
	case string(OpDelete):
		op = OpDelete
	case string(OpErase):
		op = OpErase
	default:
		return "", nil, errLeaf
	}
	lu, rest, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok || !validInstantBytes(lu) {
		return "", nil, errLeaf
	}
	c, rest, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok || len(rest) != 0 || len(c) != commitmentB64Len {
		return "", nil, errLeaf
	}
	// Strict decoding rejects non-zero padding bits, so the encoding is
	// canonical: one commitment has exactly one leaf.
	n, err := base64.StdEncoding.Strict().Decode(commitment[:], c)
	if err != nil || n != HashSize {
		return "", nil, errLeaf
	}
	return op, lu, nil
}

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 || leaf)
// (RFC 6962, section 2.1).
func LeafHash(leaf []byte) []byte {
	h := leafHash(leaf)
	return h[:]
}

func leafHash(leaf []byte) [HashSize]byte {
	d := sha256.New()
	d.Write([]byte{0})
	d.Write(leaf)
	var out [HashSize]byte
	d.Sum(out[:0])
	return out
}

// nodeHash returns the RFC 6962 interior node hash SHA-256(0x01 || l || r).
func nodeHash(l, r *[HashSize]byte) [HashSize]byte {
	var buf [1 + 2*HashSize]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[1+HashSize:], r[:])
	return sha256.Sum256(buf[:])
}

// hashChildren is nodeHash for slices, in the shape merkle's compact ranges
// and proofs want. Inputs are always HashSize long in this package.
func hashChildren(l, r []byte) []byte {
	var buf [1 + 2*HashSize]byte
	buf[0] = 1
	copy(buf[1:], l)
	copy(buf[1+HashSize:], r)
	h := sha256.Sum256(buf[:])
	return h[:]
}

// leafBuilder computes commitments and leaves without allocating in steady
// state, which is what lets the audit recompute hundreds of thousands of
// leaves per second. Its zero value is ready to use; it is not safe for
// concurrent use.
type leafBuilder struct {
	inner, outer hash.Hash
	msg, leafBuf []byte
	pad          [sha256.BlockSize]byte
	sum          [HashSize]byte
}

// commitment computes HMAC-SHA-256 (RFC 2104) directly: the key is shorter
// than the SHA-256 block, so it is zero-padded and XORed with the pads.
// Tests check the result against crypto/hmac.
func (b *leafBuilder) commitment(e *Entry) [HashSize]byte {
	if b.inner == nil {
		b.inner, b.outer = sha256.New(), sha256.New()
	}
	// The scratch arrays live in b: passed to hash.Hash methods, arrays on
	// the stack would escape and cost an allocation each.
	b.msg = appendCommitMessage(b.msg[:0], e)
	b.pad = [sha256.BlockSize]byte{}
	copy(b.pad[:], e.Key)
	for i := range b.pad {
		b.pad[i] ^= 0x36
	}
	b.inner.Reset()
	b.inner.Write(b.pad[:])
	b.inner.Write(b.msg)
	b.inner.Sum(b.sum[:0])
	for i := range b.pad {
		b.pad[i] ^= 0x36 ^ 0x5c
	}
	b.outer.Reset()
	b.outer.Write(b.pad[:])
	b.outer.Write(b.sum[:])
	b.outer.Sum(b.sum[:0])
	return b.sum
}

// leaf returns e's leaf in a buffer owned by b, valid until the next call.
func (b *leafBuilder) leaf(e *Entry) []byte {
	c := b.commitment(e)
	b.leafBuf = appendLeaf(b.leafBuf[:0], e.Op, e.LastUpdated, &c)
	return b.leafBuf
}

func appendCommitMessage(dst []byte, e *Entry) []byte {
	dst = append(dst, commitPrefix...)
	dst = append(dst, e.Type...)
	dst = append(dst, '/')
	dst = append(dst, e.ID...)
	dst = append(dst, "/_history/"...)
	dst = append(dst, e.VersionID...)
	dst = append(dst, '\n')
	dst = append(dst, e.LastUpdated...)
	dst = append(dst, '\n')
	dst = append(dst, e.Op...)
	dst = append(dst, '\n')
	dst = hex.AppendEncode(dst, e.BodyHash[:])
	dst = append(dst, '\n')
	dst = appendPrev(dst, e.Prev)
	return append(dst, '\n')
}

// FormatPrev returns prev as it appears in commitments and in the
// $ledger-proof "prev" parameter: decimal, or "-" for none (-1).
func FormatPrev(prev int64) string {
	return string(appendPrev(nil, prev))
}

// ParsePrev parses FormatPrev's output: canonical decimal or "-".
func ParsePrev(s string) (int64, error) {
	if s == "-" {
		return -1, nil
	}
	if s == "" || len(s) > 1 && s[0] == '0' || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("ledger: invalid prev %q", s)
	}
	p, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ledger: invalid prev %q", s)
	}
	return p, nil
}

func appendPrev(dst []byte, prev int64) []byte {
	if prev < 0 {
		return append(dst, '-')
	}
	return strconv.AppendInt(dst, prev, 10)
}

func appendLeaf(dst []byte, op Op, lastUpdated string, c *[HashSize]byte) []byte {
	dst = append(dst, leafPrefix...)
	dst = append(dst, op...)
	dst = append(dst, '\n')
	dst = append(dst, lastUpdated...)
	dst = append(dst, '\n')
	dst = base64.StdEncoding.AppendEncode(dst, c[:])
	return append(dst, '\n')
}

// validType reports whether s is a FHIR resource type name: an upper-case
// ASCII letter followed by ASCII letters.
func validType(s string) bool {
	if len(s) == 0 || len(s) > maxField || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// validID reports whether s matches the FHIR id type, [A-Za-z0-9\-\.]{1,64}
// (R4, section 2.24.0.1).
func validID(s string) bool {
	if len(s) == 0 || len(s) > maxField {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validInstant reports whether s is a FHIR instant (R4, section 2.24.0.1):
// YYYY-MM-DDThh:mm:ss[.f+](Z|(+|-)hh:mm), year not 0000, at most maxInstant
// bytes.
func validInstant(s string) bool {
	_, ok := instantNanos(s)
	return ok
}

func validInstantBytes(b []byte) bool {
	_, ok := instantNanos(string(b)) // no allocation: the string does not escape
	return ok
}

// instantNanos parses a FHIR instant into nanoseconds since the Unix epoch,
// for ordering checks. Leap second 60 is accepted as the regular expression
// in the specification accepts it. Digits beyond nanoseconds are ignored.
func instantNanos(s string) (int64, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || len(s) > maxInstant {
		return 0, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
		year == 0 || month < 1 || month > 12 || day < 1 || day > 31 ||
		hour > 23 || minute > 59 || sec > 60 {
		return 0, false
	}
	i := 19
	var frac int64
	if s[i] == '.' {
		i++
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			if i-start < 9 {
				frac = frac*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == start {
			return 0, false
		}
		for d := i - start; d < 9; d++ {
			frac *= 10
		}
	}
	var offset int
	switch rest := s[i:]; {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := num(i+1, 2)
		om, okm := num(i+4, 2)
		if !okh || !okm || om > 59 || oh > 14 || oh == 14 && om != 0 {
			return 0, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - int64(offset)
	return secs*1e9 + frac, true
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (H. Hinnant, "chrono-compatible low-level date
// algorithms").
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
