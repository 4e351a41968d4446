package server

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/fhirpath"
	"github.com/fhirseal/fhirseal/store"
)

const fhirJSON = "application/fhir+json; charset=utf-8"

// routes registers every interaction: system level, then per resource type
// from the generated tables.
func (s *Server) routes() {
	s.route("GET", "/fhir/metadata", "capabilities", "CapabilityStatement of this server", "system", public, s.capabilities)
	s.route("GET", "/fhir/.well-known/smart-configuration", "smart-configuration", "SMART App Launch configuration", "system", public, s.smartConfiguration)
	s.route("GET", "/fhir/.well-known/jwks.json", "jwks", "Public keys of fhirseal's own token issuer", "system", public, s.jwks)
	s.route("POST", "/fhir", "batch-transaction", "Process a batch or transaction Bundle", "system", system, s.bundle)
	s.route("POST", "/fhir/$normalize", "normalize-system", "Preview normalisation of a resource or Bundle (nothing is stored)", "system", system, s.normalizePreview(""))
	s.route("GET", "/fhir/_history", "history-system", "History of all resources", "system", system, s.historyHandler("", false))
	s.route("GET", "/fhir", "search-system", "Search across resource types (_type)", "system", system, s.searchHandler(""))
	for _, t := range fhir.ResourceTypes() {
		s.route("GET", "/fhir/"+t+"/{id}", "read-"+t, "Read a "+t, t, auth.InteractionRead, s.read(t))
		s.route("GET", "/fhir/"+t+"/{id}/_history/{vid}", "vread-"+t, "Read a version of a "+t, t, auth.InteractionVRead, s.vread(t))
		s.route("PUT", "/fhir/"+t+"/{id}", "update-"+t, "Update (or create) a "+t, t, auth.InteractionUpdate, s.update(t))
		s.route("PUT", "/fhir/"+t, "conditional-update-"+t, "Update the "+t+" matching the search parameters", t, auth.InteractionUpdate, s.conditionalUpdate(t))
		s.route("PATCH", "/fhir/"+t+"/{id}", "patch-"+t, "Patch a "+t+" (JSON Patch)", t, auth.InteractionPatch, s.patch(t))
		s.route("DELETE", "/fhir/"+t+"/{id}", "delete-"+t, "Delete a "+t, t, auth.InteractionDelete, s.delete(t))
		s.route("DELETE", "/fhir/"+t, "conditional-delete-"+t, "Delete the "+t+" matching the search parameters", t, auth.InteractionDelete, s.conditionalDelete(t))
		s.route("POST", "/fhir/"+t, "create-"+t, "Create a "+t, t, auth.InteractionCreate, s.create(t))
		s.route("GET", "/fhir/"+t, "search-"+t, "Search "+t+" resources", t, auth.InteractionSearch, s.searchHandler(t))
		s.route("POST", "/fhir/"+t+"/_search", "search-post-"+t, "Search "+t+" resources (form body)", t, auth.InteractionSearch, s.searchHandler(t))
		s.route("GET", "/fhir/"+t+"/_history", "history-type-"+t, "History of all "+t+" resources", t, auth.InteractionHistoryType, s.historyHandler(t, false))
		s.route("GET", "/fhir/"+t+"/{id}/_history", "history-instance-"+t, "History of a "+t, t, auth.InteractionHistoryInstance, s.historyHandler(t, true))
		s.route("POST", "/fhir/"+t+"/{id}/$erase", "erase-"+t, "Lawfully erase a "+t+" (administrators; ?scope=compartment on Patient)", t, auth.InteractionDelete, s.erase(t))
		s.route("POST", "/fhir/"+t+"/$normalize", "normalize-"+t, "Preview normalisation of a "+t+" (nothing is stored)", t, system, s.normalizePreview(t))
		s.route("POST", "/fhir/"+t+"/$validate", "validate-"+t, "Validate a "+t, t, system, s.validate(t, false))
		s.route("POST", "/fhir/"+t+"/{id}/$validate", "validate-instance-"+t, "Validate a "+t+" for update", t, system, s.validate(t, true))
	}
	s.ledgerRoutes()
}

