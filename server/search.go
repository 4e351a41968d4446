package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/store"
)

// searchRequest is a parsed search: the store query plus what was applied
// and what was not.
type searchRequest struct {
	query   store.Query
	applied url.Values
	ignored []string
	summary string
	total   string // the _total asked for
}

// resultParams are handled by the server around the store query.
var resultParams = map[string]bool{"_count": true, "_total": true, "_summary": true, "_page": true, "_format": true, "_pretty": true, "_elements": true}

// parseSearch turns query parameters into a store query for resources of
// types (one type, or none for a system search narrowed by _type).
// Parameters that are unknown or not supported are listed in ignored; in
// strict mode they are an error, because silently dropping a filter would
// return wrong results (R4 search.html#errors). A malformed value is an
// error in either mode.
func (s *Server) parseSearch(types []string, v url.Values, strict bool) (*searchRequest, error) {
	sr := &searchRequest{applied: url.Values{}}
	if len(types) == 1 && types[0] == "" {
		types = nil
	}
	sr.query.Types = types
	for _, val := range v["_type"] {
		if len(types) > 0 {
			sr.ignored = append(sr.ignored, "_type")
			continue
		}
		for _, t := range strings.Split(val, ",") {
			if !fhir.IsResourceType(t) {
				return nil, badRequest("unknown resource type %q in _type", t)
			}
			if !contains(sr.query.Types, t) {
				sr.query.Types = append(sr.query.Types, t)
			}
		}
		sr.applied.Add("_type", val)
	}
	// Parameters are read in name order so that the query, and the self
	// link, do not depend on map order.
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	sort.Strings(names)
	typ := "Resource" // several types or none: only the common parameters
	if len(sr.query.Types) == 1 {
		typ = sr.query.Types[0]
	}
	for _, name := range names {
		if resultParams[name] || name == "_type" {
			continue
		}
		base, _, _ := strings.Cut(name, ":")
		for _, val := range v[name] {
			var err error
			switch base {
			case "_sort":
				var keys []search.SortKey
				if keys, err = search.ParseSort(typ, val); err == nil {
					sr.query.Sort = append(sr.query.Sort, keys...)
				}
			case "_include", "_revinclude":
				var inc search.Include
				if inc, err = search.ParseInclude(name, val); err == nil {
					sr.query.Includes = append(sr.query.Includes, inc)
				}
			default:
				var c *search.Criterion
				if c, err = search.Parse(typ, name, val); err == nil {
					sr.query.Criteria = append(sr.query.Criteria, c)
				}
			}
			switch {
			case err == nil:
				sr.applied.Add(name, val)
			case errors.Is(err, search.ErrUnknownParam) || errors.Is(err, search.ErrUnsupported):
				sr.ignored = append(sr.ignored, name)
			default:
				return nil, badRequest("search parameter %s: %v", name, err)
			}
		}
	}
	if strict && len(sr.ignored) > 0 {
		return nil, badRequest("unknown or unsupported search parameters: %s", strings.Join(sr.ignored, ", "))
	}
	sr.summary = v.Get("_summary")
	switch sr.summary {
	case "", "true", "false", "text", "data", "count":
	default:
		return nil, badRequest("_summary must be true, false, text, data or count")
	}
	sr.total = v.Get("_total")
	switch sr.total {
	case "", "none", "estimate", "accurate":
	default:
		return nil, badRequest("_total must be none, estimate or accurate")
	}
	for _, name := range []string{"_count", "_total", "_summary", "_elements"} {
		if val := v.Get(name); val != "" {
			sr.applied.Set(name, val)
		}
	}
	return sr, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func strictHandling(r *http.Request) bool {
	for _, p := range r.Header.Values("Prefer") {
		if strings.Contains(p, "handling=strict") {
			return true
		}
	}
	return false
}

// searchParams returns the query parameters of a search, with those of a
// POST _search form body added.
func searchParams(r *http.Request) (url.Values, error) {
	params := r.URL.Query()
	if r.Method != http.MethodPost {
		return params, nil
	}
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, &httpError{status: http.StatusUnsupportedMediaType, code: "not-supported", msg: "POST _search takes an application/x-www-form-urlencoded body"}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("invalid form body")
	}
	for k, vs := range form {
		for _, v := range vs {
			params.Add(k, v)
		}
	}
	return params, nil
}

// searchHandler serves type searches (typ set) and system searches, by GET
// and by POST _search with a form body.
func (s *Server) searchHandler(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := negotiate(r); err != nil {
			return err
		}
		params, err := searchParams(r)
		if err != nil {
			return err
		}
		sr, err := s.parseSearch([]string{typ}, params, strictHandling(r))
		if err != nil {
			return err
		}
		return s.serveSearch(w, r, sr, params)
	}
}

