package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint):
// the log's origin, a tree size and the RFC 6962 root at that size.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Text returns the checkpoint's note text, "origin\nsize\nbase64(root)\n".
// fhirseal writes no extension lines.
func (c Checkpoint) Text() []byte {
	b := make([]byte, 0, len(c.Origin)+1+20+1+commitmentB64Len+1)
	b = append(b, c.Origin...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Root)
	return append(b, '\n')
}

var errCheckpoint = errors.New("ledger: malformed checkpoint")

// ParseCheckpoint parses checkpoint note text (without signatures). It is
// strict: the origin must be a valid note key name, the size canonical
// decimal, the root canonical base64 of 32 bytes, and there must be no
// extension lines, since fhirseal never writes any.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	lines := strings.SplitAfter(string(text), "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, errCheckpoint
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	size := strings.TrimSuffix(lines[1], "\n")
	root := strings.TrimSuffix(lines[2], "\n")
	if !validKeyName(origin) || size == "" || len(size) > 1 && size[0] == '0' || len(root) != commitmentB64Len {
		return Checkpoint{}, errCheckpoint
	}
	n, err := strconv.ParseUint(size, 10, 64)
	if err != nil {
		return Checkpoint{}, errCheckpoint
	}
	r, err := base64.StdEncoding.Strict().DecodeString(root)
	if err != nil || len(r) != HashSize {
		return Checkpoint{}, errCheckpoint
	}
	return Checkpoint{Origin: origin, Size: n, Root: r}, nil
}

// OpenCheckpoint verifies a signed checkpoint note with v and parses it. The
// note must carry a valid signature by v (other signatures, such as witness
// cosignatures, are ignored as the note format requires) and its origin must
// equal v's key name.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: checkpoint: %w", err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("ledger: checkpoint origin %q is not the key's name %q", c.Origin, v.Name())
	}
	return c, nil
}

func signCheckpoint(s note.Signer, c Checkpoint) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(c.Text())}, s)
}

// Origin derives the checkpoint origin (and note key name) from the server's
// base URL, following the C2SP tlog-tiles recommendation: the URL without its
// scheme, with the host in lower case and without trailing slashes. For
// example "https://Example.org/fhir/" gives "example.org/fhir" and
// "http://localhost:8080" gives "localhost:8080". User info, query and
// fragment are rejected, as are names the note format forbids (spaces, "+").
func Origin(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("ledger: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("ledger: base URL %q must be http(s)://host[/path]", baseURL)
	}
	o := strings.ToLower(u.Host) + strings.TrimRight(u.EscapedPath(), "/")
	if !validKeyName(o) {
		return "", fmt.Errorf("ledger: origin %q is not a valid note key name", o)
	}
	return o, nil
}

// validKeyName mirrors the note package's rule for key names.
func validKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// Key is the log's checkpoint signing key.
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	// VerifierKey is the note verifier key text, "origin+hash+base64", which
	// GET /ledger/key serves and clients pin.
	VerifierKey string
}

// LoadOrCreateKey reads the note signer key at path, or creates one named
// origin if the file does not exist. The file holds the note signer key text
// ("PRIVATE+KEY+origin+hash+base64") and a newline. It is created with mode
// 0600 and never overwritten; an existing file that others can read, or that
// holds a key for another origin, is an error, since a silently replaced or
// renamed key would break every client that pinned the old one.
func LoadOrCreateKey(path, origin string) (*Key, error) {
	if !validKeyName(origin) {
		return nil, fmt.Errorf("ledger: origin %q is not a valid note key name", origin)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = createKeyFile(path, origin)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: key file: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ledger: key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("ledger: key file %s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	k, err := ParseSignerKey(strings.TrimSuffix(string(b), "\n"))
	if err != nil {
		return nil, fmt.Errorf("ledger: key file %s: %w", path, err)
	}
	if k.Signer.Name() != origin {
		return nil, fmt.Errorf("ledger: key file %s is for origin %q, not %q", path, k.Signer.Name(), origin)
	}
	return k, nil
}

// createKeyFile writes a new key to a temporary file and links it into
// place, so that a crash never leaves a partial key and two racing creators
// end up with the same key.
func createKeyFile(path, origin string) ([]byte, error) {
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, err
	}
	b := []byte(skey + "\n")
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".ledger-key-*")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return os.ReadFile(path)
		}
		return nil, err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: make the new directory entry durable
		d.Close()
	}
	return b, nil
}

