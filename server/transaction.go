package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/store"
)

// bundleEntry is one request of a batch or transaction.
type bundleEntry struct {
	index       int
	fullURL     string
	method      string
	url         string
	ifMatch     string
	ifNoneExist string
	resource    *fhir.Node
	// lineage is what normalisation did to resource; localURL is fullURL
	// as normalisation writes references to it ("Type/id" for an absolute
	// URL at the source's own base), "" when it writes them unchanged.
	lineage  *lineage
	localURL string

	// Results.
	version *store.Version
	status  int
	outcome *fhir.Outcome
	body    []byte
}

// methodOrder is the processing order of a transaction
// (https://hl7.org/fhir/R4/http.html#trules).
var methodOrder = map[string]int{"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}

func (s *Server) bundle(w http.ResponseWriter, r *http.Request) error {
	if err := negotiate(r); err != nil {
		return err
	}
	if err := checkContentType(r); err != nil {
		return err
	}
	prof, err := s.profileOf(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return badRequest("the request has no body")
	}
	// Each entry's resource is normalised on its own, as if sent alone,
	// and the Bundle is validated in its final form.
	b, normalized, out := prof.ParseBundle(body, s.limits())
	if b == nil || out.HasErrors() {
		return &fhir.InvalidError{Outcome: out}
	}
	if b.Type != "Bundle" {
		return badRequest("the body is a %s, but POST to the base takes a Bundle", b.Type)
	}
	if err := checkInvariants(b, out); err != nil {
		return err
	}
	kind := b.String("type")
	if kind != "batch" && kind != "transaction" {
		return badRequest("POST to the base takes a batch or transaction Bundle, not type %q", kind)
	}
	var entries []*bundleEntry
	for i, e := range b.Get("entry") {
		req := e.First("request")
		if req == nil {
			return fhir.Invalid("required", fmt.Sprintf("Bundle.entry[%d].request", i), "each entry of a %s needs a request", kind)
		}
		be := &bundleEntry{
			index: i, fullURL: e.String("fullUrl"), method: req.String("method"), url: req.String("url"),
			ifMatch: req.String("ifMatch"), ifNoneExist: req.String("ifNoneExist"), resource: e.First("resource"),
			lineage: &lineage{source: prof.Source(), request: requestID(r)},
		}
		if i < len(normalized) {
			be.lineage.received, be.lineage.changes = normalized[i].Received, normalized[i].Changes
		}
		if local, ok := prof.LocalReference(be.fullURL); ok {
			be.localURL = local
		}
		if _, ok := methodOrder[be.method]; !ok {
			return fhir.Invalid("value", fmt.Sprintf("Bundle.entry[%d].request.method", i), "unsupported method %q", be.method)
		}
		typ, rest, _ := strings.Cut(strings.TrimPrefix(be.url, "/"), "/")
		typ, _, _ = strings.Cut(typ, "?")
		if fhir.IsResourceType(typ) {
			if err := s.requireUnrestricted(r, interactionOf(be.method, rest != ""), []string{typ}); err != nil {
				return entryError(be, err)
			}
		}
		entries = append(entries, be)
	}
	if err := s.checkBundleWrites(r, entries); err != nil {
		return err
	}
	if kind == "transaction" {
		if err := s.transaction(r, entries); err != nil {
			return err
		}
	} else {
		for _, e := range entries {
			err := s.cfg.Store.Update(r.Context(), func(tx store.Tx) error {
				if err := s.preparePost(tx, e, map[string]string{}); err != nil || e.version != nil {
					return err
				}
				if err := s.resolveRefs(tx, []*bundleEntry{e}, map[string]string{}); err != nil {
					return err
				}
				return s.apply(tx, e)
			})
			if err != nil {
				status, out := s.classify(r, err)
				e.status, e.outcome, e.version = status, out, nil
			}
		}
	}
	s.checkBundleReads(r, entries)
	bw := newBundle(kind+"-response", -1)
	for _, e := range entries {
		en := entry{status: strconv.Itoa(e.status) + " " + http.StatusText(e.status)}
		if e.outcome != nil {
			en.outcome = e.outcome.JSON()
		}
		if v := e.version; v != nil {
			en.fullURL = s.fullURL(v.Type, v.ID)
			en.etag = etag(v.VersionID)
			en.lastMod = v.LastUpdated
			if e.method == "POST" || e.method == "PUT" || e.method == "PATCH" {
				en.location = v.Type + "/" + v.ID + "/_history/" + strconv.FormatInt(v.VersionID, 10)
			}
			if !v.Deleted() && e.method != "DELETE" && preferReturn(r) != "minimal" {
				en.resource = v.Body
			}
		}
		if e.body != nil {
			en.resource = e.body
		}
		bw.add(en)
	}
	writeBundle(w, r, bw)
	return nil
}

// transaction runs every entry in one store transaction: all succeed or
// nothing is written.
func (s *Server) transaction(r *http.Request, entries []*bundleEntry) error {
	order := make([]*bundleEntry, len(entries))
	copy(order, entries)
	sort.SliceStable(order, func(i, j int) bool { return methodOrder[order[i].method] < methodOrder[order[j].method] })
	seen := map[string]bool{}
	for _, e := range entries {
		if e.fullURL != "" {
			if seen[e.fullURL] {
				return fhir.Invalid("invalid", fmt.Sprintf("Bundle.entry[%d].fullUrl", e.index), "duplicate fullUrl %q", e.fullURL)
			}
			seen[e.fullURL] = true
		}
	}
	return s.cfg.Store.Update(r.Context(), func(tx store.Tx) error {
		ids := map[string]string{}
		// Creates get their ids first so that references between entries
		// can be rewritten; conditional creates that match keep the match.
		for _, e := range order {
			if err := s.preparePost(tx, e, ids); err != nil {
				return err
			}
		}
		if err := s.resolveRefs(tx, order, ids); err != nil {
			return err
		}
		for _, e := range order {
			if e.version != nil && e.method == "POST" {
				continue // conditional create matched
			}
			if err := s.apply(tx, e); err != nil {
				return entryError(e, err)
			}
		}
		return nil
	})
}

// preparePost gives a POST entry its server-assigned id, or, for a
// conditional create that matches, the existing version. ids maps the
// entry's fullUrl to the reference other entries will use.
func (s *Server) preparePost(tx store.Tx, e *bundleEntry, ids map[string]string) error {
	if e.method != "POST" || e.resource == nil {
		return nil
	}
	if e.ifNoneExist != "" {
		q, err := s.conditionQuery(e.resource.Type, e.ifNoneExist)
		if err != nil {
			return entryError(e, err)
		}
		found, err := tx.Search(q)
		if err != nil {
			return err
		}
		if len(found.Matches) > 1 {
			return entryError(e, fhir.ErrMultipleMatch)
		}
		if len(found.Matches) == 1 {
			m := found.Matches[0]
			e.version, e.status = &m, http.StatusOK
			e.resolvesTo(ids, m.Type+"/"+m.ID)
			return nil
		}
	}
	e.resource.Set("id", newID())
	e.resolvesTo(ids, e.resource.Type+"/"+e.resource.ID())
	return nil
}

// resolvesTo records that references to the entry's fullUrl, as sent or
// as normalisation rewrote them, now name ref.
func (e *bundleEntry) resolvesTo(ids map[string]string, ref string) {
	if e.fullURL != "" {
		ids[e.fullURL] = ref
	}
	if e.localURL != "" {
		ids[e.localURL] = ref
	}
}

// entryError names the failing entry in a transaction's error.
func entryError(e *bundleEntry, err error) error {
	var inv *fhir.InvalidError
	if errors.As(err, &inv) {
		for i := range inv.Outcome.Issues {
			if inv.Outcome.Issues[i].Expression == "" {
				inv.Outcome.Issues[i].Expression = fmt.Sprintf("Bundle.entry[%d]", e.index)
			}
		}
		return err
	}
	var he *httpError
	if errors.As(err, &he) {
		return &httpError{status: he.status, code: he.code, msg: fmt.Sprintf("entry %d: %s", e.index, he.msg)}
	}
	return err
}

// resolveRefs rewrites references in the entries' resources: fullUrls of
// other entries (urn:uuid and the like) become the assigned Type/id, and
// conditional references (Type?params) are replaced by the single match.
func (s *Server) resolveRefs(tx store.Tx, entries []*bundleEntry, ids map[string]string) error {
	for _, e := range entries {
		if e.resource == nil {
			continue
		}
		var err error
		walkReferences(e.resource, func(ref *fhir.Node) {
			if err != nil {
				return
			}
			v := ref.Value
			if to, ok := ids[v]; ok {
				ref.Value = to
				return
			}
			typ, query, ok := strings.Cut(v, "?")
			if !ok || !fhir.IsResourceType(typ) {
				return
			}
			q, qerr := s.conditionQuery(typ, query)
			if qerr != nil {
				err = entryError(e, qerr)
				return
			}
			found, serr := tx.Search(q)
			if serr != nil {
				err = serr
				return
			}
			if len(found.Matches) != 1 {
				err = entryError(e, &httpError{status: http.StatusPreconditionFailed, code: "not-found",
					msg: fmt.Sprintf("the conditional reference %s matched %d resources, not exactly one", typ+"?…", len(found.Matches))})
				return
			}
			ids[v] = typ + "/" + found.Matches[0].ID
			ref.Value = ids[v]
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// walkReferences calls fn with the reference string node of every
// Reference in n, including those in contained and nested resources.
func walkReferences(n *fhir.Node, fn func(*fhir.Node)) {
	for i := range n.Fields {
		for _, c := range n.Fields[i].Nodes {
			if c.Type == "Reference" {
				if ref := c.First("reference"); ref != nil && ref.Kind == fhir.StringValue {
					fn(ref)
				}
			}
			walkReferences(c, fn)
		}
	}
}

// apply performs one entry inside tx.
func (s *Server) apply(tx store.Tx, e *bundleEntry) error {
	u, err := url.Parse(e.url)
	if err != nil || e.url == "" {
		return fhir.Invalid("value", fmt.Sprintf("Bundle.entry[%d].request.url", e.index), "invalid request url")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	typ := parts[0]
	if !fhir.IsResourceType(typ) {
		return fhir.Invalid("value", fmt.Sprintf("Bundle.entry[%d].request.url", e.index), "unknown resource type %q", typ)
	}
	var match int64
	if e.ifMatch != "" {
		vid, ok := parseETag(e.ifMatch)
		if !ok {
			return badRequest("ifMatch must be a version ETag")
		}
		match = vid
	}
	switch e.method {
	case "POST":
		if e.resource == nil || e.resource.Type != typ {
			return badRequest("a POST entry needs a %s resource", typ)
		}
		v, err := s.putNormalized(tx, e.resource, 0, e.lineage)
		if err != nil {
			return err
		}
		e.version, e.status = v, http.StatusCreated
	case "PUT", "PATCH":
		if e.method == "PATCH" {
			return fhir.ErrNotSupported
		}
		if e.resource == nil || e.resource.Type != typ {
			return badRequest("a PUT entry needs a %s resource", typ)
		}
		if len(parts) == 2 {
			if id := e.resource.ID(); id != "" && id != parts[1] {
				return badRequest("the resource id %q does not match the request url", id)
			}
			e.resource.Set("id", parts[1])
		} else if u.RawQuery != "" {
			q, err := s.conditionQuery(typ, u.RawQuery)
			if err != nil {
				return err
			}
			found, err := tx.Search(q)
			if err != nil {
				return err
			}
			switch len(found.Matches) {
			case 0:
				if e.resource.ID() == "" {
					e.resource.Set("id", newID())
				}
			case 1:
				e.resource.Set("id", found.Matches[0].ID)
			default:
				return fhir.ErrMultipleMatch
			}
		} else {
			return badRequest("a PUT entry needs Type/id or a condition")
		}
		v, err := s.putNormalized(tx, e.resource, match, e.lineage)
		if errors.Is(err, fhir.ErrConflict) && match != 0 {
			return fhir.ErrPrecondition
		}
		if err != nil {
			return err
		}
		e.version, e.status = v, http.StatusOK
		if v.Op == store.OpCreate {
			e.status = http.StatusCreated
		}
	case "DELETE":
		var id string
		if len(parts) == 2 {
			id = parts[1]
		} else if u.RawQuery != "" {
			q, err := s.conditionQuery(typ, u.RawQuery)
			if err != nil {
				return err
			}
			found, err := tx.Search(q)
			if err != nil {
				return err
			}
			if len(found.Matches) > 1 {
				return fhir.ErrMultipleMatch
			}
			if len(found.Matches) == 1 {
				id = found.Matches[0].ID
			}
		}
		e.status = http.StatusNoContent
		if id == "" {
			return nil
		}
		v, err := tx.Delete(typ, id, match)
		if errors.Is(err, fhir.ErrConflict) {
			return fhir.ErrPrecondition
		}
		if err != nil {
			return err
		}
		e.version = v
	case "GET", "HEAD":
		if len(parts) >= 2 {
			v, err := tx.Current(typ, parts[1])
			if err != nil {
				return err
			}
			e.version, e.status = v, http.StatusOK
			return nil
		}
		sr, err := s.parseSearch([]string{typ}, u.Query(), false)
		if err != nil {
			return err
		}
		sr.query.Count = s.cfg.DefaultCount
		page, err := tx.Search(&sr.query)
		if err != nil {
			return err
		}
		bw := newBundle("searchset", page.Total)
		for _, m := range page.Matches {
			bw.add(entry{fullURL: s.fullURL(m.Type, m.ID), resource: m.Body, searchMode: "match"})
		}
		e.body, e.status = bw.bytes(), http.StatusOK
	}
	return nil
}