// compartmentRoutes registers compartment searches
// (https://hl7.org/fhir/R4/compartmentdefinition.html#search), e.g.
// GET /fhir/Patient/123/Observation, for every compartment definition;
// "*" as the type searches every type in the compartment.
func (s *Server) compartmentRoutes() {
	for _, c := range fhir.Compartments() {
		code := c.Code
		s.route("GET", "/fhir/"+code+"/{id}/{type}", "search-compartment-"+code,
			"Search the resources of a type in a "+code+"'s compartment ({type} * for all)", code, system, s.compartmentSearch(code))
		s.route("POST", "/fhir/"+code+"/{id}/{type}/_search", "search-post-compartment-"+code,
			"Search the resources of a type in a "+code+"'s compartment (form body)", code, system, s.compartmentSearch(code))
	}
}

func (s *Server) compartmentSearch(code string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := negotiate(r); err != nil {
			return err
		}
		id, typ := r.PathValue("id"), r.PathValue("type")
		if !fhir.ValidID(id) {
			return badRequest("invalid id %q", id)
		}
		var types []string
		switch {
		case typ == "*":
			for _, comp := range fhir.Compartments() {
				if comp.Code == code {
					for _, res := range comp.Resources {
						types = append(types, res.Type)
					}
				}
			}
			if !contains(types, code) {
				types = append(types, code)
			}
		case typ == code || (fhir.IsResourceType(typ) && len(search.CompartmentParams(code, typ)) > 0):
			types = []string{typ}
		default:
			return &httpError{status: http.StatusNotFound, code: "not-found", msg: typ + " is not a resource type of the " + code + " compartment"}
		}
		params, err := searchParams(r)
		if err != nil {
			return err
		}
		params.Del("_type")
		sr, err := s.parseSearch(types, params, strictHandling(r))
		if err != nil {
			return err
		}
		sr.query.Criteria = append(sr.query.Criteria, search.Compartment(code, id))
		return s.serveSearch(w, r, sr, params)
	}
}

// serveSearch runs a parsed search and writes the searchset Bundle:
// matches, then included resources (search.mode include), then an
// OperationOutcome (search.mode outcome) naming what was not applied and
// whether the includes were capped.
func (s *Server) serveSearch(w http.ResponseWriter, r *http.Request, sr *searchRequest, params url.Values) error {
	acc, err := s.searchRestrict(r, auth.InteractionSearch, sr.query.Types)
	if err != nil {
		return err
	}
	n, err := s.count(params)
	if err != nil {
		return err
	}
	q := &sr.query
	q.Count = n
	q.MaxIncluded = s.cfg.MaxIncluded
	q.Total = sr.total == "estimate" || sr.total == "accurate"
	if sr.summary == "count" {
		q.Total, q.Count, q.Includes = true, 0, nil
	}
	if tok := params.Get("_page"); tok != "" {
		tok, err := s.openPageToken(r, tok)
		if err != nil {
			return err
		}
		off, asOf, err := parsePageToken(tok, "s")
		if err != nil {
			return err
		}
		q.Offset, q.AsOf = int(off), asOf
	}
	q.Restrict = append(q.Restrict, acc.restrict...)
	restrictChains(q.Criteria, acc.restrict)
	page, err := s.cfg.Store.Search(r.Context(), q)
	if err != nil {
		return err
	}
	bodies := make([][]byte, 0, len(page.Matches)+len(page.Included))
	for _, m := range page.Matches {
		bodies = append(bodies, m.Body)
	}
	for _, m := range page.Included {
		bodies = append(bodies, m.Body)
	}
	patients, glass, err := s.recheck(r, bodies)
	if err != nil {
		return err
	}
	if len(acc.breakGlass) > 0 || len(glass) > 0 {
		var pids []string
		for _, p := range append(acc.breakGlass, glass...) {
			if p != "" && !contains(pids, p) {
				pids = append(pids, p)
			}
		}
		if err := s.auditBreakGlass(r, auth.InteractionSearch, "", searchedType(q.Types), pids, nil); err != nil {
			return err
		}
	} else {
		s.recordSearch(r, auth.InteractionSearch, q.Types, patients)
	}
	if page.Total < 0 && !page.More && q.Offset == 0 && q.Count > 0 && sr.total != "none" {
		page.Total = len(page.Matches) // everything is on this page: the total is free
	}
	self := s.selfURL(r, sr.applied)
	var next string
	if page.More {
		next = s.linkWith(&http.Request{URL: &url.URL{Path: r.URL.Path, RawQuery: sr.applied.Encode()}}, "_page", s.sealPageToken(r, pageToken("s", int64(q.Offset+len(page.Matches)), q.AsOf)))
	}
	bw := newBundle("searchset", page.Total, "self", self, "next", next)
	for _, m := range page.Matches {
		bw.add(entry{fullURL: s.fullURL(m.Type, m.ID), resource: shape(r, m.Body), searchMode: "match"})
	}
	for _, m := range page.Included {
		bw.add(entry{fullURL: s.fullURL(m.Type, m.ID), resource: shape(r, m.Body), searchMode: "include"})
	}
	out := &fhir.Outcome{}
	if len(sr.ignored) > 0 {
		out.Add(fhir.Warning, "not-supported", "", "these parameters were not applied: %s", strings.Join(sr.ignored, ", "))
	}
	if page.IncludedCapped {
		out.Add(fhir.Warning, "too-costly", "", "%s", s.includeCapMessage(q, page))
	}
	if len(out.Issues) > 0 {
		bw.add(entry{resource: out.JSON(), searchMode: "outcome"})
	}
	writeBundle(w, r, bw)
	return nil
}

