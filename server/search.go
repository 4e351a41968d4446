package server

import (
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
)

// searchHandler serves type searches (typ set) and system searches, by GET
// and by POST _search with a form body.
func (s *Server) searchHandler(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := negotiate(r); err != nil {
			return err
		}
		params := r.URL.Query()
		if r.Method == http.MethodPost {
			ct := r.Header.Get("Content-Type")
			if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
				return &httpError{status: http.StatusUnsupportedMediaType, code: "not-supported", msg: "POST _search takes an application/x-www-form-urlencoded body"}
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return err
			}
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return badRequest("invalid form body")
			}
			for k, vs := range form {
				for _, v := range vs {
					params.Add(k, v)
				}
			}
		}
		sr, err := s.parseSearch([]string{typ}, params, strictHandling(r))
		if err != nil {
			return err
		}
		if err := s.requireUnrestricted(r, auth.InteractionSearch, sr.query.Types); err != nil {
			return err
		}
		n, err := s.count(params)
		if err != nil {
			return err
		}
		q := &sr.query
		q.Count = n
		switch params.Get("_total") {
		case "", "none":
		case "estimate", "accurate":
			q.Total = true
		default:
			return badRequest("_total must be none, estimate or accurate")
		}
		if sr.summary == "count" {
			q.Total, q.Count = true, 0
		}
		if tok := params.Get("_page"); tok != "" {
			off, asOf, err := parsePageToken(tok, "s")
			if err != nil {
				return err
			}
			q.Offset, q.AsOf = int(off), asOf
		}
		page, err := s.cfg.Store.Search(r.Context(), q)
		if err != nil {
			return err
		}
		if page.Total < 0 && !page.More && q.Offset == 0 && q.Count > 0 {
			page.Total = len(page.Matches) // everything is on this page: the total is free
		}
		self := s.selfURL(r, sr.applied)
		var next string
		if page.More {
			asOf := q.AsOf
			next = s.linkWith(&http.Request{URL: &url.URL{Path: r.URL.Path, RawQuery: sr.applied.Encode()}}, "_page", pageToken("s", int64(q.Offset+len(page.Matches)), asOf))
		}
		bw := newBundle("searchset", page.Total, "self", self, "next", next)
		for _, m := range page.Matches {
			bw.add(entry{fullURL: s.fullURL(m.Type, m.ID), resource: shape(r, m.Body), searchMode: "match"})
		}
		if len(sr.ignored) > 0 {
			out := &fhir.Outcome{}
			out.Add(fhir.Warning, "not-supported", "", "these parameters were not applied: %s", strings.Join(sr.ignored, ", "))
			bw.add(entry{resource: out.JSON(), searchMode: "outcome"})
		}
		writeBundle(w, r, bw)
		return nil
	}
}
