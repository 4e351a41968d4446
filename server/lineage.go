package server

import (
	"net/http"
	"time"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/fhirpath"
	"github.com/fhirseal/fhirseal/fhir/normalize"
	"github.com/fhirseal/fhirseal/store"
)

// SourceHeader names the source profile, by its client_id, that normalises
// a write or a $normalize preview instead of the profile of the token's
// client_id. Only administrators may send it (an operator loading data on
// a source's behalf, say from an interface engine's archive); from anyone
// else it is refused with 403, and a name that matches no profile with 400,
// so that data is never stored under a source it did not come from, nor
// silently normalised with the wrong profile.
const SourceHeader = "X-Fhirseal-Source"

// serverSource is meta.source of the resources the server writes itself
// (the Provenance of a normalisation) when the base URL cannot serve.
const serverSource = "urn:fhirseal:server"

// lineage is what normalisation did to one resource of a write, and what
// the write must record about it (DESIGN.md section 7): meta.source on the
// stored version and, when anything changed, a Provenance stored in the
// same transaction.
type lineage struct {
	source   string // the profile's source URI
	request  string // the request id, the fragment of meta.source
	received []byte // the resource as received, hashed into the Provenance
	changes  []normalize.Change
}

// profileOf returns the source profile of a request: the one named by
// SourceHeader (administrators only), else the one of the token's
// client_id, else the default profile.
func (s *Server) profileOf(r *http.Request) (*normalize.Profile, error) {
	p := principalOf(r)
	name := r.Header.Get(SourceHeader)
	if name == "" {
		if p == nil {
			return normalize.Default(), nil
		}
		return s.normalizer.Profile(p.Client), nil
	}
	if p == nil || !p.Admin {
		return nil, &httpError{status: http.StatusForbidden, code: "forbidden", msg: "only administrators may name a source profile (" + SourceHeader + ")"}
	}
	prof, ok := s.normalizer.Lookup(name)
	if !ok {
		return nil, badRequest("%s names no source profile of this server", SourceHeader)
	}
	return prof, nil
}

// parseWrite reads body as a resource of type want ("" for any) the way
// every write does: parse, normalise with prof, then validate the final
// form (elements, then invariants). Input that is invalid only until it is
// normalised (a local dateTime, "M" for a gender) is accepted; anything
// else invalid is 400, a broken invariant 422.
func (s *Server) parseWrite(r *http.Request, prof *normalize.Profile, body []byte, want string) (*fhir.Node, *lineage, error) {
	if len(body) == 0 {
		return nil, nil, badRequest("the request has no body")
	}
	var (
		n       *fhir.Node
		changes []normalize.Change
		out     *fhir.Outcome
	)
	if s.unnormalized {
		n, out = fhir.Parse(body, s.limits())
	} else {
		n, changes, out = prof.Parse(body, s.limits())
	}
	if n == nil || out.HasErrors() {
		return nil, nil, &fhir.InvalidError{Outcome: out}
	}
	if want != "" && n.Type != want {
		return nil, nil, badRequest("the body is a %s, but the URL names %s", n.Type, want)
	}
	if err := checkInvariants(n, out); err != nil {
		return nil, nil, err
	}
	if s.unnormalized {
		return n, nil, nil
	}
	lin := &lineage{source: prof.Source(), request: requestID(r), changes: changes}
	if len(changes) > 0 {
		lin.received = body
	}
	return n, lin, nil
}

// checkInvariants adds the FHIRPath invariants of n to out: a well-formed
// resource that breaks a constraint is unprocessable (422).
func checkInvariants(n *fhir.Node, out *fhir.Outcome) error {
	out.Issues = append(out.Issues, fhirpath.CheckInvariants(n)...)
	if out.HasErrors() {
		return fhir.Unprocessable(out)
	}
	return nil
}

func (s *Server) limits() fhir.Limits { return fhir.Limits{MaxBytes: int(s.cfg.MaxBodyBytes)} }

// putNormalized stores res as tx.Put does, with meta.source naming the
// source and the request, and, when normalisation changed anything, a
// Provenance of the changes in the same transaction, so that both commit
// (and are sealed in the ledger) together or not at all. A nil lin stores
// res as it is.
func (s *Server) putNormalized(tx store.Tx, res *fhir.Node, match int64, lin *lineage) (*store.Version, error) {
	if lin == nil {
		return tx.Put(res, match)
	}
	normalize.SetSource(res, lin.source, lin.request)
	v, err := tx.Put(res, match)
	if err != nil || len(lin.changes) == 0 {
		return v, err
	}
	// Put set meta.versionId on res: the Provenance targets this version,
	// and is recorded at the version's lastUpdated.
	recorded, terr := time.Parse(time.RFC3339Nano, v.LastUpdated)
	if terr != nil {
		recorded = s.cfg.Now()
	}
	prov, err := normalize.Provenance(res, lin.received, lin.changes, lin.source, recorded)
	if err != nil {
		return nil, err
	}
	prov.Set("id", newID())
	normalize.SetSource(prov, s.ownSource(), lin.request)
	if _, err := tx.Put(prov, 0); err != nil {
		return nil, err
	}
	return v, nil
}

// ownSource is meta.source of what the server itself writes: its base URL.
func (s *Server) ownSource() string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	return serverSource
}
