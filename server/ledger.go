package server

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/ledger"
)

// Ledger is the read side of the store's ledger that the HTTP API serves
// (DESIGN.md section 5).
type Ledger interface {
	ledger.NodeReader
	ledger.LeafReader
	// Checkpoint returns the latest signed checkpoint note (size 0) or the
	// one of a given tree size; fhir.ErrNotFound when there is none.
	Checkpoint(ctx context.Context, size uint64) ([]byte, error)
	// VersionOpening returns a version's index, leaf, commitment key (nil
	// once erased) and the ledger index of the resource's previous version.
	VersionOpening(ctx context.Context, typ, id string, vid int64) (ledger.Opening, error)
	// WaitCheckpoint returns once a signed checkpoint covers index.
	WaitCheckpoint(ctx context.Context, index int64) error
}

func (s *Server) ledgerRoutes() {
	if s.cfg.Ledger == nil {
		return
	}
	// The ledger holds no patient data: anyone may read checkpoints, tiles
	// and proofs. A version's opening ($ledger-proof) is read access to it.
	s.route("GET", "/ledger/checkpoint", "ledger-checkpoint", "Latest signed checkpoint (C2SP tlog-checkpoint)", "ledger", public, s.ledgerCheckpoint)
	s.route("GET", "/ledger/checkpoint/{size}", "ledger-checkpoint-size", "Signed checkpoint of a tree size", "ledger", public, s.ledgerCheckpoint)
	s.route("GET", "/ledger/key", "ledger-key", "Checkpoint verifier key (signed-note format)", "ledger", public, s.ledgerKey)
	s.route("GET", "/ledger/tile/{path...}", "ledger-tile", "C2SP tlog-tiles: hash tiles and entry bundles", "ledger", public, s.ledgerTile)
	s.route("GET", "/ledger/proof/inclusion", "ledger-inclusion", "Inclusion proof: ?index=&size=", "ledger", public, s.ledgerInclusion)
	s.route("GET", "/ledger/proof/consistency", "ledger-consistency", "Consistency proof: ?from=&to=", "ledger", public, s.ledgerConsistency)
	for _, t := range fhir.ResourceTypes() {
		s.route("GET", "/fhir/"+t+"/{id}/_history/{vid}/$ledger-proof", "ledger-proof-"+t, "Proof that a "+t+" version is sealed in the ledger", t, auth.InteractionVRead, s.ledgerProof(t))
	}
}

func writeText(w http.ResponseWriter, ctype string, b []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Write(b)
}

func (s *Server) ledgerCheckpoint(w http.ResponseWriter, r *http.Request) error {
	var size uint64
	if v := r.PathValue("size"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return badRequest("the size must be a positive integer")
		}
		size = n
	}
	note, err := s.cfg.Ledger.Checkpoint(r.Context(), size)
	if err != nil {
		return err
	}
	if size == 0 {
		w.Header().Set("Cache-Control", "no-cache")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	writeText(w, "text/plain; charset=utf-8", note)
	return nil
}

func (s *Server) ledgerKey(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.LedgerKey == "" {
		return fhir.ErrNotFound
	}
	writeText(w, "text/plain; charset=utf-8", []byte(s.cfg.LedgerKey+"\n"))
	return nil
}

// latestSize is the tree size of the latest signed checkpoint: what tiles
// and proofs are served for.
func (s *Server) latestSize(ctx context.Context) (uint64, []byte, error) {
	note, err := s.cfg.Ledger.Checkpoint(ctx, 0)
	if err != nil {
		return 0, nil, err
	}
	cp, err := ledger.ParseCheckpoint(checkpointBody(note))
	if err != nil {
		return 0, nil, err
	}
	return cp.Size, note, nil
}

// checkpointBody is the text of a signed note before its signatures.
func checkpointBody(note []byte) []byte {
	for i := 0; i+1 < len(note); i++ {
		if note[i] == '\n' && note[i+1] == '\n' {
			return note[:i+1]
		}
	}
	return note
}

