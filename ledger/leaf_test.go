package ledger

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// referenceLeaf computes a leaf straight from the contract text in doc.go,
// with crypto/hmac, as an outside verifier would.
func referenceLeaf(e Entry) (commitment []byte, leaf string) {
	prev := "-"
	if e.Prev >= 0 {
		prev = fmt.Sprint(e.Prev)
	}
	msg := "fhirseal/v1/commit\n" + e.Type + "/" + e.ID + "/_history/" + e.VersionID + "\n" +
		e.LastUpdated + "\n" + string(e.Op) + "\n" + hex.EncodeToString(e.BodyHash[:]) + "\n" + prev + "\n"
	m := hmac.New(sha256.New, e.Key)
	m.Write([]byte(msg))
	c := m.Sum(nil)
	return c, "fhirseal/v1\n" + string(e.Op) + "\n" + e.LastUpdated + "\n" + base64.StdEncoding.EncodeToString(c) + "\n"
}

func randomEntry(r *rand.Rand) Entry {
	ops := []Op{OpCreate, OpUpdate, OpDelete, OpErase}
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	body := make([]byte, r.IntN(200))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	prev := int64(-1)
	if r.IntN(2) == 0 {
		prev = r.Int64N(1 << 40)
	}
	ts := time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC().Format(time.RFC3339Nano)
	return Entry{
		Type:        []string{"Patient", "Observation", "Consent"}[r.IntN(3)],
		ID:          fmt.Sprintf("id-%d.%d", r.IntN(1000), r.IntN(10)),
		VersionID:   fmt.Sprint(1 + r.IntN(50)),
		LastUpdated: ts,
		Op:          ops[r.IntN(len(ops))],
		BodyHash:    BodyHash(body),
		Prev:        prev,
		Key:         key,
	}
}

func TestLeafMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		e := randomEntry(r)
		wantC, wantLeaf := referenceLeaf(e)
		c, err := e.Commitment()
		if err != nil {
			t.Fatalf("Commitment(%+v): %v", e, err)
		}
		if !bytes.Equal(c[:], wantC) {
			t.Fatalf("Commitment(%+v) = %x, want %x", e, c, wantC)
		}
		leaf, err := e.Leaf()
		if err != nil || string(leaf) != wantLeaf {
			t.Fatalf("Leaf(%+v) = %q, %v, want %q", e, leaf, err, wantLeaf)
		}
		p, err := ParseLeaf(leaf)
		if err != nil || p.Op != e.Op || p.LastUpdated != e.LastUpdated || p.Commitment != c {
			t.Fatalf("ParseLeaf(%q) = %+v, %v", leaf, p, err)
		}
		if got := p.Bytes(); !bytes.Equal(got, leaf) {
			t.Fatalf("ParseLeaf(%q).Bytes() = %q", leaf, got)
		}
	}
}

// goldenLeaf is one test vector in testdata/leaves.json, for implementers
// of outside verifiers.
type goldenLeaf struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	VersionID   string `json:"versionId"`
	LastUpdated string `json:"lastUpdated"`
	Op          Op     `json:"op"`
	Body        string `json:"body"`
	Prev        int64  `json:"prev"`
	KeyHex      string `json:"keyHex"`

	BodyHashHex   string `json:"bodyHashHex"`
	CommitMessage string `json:"commitMessage"`
	Commitment    string `json:"commitmentBase64"`
	Leaf          string `json:"leaf"`
	LeafHashHex   string `json:"leafHashHex"`
}

func goldenInputs() []goldenLeaf {
	key := func(b byte) string { return strings.Repeat(hex.EncodeToString([]byte{b}), KeySize) }
	erased, _ := EncodeErasure([]uint64{0, 1})
	return []goldenLeaf{
		{Type: "Patient", ID: "example", VersionID: "1", LastUpdated: "2024-05-01T12:00:00Z", Op: OpCreate,
			Body: `{"resourceType":"Patient","id":"example","meta":{"versionId":"1","lastUpdated":"2024-05-01T12:00:00Z"},"active":true}`, Prev: -1, KeyHex: key(0x01)},
		{Type: "Patient", ID: "example", VersionID: "2", LastUpdated: "2024-05-01T12:30:00.123+02:00", Op: OpUpdate,
			Body: `{"resourceType":"Patient","id":"example","meta":{"versionId":"2","lastUpdated":"2024-05-01T12:30:00.123+02:00"},"active":false}`, Prev: 0, KeyHex: key(0x02)},
		{Type: "Patient", ID: "example", VersionID: "3", LastUpdated: "2024-05-02T08:00:00Z", Op: OpDelete,
			Body: "", Prev: 1, KeyHex: key(0x03)},
		{Type: "Patient", ID: "example", VersionID: "1", LastUpdated: "2024-06-01T00:00:00Z", Op: OpErase,
			Body: string(erased), Prev: -1, KeyHex: key(0x04)},
	}
}