// includeCapMessage says that the included resources were capped and how
// to get the rest: a smaller _count (includes are per page), or for each
// directive a plain search that pages through what it would include for
// this page's matches.
func (s *Server) includeCapMessage(q *store.Query, page *store.Page) string {
	max := q.MaxIncluded
	if max <= 0 {
		max = store.DefaultMaxIncluded
	}
	byType := map[string][]string{}
	for _, m := range page.Matches {
		byType[m.Type] = append(byType[m.Type], m.ID)
	}
	var urls []string
	for _, inc := range q.Includes {
		if inc.Iterate || inc.Source == "" || inc.Param == "*" {
			continue
		}
		if inc.Rev {
			var targets []string
			for typ, ids := range byType {
				if inc.Target != "" && inc.Target != typ {
					continue
				}
				for _, id := range ids {
					targets = append(targets, typ+"/"+id)
				}
			}
			if len(targets) > 0 {
				sort.Strings(targets)
				urls = append(urls, s.cfg.BaseURL+"/"+inc.Source+"?"+url.Values{inc.Param: {strings.Join(targets, ",")}}.Encode())
			}
			continue
		}
		ids := byType[inc.Source]
		if len(ids) == 0 {
			continue
		}
		targets := []string{inc.Target}
		if inc.Target == "" {
			p := search.Param(inc.Source, inc.Param)
			if p == nil || len(p.Targets) == 0 || len(p.Targets) > 4 || contains(p.Targets, "Resource") {
				continue
			}
			targets = p.Targets
		}
		for _, t := range targets {
			urls = append(urls, s.cfg.BaseURL+"/"+t+"?"+url.Values{"_has:" + inc.Source + ":" + inc.Param + ":_id": {strings.Join(ids, ",")}}.Encode())
		}
	}
	msg := fmt.Sprintf("more resources match _include/_revinclude than the %d included for this page; the rest are not in this Bundle. Use a smaller _count (includes are computed per page)", max)
	if len(urls) > 0 {
		msg += ", or search for them directly: " + strings.Join(urls, " ")
	}
	return msg
}

func searchedType(types []string) string {
	if len(types) == 1 {
		return types[0]
	}
	return "Resource"
}

// sealPageToken binds a paging token to the caller: a tag computed with
// the server's page key over the token's issuer and subject. Paging links
// are also re-authorised on every use (the access decision is compiled
// again from the presented token), so a link never widens access; the tag
// makes a link replayed by another caller fail outright.
func (s *Server) sealPageToken(r *http.Request, tok string) string {
	return tok + "." + s.pageTag(r, tok)
}

// openPageToken checks and strips the caller tag of a paging token.
func (s *Server) openPageToken(r *http.Request, sealed string) (string, error) {
	tok, tag, ok := strings.Cut(sealed, ".")
	if !ok || !hmac.Equal([]byte(tag), []byte(s.pageTag(r, tok))) {
		return "", &httpError{status: http.StatusForbidden, code: "forbidden", msg: "this paging link was issued to another caller"}
	}
	return tok, nil
}

func (s *Server) pageTag(r *http.Request, tok string) string {
	m := hmac.New(sha256.New, s.pageKey[:])
	if p := principalOf(r); p != nil {
		m.Write([]byte(p.Issuer + "\x00" + p.Subject + "\x00" + p.Consent + "\x00"))
	}
	m.Write([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}