func (s *Server) ledgerTile(w http.ResponseWriter, r *http.Request) error {
	t, err := ledger.ParseTilePath("tile/" + r.PathValue("path"))
	if err != nil {
		return fhir.ErrNotFound
	}
	size, _, err := s.latestSize(r.Context())
	if err != nil {
		return err
	}
	if !t.Within(size) {
		return fhir.ErrNotFound
	}
	var b []byte
	if t.L == ledger.EntriesLevel {
		b, err = ledger.ReadEntryBundle(r.Context(), s.cfg.Ledger, t)
	} else {
		b, err = ledger.ReadTile(r.Context(), s.cfg.Ledger, t)
	}
	if err != nil {
		return err
	}
	if t.W == 256 {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	writeText(w, "application/octet-stream", b)
	return nil
}

func uintParam(r *http.Request, name string) (uint64, error) {
	n, err := strconv.ParseUint(r.URL.Query().Get(name), 10, 64)
	if err != nil {
		return 0, badRequest("%s must be a non-negative integer", name)
	}
	return n, nil
}

// writeHashes answers a proof as base64 lines, one hash per line.
func writeHashes(w http.ResponseWriter, hashes [][]byte) {
	var b []byte
	for _, h := range hashes {
		b = base64.StdEncoding.AppendEncode(b, h)
		b = append(b, '\n')
	}
	writeText(w, "text/plain; charset=utf-8", b)
}

func (s *Server) ledgerInclusion(w http.ResponseWriter, r *http.Request) error {
	index, err := uintParam(r, "index")
	if err != nil {
		return err
	}
	size, err := uintParam(r, "size")
	if err != nil {
		return err
	}
	latest, _, err := s.latestSize(r.Context())
	if err != nil {
		return err
	}
	if index >= size || size > latest {
		return badRequest("need index < size <= %d (the latest checkpoint)", latest)
	}
	p, err := ledger.InclusionProof(r.Context(), s.cfg.Ledger, index, size)
	if err != nil {
		return err
	}
	writeHashes(w, p)
	return nil
}

func (s *Server) ledgerConsistency(w http.ResponseWriter, r *http.Request) error {
	from, err := uintParam(r, "from")
	if err != nil {
		return err
	}
	to, err := uintParam(r, "to")
	if err != nil {
		return err
	}
	latest, _, err := s.latestSize(r.Context())
	if err != nil {
		return err
	}
	if from > to || to > latest {
		return badRequest("need from <= to <= %d (the latest checkpoint)", latest)
	}
	p, err := ledger.ConsistencyProof(r.Context(), s.cfg.Ledger, from, to)
	if err != nil {
		return err
	}
	writeHashes(w, p)
	return nil
}

// ledgerProof answers GET .../_history/{vid}/$ledger-proof with the
// Parameters resource of DESIGN.md section 5: everything needed to check
// offline that this version is sealed under a signed checkpoint.
func (s *Server) ledgerProof(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		// A caller sees a proof only for a version it may read (scopes and
		// consent); proofs of deletions only with unrestricted scopes.
		v, err := s.visibleVersion(r, typ)
		if err != nil {
			return err
		}
		o, err := s.cfg.Ledger.VersionOpening(r.Context(), typ, v.ID, v.VersionID)
		if err != nil {
			return err
		}
		if o.Key == nil {
			return fhir.ErrDeleted // erased: the commitment can no longer be opened
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := s.cfg.Ledger.WaitCheckpoint(ctx, int64(o.Index)); err != nil {
			w.Header().Set("Retry-After", "1")
			return &httpError{status: http.StatusServiceUnavailable, code: "transient", msg: "no signed checkpoint covers this version yet"}
		}
		size, note, err := s.latestSize(r.Context())
		if err != nil {
			return err
		}
		proof, err := ledger.InclusionProof(r.Context(), s.cfg.Ledger, o.Index, size)
		if err != nil {
			return err
		}
		b := []byte(`{"resourceType":"Parameters","parameter":[`)
		param := func(name, kind, value string) {
			if b[len(b)-1] != '[' {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b, _ = jsontext.AppendQuote(b, name)
			b = append(b, `,"`...)
			b = append(b, kind...)
			b = append(b, `":`...)
			b, _ = jsontext.AppendQuote(b, value)
			b = append(b, '}')
		}
		param("index", "valueString", strconv.FormatUint(o.Index, 10))
		param("treeSize", "valueString", strconv.FormatUint(size, 10))
		param("leaf", "valueBase64Binary", base64.StdEncoding.EncodeToString(o.Leaf))
		param("key", "valueBase64Binary", base64.StdEncoding.EncodeToString(o.Key))
		param("prev", "valueString", ledger.FormatPrev(o.Prev))
		for _, h := range proof {
			param("proof", "valueBase64Binary", base64.StdEncoding.EncodeToString(h))
		}
		param("checkpoint", "valueString", string(note))
		b = append(b, "]}"...)
		w.Header().Set("Content-Type", fhirJSON)
		w.Write(pretty(r, b))
		return nil
	}
}

// waitSealed honours Prefer: ledger-proof on a write: the response waits
// (up to ten seconds) until a signed checkpoint covers the new version, and
// says so with Preference-Applied. The write itself is already durable, so
// a timeout still answers success, without the header.
func (s *Server) waitSealed(w http.ResponseWriter, r *http.Request, index int64) {
	if s.cfg.Ledger == nil || !preferLedgerProof(r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if s.cfg.Ledger.WaitCheckpoint(ctx, index) == nil {
		w.Header().Add("Preference-Applied", "ledger-proof")
	}
}

func preferLedgerProof(r *http.Request) bool {
	for _, p := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(p, ",") {
			if strings.TrimSpace(part) == "ledger-proof" {
				return true
			}
		}
	}
	return false
}