func TestGoldenLeaves(t *testing.T) {
	path := filepath.Join("testdata", "leaves.json")
	var got []goldenLeaf
	for _, g := range goldenInputs() {
		k, _ := hex.DecodeString(g.KeyHex)
		e := Entry{Type: g.Type, ID: g.ID, VersionID: g.VersionID, LastUpdated: g.LastUpdated, Op: g.Op,
			BodyHash: BodyHash([]byte(g.Body)), Prev: g.Prev, Key: k}
		c, err := e.Commitment()
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := e.Leaf()
		g.BodyHashHex = hex.EncodeToString(e.BodyHash[:])
		g.CommitMessage = string(appendCommitMessage(nil, &e))
		g.Commitment = base64.StdEncoding.EncodeToString(c[:])
		g.Leaf = string(leaf)
		g.LeafHashHex = hex.EncodeToString(LeafHash(leaf))
		got = append(got, g)
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("leaf vectors differ from %s:\n%s", path, b)
	}
	// The delete's body hash is SHA-256 of the empty string.
	if got[2].BodyHashHex != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("delete bodyHash = %s, want SHA-256 of the empty string", got[2].BodyHashHex)
	}
}

func TestParseLeaf(t *testing.T) {
	c := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	good := "fhirseal/v1\ncreate\n2024-01-02T03:04:05Z\n" + c + "\n"
	tests := []struct {
		in string
		ok bool
	}{
		{good, true},
		{"fhirseal/v1\nerase\n2024-01-02T03:04:05.5-05:30\n" + c + "\n", true},
		{"fhirseal/v1\nupdate\n9999-12-31T23:59:60.123456789123+14:00\n" + c + "\n", true},
		{strings.TrimSuffix(good, "\n"), false},
		{good + "\n", false},
		{"fhirseal/v2\ncreate\n2024-01-02T03:04:05Z\n" + c + "\n", false},
		{"fhirseal/v1\nCreate\n2024-01-02T03:04:05Z\n" + c + "\n", false},
		{"fhirseal/v1\nread\n2024-01-02T03:04:05Z\n" + c + "\n", false},
		{"fhirseal/v1\ncreate\n2024-01-02 03:04:05Z\n" + c + "\n", false},
		{"fhirseal/v1\ncreate\n2024-01-02T03:04:05\n" + c + "\n", false},
		{"fhirseal/v1\ncreate\n2024-13-02T03:04:05Z\n" + c + "\n", false},
		{"fhirseal/v1\ncreate\n0000-01-02T03:04:05Z\n" + c + "\n", false},
		{"fhirseal/v1\ncreate\n2024-01-02T03:04:05.Z\n" + c + "\n", false},
		{"fhirseal/v1\ncreate\n2024-01-02T03:04:05+14:30\n" + c + "\n", false},
		{"fhirseal/v1\ncreate\n2024-01-02T03:04:05Z\n" + strings.TrimSuffix(c, "=") + "\n", false},
		{"fhirseal/v1\ncreate\n2024-01-02T03:04:05Z\n" + c[:42] + "x=\n", false},
		// Non-canonical: non-zero padding bits.
		{"fhirseal/v1\ncreate\n2024-01-02T03:04:05Z\n" + c[:42] + "J=\n", false},
		{"fhirseal/v1\ncreate\n2024-01-02T03:04:05Z\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n", false},
		{"fhirseal/v1\ncreate\n2024-01-02T03:04:05Z\n" + c + "\nextra\n", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.60q", tt.in), func(t *testing.T) {
			l, err := ParseLeaf([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("ParseLeaf(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err == nil && string(l.Bytes()) != tt.in {
				t.Errorf("ParseLeaf(%q).Bytes() = %q", tt.in, l.Bytes())
			}
		})
	}
}

func TestInstantNanos(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		tm := time.Unix(r.Int64N(2e10)-1e10, r.Int64N(1e9))
		zone := time.FixedZone("", (r.IntN(28*4+1)-14*4)*15*60)
		s := tm.In(zone).Format(time.RFC3339Nano)
		if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "0000") {
			continue
		}
		got, ok := instantNanos(s)
		if !ok || got != tm.UnixNano() {
			t.Fatalf("instantNanos(%q) = %d, %v, want %d", s, got, ok, tm.UnixNano())
		}
	}
}