// negotiate checks _format and Accept: fhirseal produces FHIR JSON only.
func negotiate(r *http.Request) error {
	if f := r.URL.Query().Get("_format"); f != "" {
		switch f {
		case "json", "application/json", "application/fhir+json":
		default:
			return &httpError{status: http.StatusNotAcceptable, code: "not-supported", msg: "only JSON is produced (_format=json)"}
		}
		return nil
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/fhir+json", "application/json", "application/json+fhir", "*/*", "application/*", "text/json":
			return nil
		}
	}
	return &httpError{status: http.StatusNotAcceptable, code: "not-supported", msg: "only application/fhir+json is produced"}
}

// readBody reads a request body as a resource of type want ("" for any),
// normalised with the request's source profile and validated in its final
// form (parseWrite).
func (s *Server) readBody(r *http.Request, want string) (*fhir.Node, *lineage, error) {
	if err := checkContentType(r); err != nil {
		return nil, nil, err
	}
	prof, err := s.profileOf(r)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, err
	}
	return s.parseWrite(r, prof, body, want)
}

func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return &httpError{status: http.StatusUnsupportedMediaType, code: "not-supported", msg: "Content-Type application/fhir+json is required"}
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/fhir+json" && mt != "application/json" && mt != "application/json+fhir") {
		return &httpError{status: http.StatusUnsupportedMediaType, code: "not-supported", msg: "the body must be application/fhir+json"}
	}
	return nil
}

// etag and ifMatch use weak version ETags: W/"3".
func etag(vid int64) string { return `W/"` + strconv.FormatInt(vid, 10) + `"` }

func parseETag(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	s = strings.Trim(s, `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

func ifMatch(r *http.Request) (int64, error) {
	h := r.Header.Get("If-Match")
	if h == "" {
		return 0, nil
	}
	vid, ok := parseETag(h)
	if !ok {
		return 0, badRequest("If-Match must be a version ETag such as W/\"1\"")
	}
	return vid, nil
}

func lastModified(lastUpdated string) string {
	t, err := time.Parse(time.RFC3339Nano, lastUpdated)
	if err != nil {
		return ""
	}
	return t.UTC().Format(http.TimeFormat)
}

// writeVersion answers with a stored version, honouring Prefer return=,
// _pretty, _summary and _elements.
func (s *Server) writeVersion(w http.ResponseWriter, r *http.Request, status int, v *store.Version, location bool) {
	h := w.Header()
	h.Set("ETag", etag(v.VersionID))
	if lm := lastModified(v.LastUpdated); lm != "" {
		h.Set("Last-Modified", lm)
	}
	if location {
		h.Set("Location", s.cfg.BaseURL+"/"+v.Type+"/"+v.ID+"/_history/"+strconv.FormatInt(v.VersionID, 10))
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("X-Ledger-Index", strconv.FormatInt(v.LedgerIndex, 10))
		s.waitSealed(w, r, v.LedgerIndex)
	}
	body := v.Body
	switch preferReturn(r) {
	case "minimal":
		if r.Method != http.MethodGet {
			w.WriteHeader(status)
			return
		}
	case "OperationOutcome":
		if r.Method != http.MethodGet {
			out := &fhir.Outcome{}
			out.Add(fhir.Information, "informational", "", "%s/%s version %d stored", v.Type, v.ID, v.VersionID)
			body = out.JSON()
		}
	}
	body = shape(r, body)
	h.Set("Content-Type", fhirJSON)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func preferReturn(r *http.Request) string {
	for _, p := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(p, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.TrimSpace(k) == "return" {
				return strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
	}
	return ""
}

func (s *Server) read(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := negotiate(r); err != nil {
			return err
		}
		id := r.PathValue("id")
		if !fhir.ValidID(id) {
			return fhir.ErrNotFound
		}
		v, err := s.cfg.Store.Read(r.Context(), typ, id)
		if err != nil {
			if errors.Is(err, fhir.ErrDeleted) && v != nil {
				if !decisionOf(r).Unrestricted() {
					return fhir.ErrNotFound // a tombstone says nothing the caller may check
				}
				w.Header().Set("ETag", etag(v.VersionID))
			}
			return err
		}
		if err := s.permitBytes(r, v.Body); err != nil {
			return err
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" {
			if vid, ok := parseETag(inm); ok && vid == v.VersionID {
				w.Header().Set("ETag", etag(v.VersionID))
				w.WriteHeader(http.StatusNotModified)
				return nil
			}
		}
		if ims := r.Header.Get("If-Modified-Since"); ims != "" {
			since, err1 := http.ParseTime(ims)
			lu, err2 := time.Parse(time.RFC3339Nano, v.LastUpdated)
			if err1 == nil && err2 == nil && !lu.Truncate(time.Second).After(since) {
				w.WriteHeader(http.StatusNotModified)
				return nil
			}
		}
		s.writeVersion(w, r, http.StatusOK, v, false)
		return nil
	}
}

func (s *Server) vread(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := negotiate(r); err != nil {
			return err
		}
		v, err := s.visibleVersion(r, typ)
		if err != nil {
			return err
		}
		if v.Deleted() {
			w.Header().Set("ETag", etag(v.VersionID))
			return fhir.ErrDeleted
		}
		s.writeVersion(w, r, http.StatusOK, v, false)
		return nil
	}
}

// visibleVersion reads the version a .../_history/{vid} URL names and
// checks that the caller may see it: a deletion only with unrestricted
// scopes (anyone else is told it does not exist), a body as permitBytes
// decides.
func (s *Server) visibleVersion(r *http.Request, typ string) (*store.Version, error) {
	id := r.PathValue("id")
	vid, err := strconv.ParseInt(r.PathValue("vid"), 10, 64)
	if err != nil || vid <= 0 || !fhir.ValidID(id) {
		return nil, fhir.ErrNotFound
	}
	v, err := s.cfg.Store.VRead(r.Context(), typ, id, vid)
	if err != nil {
		return nil, err
	}
	if v.Deleted() {
		if !decisionOf(r).Unrestricted() {
			return nil, fhir.ErrNotFound
		}
		return v, nil
	}
	if err := s.permitBytes(r, v.Body); err != nil {
		return nil, err
	}
	return v, nil
}

func (s *Server) create(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := negotiate(r); err != nil {
			return err
		}
		res, lin, err := s.readBody(r, typ)
		if err != nil {
			return err
		}
		if err := s.permit(r, res); err != nil {
			return fhir.ErrForbidden
		}
		cond := r.Header.Get("If-None-Exist")
		var q *store.Query
		if cond != "" {
			if err := s.requireUnrestricted(r, auth.InteractionSearch, []string{typ}); err != nil {
				return err
			}
			if q, err = s.conditionQuery(typ, cond); err != nil {
				return err
			}
		}
		var v *store.Version
		created := true
		err = s.cfg.Store.Update(r.Context(), func(tx store.Tx) error {
			if q != nil {
				existing, err := tx.Search(q)
				if err != nil {
					return err
				}
				switch len(existing.Matches) {
				case 0:
				case 1:
					v, created = &existing.Matches[0], false
					return nil
				default:
					return fhir.ErrMultipleMatch
				}
			}
			res.Set("id", newID())
			var err error
			v, err = s.putNormalized(tx, res, 0, lin)
			return err
		})
		if err != nil {
			return err
		}
		status := http.StatusCreated
		if !created {
			status = http.StatusOK
		}
		s.writeVersion(w, r, status, v, true)
		return nil
	}
}

func (s *Server) update(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := negotiate(r); err != nil {
			return err
		}
		id := r.PathValue("id")
		if !fhir.ValidID(id) {
			return badRequest("%q is not a valid id", id)
		}
		match, err := ifMatch(r)
		if err != nil {
			return err
		}
		res, lin, err := s.readBody(r, typ)
		if err != nil {
			return err
		}
		switch bid := res.ID(); {
		case bid == "":
			return badRequest("the resource must carry the id of the URL (%s)", id)
		case bid != id:
			return badRequest("the resource id %q does not match the URL id %q", bid, id)
		}
		if err := s.permit(r, res); err != nil {
			return fhir.ErrForbidden
		}
		v, err := s.put(r, res, match, lin)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if v.VersionID == 1 || v.Op == store.OpCreate {
			status = http.StatusCreated
		}
		s.writeVersion(w, r, status, v, true)
		return nil
	}
}

// put stores res (update or update-as-create) with its lineage and maps
// If-Match conflicts to 412.
func (s *Server) put(r *http.Request, res *fhir.Node, match int64, lin *lineage) (*store.Version, error) {
	var v *store.Version
	err := s.cfg.Store.Update(r.Context(), func(tx store.Tx) error {
		cur, err := tx.Current(res.Type, res.ID())
		if s.cfg.NoUpdateCreate && errors.Is(err, fhir.ErrNotFound) {
			return &httpError{status: http.StatusMethodNotAllowed, code: "not-supported", msg: "update-as-create is disabled on this server"}
		}
		// The caller must be allowed the resource as it is before the
		// update, too: no moving another patient's data into one's own.
		if err == nil {
			if perr := s.permitBytes(r, cur.Body); perr != nil {
				return fhir.ErrForbidden
			}
		}
		v, err = s.putNormalized(tx, res, match, lin)
		return err
	})
	if errors.Is(err, fhir.ErrConflict) && match != 0 {
		return nil, fhir.ErrPrecondition
	}
	return v, err
}

func (s *Server) conditionalUpdate(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := negotiate(r); err != nil {
			return err
		}
		if r.URL.RawQuery == "" {
			return badRequest("a conditional update needs search parameters")
		}
		if err := s.requireUnrestricted(r, auth.InteractionUpdate, []string{typ}); err != nil {
			return err
		}
		q, err := s.conditionQuery(typ, r.URL.RawQuery)
		if err != nil {
			return err
		}
		res, lin, err := s.readBody(r, typ)
		if err != nil {
			return err
		}
		match, err := ifMatch(r)
		if err != nil {
			return err
		}
		var v *store.Version
		err = s.cfg.Store.Update(r.Context(), func(tx store.Tx) error {
			found, err := tx.Search(q)
			if err != nil {
				return err
			}
			switch len(found.Matches) {
			case 0:
				if id := res.ID(); id == "" {
					res.Set("id", newID())
				}
			case 1:
				m := found.Matches[0]
				if id := res.ID(); id != "" && id != m.ID {
					return badRequest("the resource id %q does not match the resource found (%s)", id, m.ID)
				}
				res.Set("id", m.ID)
			default:
				return fhir.ErrMultipleMatch
			}
			v, err = s.putNormalized(tx, res, match, lin)
			return err
		})
		if errors.Is(err, fhir.ErrConflict) && match != 0 {
			return fhir.ErrPrecondition
		}
		if err != nil {
			return err
		}
		status := http.StatusOK
		if v.Op == store.OpCreate {
			status = http.StatusCreated
		}
		s.writeVersion(w, r, status, v, true)
		return nil
	}
}

func (s *Server) delete(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if !fhir.ValidID(id) {
			return fhir.ErrNotFound
		}
		match, err := ifMatch(r)
		if err != nil {
			return err
		}
		var v *store.Version
		restricted := !decisionOf(r).Unrestricted()
		err = s.cfg.Store.Update(r.Context(), func(tx store.Tx) error {
			if cur, err := tx.Current(typ, id); err == nil {
				if err := s.permitBytes(r, cur.Body); err != nil {
					return err
				}
			} else if restricted {
				return fhir.ErrNotFound
			}
			var err error
			v, err = tx.Delete(typ, id, match)
			return err
		})
		if errors.Is(err, fhir.ErrConflict) {
			return fhir.ErrPrecondition
		}
		if err != nil {
			return err
		}
		s.writeDeleted(w, v)
		return nil
	}
}

func (s *Server) writeDeleted(w http.ResponseWriter, v *store.Version) {
	out := &fhir.Outcome{}
	if v != nil {
		w.Header().Set("ETag", etag(v.VersionID))
		w.Header().Set("X-Ledger-Index", strconv.FormatInt(v.LedgerIndex, 10))
		out.Add(fhir.Information, "informational", "", "deleted %s/%s (version %d)", v.Type, v.ID, v.VersionID)
	} else {
		out.Add(fhir.Information, "informational", "", "nothing to delete")
	}
	w.Header().Set("Content-Type", fhirJSON)
	w.WriteHeader(http.StatusOK)
	w.Write(out.JSON())
}

func (s *Server) conditionalDelete(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.RawQuery == "" {
			return badRequest("a conditional delete needs search parameters")
		}
		if err := s.requireUnrestricted(r, auth.InteractionDelete, []string{typ}); err != nil {
			return err
		}
		q, err := s.conditionQuery(typ, r.URL.RawQuery)
		if err != nil {
			return err
		}
		var v *store.Version
		err = s.cfg.Store.Update(r.Context(), func(tx store.Tx) error {
			found, err := tx.Search(q)
			if err != nil {
				return err
			}
			switch len(found.Matches) {
			case 0:
				return nil
			case 1:
				v, err = tx.Delete(typ, found.Matches[0].ID, 0)
				return err
			}
			return fhir.ErrMultipleMatch
		})
		if err != nil {
			return err
		}
		s.writeDeleted(w, v)
		return nil
	}
}

func (s *Server) validate(typ string, instance bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := checkContentType(r); err != nil {
			return err
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		n, out := fhir.Parse(body, fhir.Limits{MaxBytes: int(s.cfg.MaxBodyBytes)})
		// The body may be a Parameters resource wrapping the resource.
		if n != nil && n.Type == "Parameters" && typ != "Parameters" {
			for _, p := range n.Get("parameter") {
				if p.String("name") == "resource" {
					if res := p.First("resource"); res != nil {
						body = fhir.Marshal(res)
						n, out = fhir.Parse(body, fhir.Limits{})
					}
				}
			}
		}
		if n != nil && n.Type != typ {
			out.Add(fhir.Error, "invalid", "", "the resource is a %s, not a %s", n.Type, typ)
		}
		if n != nil && !out.HasErrors() {
			out.Issues = append(out.Issues, fhirpath.CheckInvariants(n)...)
		}
		if n != nil && instance && n.ID() != r.PathValue("id") {
			out.Add(fhir.Error, "invalid", n.Type+".id", "the resource id does not match the URL")
		}
		status := http.StatusOK
		if out.HasErrors() {
			status = http.StatusUnprocessableEntity
			if n == nil {
				status = http.StatusBadRequest
			}
		}
		w.Header().Set("Content-Type", fhirJSON)
		w.WriteHeader(status)
		w.Write(out.JSON())
		return nil
	}
}

// pageToken encodes where the next page starts. It is opaque to clients.
func pageToken(kind string, n, asOf int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(n, 10) + ":" + strconv.FormatInt(asOf, 10)))
}

func parsePageToken(tok, kind string) (n, asOf int64, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, 0, badRequest("invalid _page token")
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != kind {
		return 0, 0, badRequest("invalid _page token")
	}
	n, err1 := strconv.ParseInt(parts[1], 10, 64)
	asOf, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || n < 0 || asOf < 0 {
		return 0, 0, badRequest("invalid _page token")
	}
	return n, asOf, nil
}

func (s *Server) count(v url.Values) (int, error) {
	c := v.Get("_count")
	if c == "" {
		return s.cfg.DefaultCount, nil
	}
	n, err := strconv.Atoi(c)
	if err != nil || n < 0 {
		return 0, badRequest("_count must be a whole number")
	}
	if n > s.cfg.MaxCount {
		n = s.cfg.MaxCount
	}
	return n, nil
}

func (s *Server) historyHandler(typ string, instance bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := negotiate(r); err != nil {
			return err
		}
		qv := r.URL.Query()
		q := store.HistoryQuery{Type: typ}
		if !instance {
			in := auth.InteractionHistoryType
			var types []string
			if typ != "" {
				types = []string{typ}
			}
			if err := s.requireUnrestricted(r, in, types); err != nil {
				return err
			}
		}
		if instance {
			q.ID = r.PathValue("id")
			if _, err := s.cfg.Store.VRead(r.Context(), typ, q.ID, 1); err != nil {
				return err
			}
		}
		n, err := s.count(qv)
		if err != nil {
			return err
		}
		q.Count = n + 1
		for _, p := range []struct {
			name string
			dst  *time.Time
		}{{"_since", &q.Since}, {"_at", &q.At}} {
			if v := qv.Get(p.name); v != "" {
				t, err := parseInstant(v)
				if err != nil {
					return badRequest("%s must be an instant or date: %v", p.name, err)
				}
				*p.dst = t
			}
		}
		if tok := qv.Get("_page"); tok != "" {
			before, _, err := parsePageToken(tok, "h")
			if err != nil {
				return err
			}
			q.Before = before
		}
		versions, err := s.cfg.Store.History(r.Context(), q)
		if err != nil {
			return err
		}
		if !instance {
			if err := s.checkHistory(r, versions); err != nil {
				return err
			}
		} else {
			// Every version must be visible; one that is not hides the
			// whole history, as if the resource did not exist.
			for _, v := range versions {
				if v.Deleted() {
					continue
				}
				if err := s.permitBytes(r, v.Body); err != nil {
					return err
				}
			}
		}
		more := len(versions) > n
		if more {
			versions = versions[:n]
		}
		self := s.selfURL(r, nil)
		var next string
		if more {
			next = s.linkWith(r, "_page", pageToken("h", versions[len(versions)-1].LedgerIndex, 0))
		}
		b := s.historyBundle(versions, self, next)
		writeBundle(w, r, b)
		return nil
	}
}

func parseInstant(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a FHIR instant")
}

// selfURL rebuilds the request URL on the public base, keeping only the
// parameters in keep (all when keep is nil).
func (s *Server) selfURL(r *http.Request, keep url.Values) string {
	path := strings.TrimPrefix(r.URL.Path, "/fhir")
	u := s.cfg.BaseURL + path
	q := r.URL.Query()
	if keep != nil {
		q = keep
	}
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	return u
}

func (s *Server) linkWith(r *http.Request, key, value string) string {
	q := r.URL.Query()
	q.Set(key, value)
	return s.selfURL(r, q)
}
