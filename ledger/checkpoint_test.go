package ledger

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestOrigin(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://example.org/fhir", "example.org/fhir", true},
		{"https://Example.ORG/fhir/", "example.org/fhir", true},
		{"http://localhost:8080", "localhost:8080", true},
		{"http://localhost:8080/", "localhost:8080", true},
		{"https://example.org/a%20b", "example.org/a%20b", true},
		{"https://example.org/a+b", "", false},
		{"ftp://example.org", "", false},
		{"example.org/fhir", "", false},
		{"https://user@example.org", "", false},
		{"https://example.org/fhir?x=1", "", false},
		{"https://example.org/fhir#x", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := Origin(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Origin(%q) = %q, %v, want %q (ok=%v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.key")
	k1, err := LoadOrCreateKey(path, "example.org/fhir")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v, want 0600", fi.Mode().Perm(), err)
	}
	if !strings.HasPrefix(k1.VerifierKey, "example.org/fhir+") {
		t.Errorf("VerifierKey = %q, want the origin as key name", k1.VerifierKey)
	}
	k2, err := LoadOrCreateKey(path, "example.org/fhir")
	if err != nil || k2.VerifierKey != k1.VerifierKey {
		t.Fatalf("reloaded key = %q, %v, want %q", k2.VerifierKey, err, k1.VerifierKey)
	}
	// The derived verifier checks the signer's signatures.
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, k2.Signer)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(k1.VerifierKey)
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Errorf("note.Open with the served verifier key: %v", err)
	}
	if _, err := LoadOrCreateKey(path, "other.org"); err == nil {
		t.Error("LoadOrCreateKey with another origin = nil error")
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateKey(path, "example.org/fhir"); err == nil {
		t.Error("LoadOrCreateKey of a world-readable key = nil error")
	}
	if _, err := LoadOrCreateKey(filepath.Join(dir, "k2"), "bad origin"); err == nil {
		t.Error("LoadOrCreateKey with an invalid origin = nil error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data directory holds %d files, want only the key", len(entries))
	}
}

func TestParseCheckpoint(t *testing.T) {
	root := "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
	tests := []struct {
		in string
		ok bool
	}{
		{"example.com/behind-the-sofa\n20852163\n" + root + "\n", true},
		{"o\n0\n" + root + "\n", true},
		{"o\n00\n" + root + "\n", false},
		{"o\n01\n" + root + "\n", false},
		{"o\n-1\n" + root + "\n", false},
		{"o\n18446744073709551616\n" + root + "\n", false},
		{"o\n1\n" + root, false},
		{"o\n1\n" + root + "\next\n", false},
		{"\n1\n" + root + "\n", false},
		{"o o\n1\n" + root + "\n", false},
		{"o+o\n1\n" + root + "\n", false},
		{"o\n1\n" + root[:43] + "\n", false},
		{"o\n1\nAAAA\n", false},
	}
	for _, tt := range tests {
		c, err := ParseCheckpoint([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("ParseCheckpoint(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if err == nil && string(c.Text()) != tt.in {
			t.Errorf("ParseCheckpoint(%q).Text() = %q", tt.in, c.Text())
		}
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCheckpoint(b)
		if err != nil {
			return
		}
		if got := c.Text(); !bytes.Equal(got, b) {
			t.Fatalf("ParseCheckpoint(%q).Text() = %q", b, got)
		}
	})
}

func testKey(t testing.TB, origin string) *Key {
	t.Helper()
	k, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "key"), origin)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCheckpointer(t *testing.T) {
	ctx := context.Background()
	k := testKey(t, "example.org/fhir")
	r := rand.New(rand.NewPCG(11, 12))
	leaves := randomLeaves(r, 300)
	s, _ := buildRaw(t, leaves)
	head := func(store *MemStore, size uint64) Head {
		root, err := RootAt(ctx, store, size)
		if err != nil {
			t.Fatal(err)
		}
		return Head{Size: size, Root: root}
	}

	c, err := NewCheckpointer(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	var last []byte
	for _, size := range []uint64{0, 1, 5, 5, 64, 200, 300} {
		msg, err := c.Sign(ctx, s, head(s, size))
		if err != nil {
			t.Fatalf("Sign(size %d): %v", size, err)
		}
		cp, err := OpenCheckpoint(msg, k.Verifier)
		if err != nil || cp.Size != size || cp.Origin != "example.org/fhir" {
			t.Fatalf("OpenCheckpoint(Sign(%d)) = %+v, %v", size, cp, err)
		}
		last = msg
	}

	// A fork: same first 150 leaves, different after.
	fork := append(append([][]byte(nil), leaves[:150]...), randomLeaves(r, 200)...)
	fs, _ := buildRaw(t, fork)
	c2, err := NewCheckpointer(k, last)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		store *MemStore
		h     Head
	}{
		{"forked tree", fs, head(fs, 350)},
		{"forked tree same size", fs, head(fs, 300)},
		{"shrunk tree", s, head(s, 200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c2.Sign(ctx, tt.store, tt.h); !errors.Is(err, ErrInconsistent) {
				t.Errorf("Sign(%s) = %v, want ErrInconsistent", tt.name, err)
			}
		})
	}
	// A head whose root is not the stored tree's is refused too.
	bad := head(s, 300)
	bad.Root = bytes.Repeat([]byte{1}, 32)
	if _, err := c2.Sign(ctx, s, bad); err == nil {
		t.Error("Sign(head with a foreign root) = nil error")
	}
	if _, n := c2.Latest(); !bytes.Equal(n, last) {
		t.Error("a refused Sign changed Latest")
	}
	// A checkpoint signed by another key is not a valid "last".
	if _, err := NewCheckpointer(testKey(t, "example.org/fhir"), last); err == nil {
		t.Error("NewCheckpointer(last signed by another key) = nil error")
	}
}