// ParseSignerKey parses a note signer key and derives its verifier, which the
// note package does not do: the Ed25519 seed gives the public key.
func ParseSignerKey(skey string) (*Key, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	// "PRIVATE+KEY+name+hash+key64": the name has no "+" but key64 may.
	f := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(f[len(f)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("ledger: signer key is not Ed25519")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	if v.KeyHash() != s.KeyHash() {
		return nil, errors.New("ledger: derived verifier does not match signer")
	}
	return &Key{Signer: s, Verifier: v, VerifierKey: vkey}, nil
}

// ErrInconsistent is wrapped when a tree state does not extend an earlier
// signed one: it shrank, or it forked.
var ErrInconsistent = errors.New("ledger: inconsistent with the previous checkpoint")

// Checkpointer signs checkpoints and enforces the rule of C2SP
// tlog-checkpoint, "Signatures": a log must never sign a checkpoint that is
// inconsistent with one it signed before. It is safe for concurrent use.
type Checkpointer struct {
	key  *Key
	mu   sync.Mutex
	last Checkpoint
	note []byte
}

// NewCheckpointer returns a Checkpointer continuing from last, the latest
// checkpoint note it signed (as persisted by the store), or nil if none.
func NewCheckpointer(k *Key, last []byte) (*Checkpointer, error) {
	c := &Checkpointer{key: k, last: Checkpoint{Origin: k.Signer.Name(), Root: EmptyRoot()}}
	if last != nil {
		cp, err := OpenCheckpoint(last, k.Verifier)
		if err != nil {
			return nil, fmt.Errorf("ledger: last checkpoint: %w", err)
		}
		c.last, c.note = cp, bytes.Clone(last)
	}
	return c, nil
}

// Latest returns the latest signed checkpoint and its note, or a nil note
// if none was signed yet.
func (c *Checkpointer) Latest() (Checkpoint, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.note
}

// Sign returns a signed checkpoint note for h, a committed head. It first
// checks h.Root against the root recomputed from r's nodes, then builds a
// consistency proof from the last signed size to h.Size out of r's nodes and
// verifies it against both roots; it refuses (wrapping ErrInconsistent) a
// head that shrank or forked. Signing the same tree again returns the note
// already signed.
func (c *Checkpointer) Sign(ctx context.Context, r NodeReader, h Head) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.Size < c.last.Size {
		return nil, fmt.Errorf("%w: size %d < %d", ErrInconsistent, h.Size, c.last.Size)
	}
	root, err := RootAt(ctx, r, h.Size)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(root, h.rootOrEmpty()) {
		return nil, fmt.Errorf("ledger: head root at size %d does not match the stored nodes", h.Size)
	}
	p, err := ConsistencyProof(ctx, r, c.last.Size, h.Size)
	if err != nil {
		return nil, err
	}
	if err := VerifyConsistency(c.last.Size, h.Size, p, c.last.Root, root); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInconsistent, err)
	}
	if c.note != nil && h.Size == c.last.Size {
		return c.note, nil
	}
	cp := Checkpoint{Origin: c.key.Signer.Name(), Size: h.Size, Root: root}
	msg, err := signCheckpoint(c.key.Signer, cp)
	if err != nil {
		return nil, err
	}
	if _, err := OpenCheckpoint(msg, c.key.Verifier); err != nil {
		return nil, fmt.Errorf("ledger: own checkpoint does not verify: %w", err)
	}
	c.last, c.note = cp, msg
	return msg, nil
}