func TestEntryValidate(t *testing.T) {
	base := Entry{Type: "Patient", ID: "a", VersionID: "1", LastUpdated: "2024-01-01T00:00:00Z", Op: OpCreate, Prev: -1, Key: make([]byte, KeySize)}
	tests := []struct {
		name string
		edit func(*Entry)
		ok   bool
	}{
		{"valid", func(*Entry) {}, true},
		{"lower-case type", func(e *Entry) { e.Type = "patient" }, false},
		{"slash in id", func(e *Entry) { e.ID = "a/b" }, false},
		{"newline in vid", func(e *Entry) { e.VersionID = "1\n" }, false},
		{"long id", func(e *Entry) { e.ID = strings.Repeat("a", 65) }, false},
		{"64-char id", func(e *Entry) { e.ID = strings.Repeat("a", 64) }, true},
		{"bad op", func(e *Entry) { e.Op = "patch" }, false},
		{"prev -2", func(e *Entry) { e.Prev = -2 }, false},
		{"short key", func(e *Entry) { e.Key = make([]byte, 16) }, false},
		{"date only", func(e *Entry) { e.LastUpdated = "2024-01-01" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			tt.edit(&e)
			if err := e.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate(%+v) = %v, want ok=%v", e, err, tt.ok)
			}
		})
	}
}

func TestErasureList(t *testing.T) {
	tests := []struct {
		in   []uint64
		want string
		ok   bool
	}{
		{[]uint64{7, 3, 12}, "3\n7\n12\n", true},
		{[]uint64{0}, "0\n", true},
		{[]uint64{1<<64 - 1}, "18446744073709551615\n", true},
		{nil, "", false},
		{[]uint64{4, 4}, "", false},
	}
	for _, tt := range tests {
		got, err := EncodeErasure(tt.in)
		if (err == nil) != tt.ok || string(got) != tt.want {
			t.Errorf("EncodeErasure(%v) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	bad := []string{"", "\n", "1", "01\n", "2\n1\n", "1\n1\n", "+1\n", "1 \n", "18446744073709551616\n", "a\n"}
	for _, s := range bad {
		if l, err := ParseErasure([]byte(s)); err == nil {
			t.Errorf("ParseErasure(%q) = %v, want error", s, l)
		}
	}
}

func FuzzParseLeaf(f *testing.F) {
	f.Add([]byte("fhirseal/v1\ncreate\n2024-01-02T03:04:05Z\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"))
	f.Add([]byte("fhirseal/v1\nerase\n2024-01-02T03:04:05.1+01:00\nAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLeaf(b)
		if err != nil {
			return
		}
		if got := l.Bytes(); !bytes.Equal(got, b) {
			t.Fatalf("ParseLeaf(%q).Bytes() = %q", b, got)
		}
	})
}

func FuzzParseErasure(f *testing.F) {
	f.Add([]byte("3\n7\n12\n"))
	f.Add([]byte("0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseErasure(b)
		if err != nil {
			return
		}
		got, err := EncodeErasure(l)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("EncodeErasure(ParseErasure(%q)) = %q, %v", b, got, err)
		}
	})
}

func TestPrev(t *testing.T) {
	tests := []struct {
		s    string
		want int64
		ok   bool
	}{
		{"-", -1, true},
		{"0", 0, true},
		{"12", 12, true},
		{"012", 0, false},
		{"+1", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"9223372036854775808", 0, false},
	}
	for _, tt := range tests {
		got, err := ParsePrev(tt.s)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePrev(%q) = %d, %v, want %d (ok=%v)", tt.s, got, err, tt.want, tt.ok)
		}
		if tt.ok && FormatPrev(got) != tt.s {
			t.Errorf("FormatPrev(%d) = %q, want %q", got, FormatPrev(got), tt.s)
		}
	}
}
