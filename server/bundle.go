package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/store"
)

// bundleWriter builds a Bundle's JSON around stored resource bytes, which
// are embedded as they are.
type bundleWriter struct {
	b       []byte
	entries int
}

func newBundle(typ string, total int, links ...string) *bundleWriter {
	bw := &bundleWriter{b: make([]byte, 0, 4096)}
	bw.b = append(bw.b, `{"resourceType":"Bundle","type":`...)
	bw.b, _ = jsontext.AppendQuote(bw.b, typ)
	if total >= 0 {
		bw.b = append(bw.b, `,"total":`...)
		bw.b = strconv.AppendInt(bw.b, int64(total), 10)
	}
	var hasLink bool
	for i := 0; i+1 < len(links); i += 2 {
		if links[i+1] == "" {
			continue
		}
		if !hasLink {
			bw.b = append(bw.b, `,"link":[`...)
			hasLink = true
		} else {
			bw.b = append(bw.b, ',')
		}
		bw.b = append(bw.b, `{"relation":`...)
		bw.b, _ = jsontext.AppendQuote(bw.b, links[i])
		bw.b = append(bw.b, `,"url":`...)
		bw.b, _ = jsontext.AppendQuote(bw.b, links[i+1])
		bw.b = append(bw.b, '}')
	}
	if hasLink {
		bw.b = append(bw.b, ']')
	}
	return bw
}

// entry is one Bundle entry; empty parts are left out.
type entry struct {
	fullURL    string
	resource   []byte
	searchMode string
	reqMethod  string
	reqURL     string
	status     string
	location   string
	etag       string
	lastMod    string
	outcome    []byte
}

func (bw *bundleWriter) add(e entry) {
	if bw.entries == 0 {
		bw.b = append(bw.b, `,"entry":[`...)
	} else {
		bw.b = append(bw.b, ',')
	}
	bw.entries++
	bw.b = append(bw.b, '{')
	first := true
	field := func(name string) {
		if !first {
			bw.b = append(bw.b, ',')
		}
		first = false
		bw.b = append(bw.b, '"')
		bw.b = append(bw.b, name...)
		bw.b = append(bw.b, `":`...)
	}
	str := func(name, v string) {
		if v == "" {
			return
		}
		field(name)
		bw.b, _ = jsontext.AppendQuote(bw.b, v)
	}
	str("fullUrl", e.fullURL)
	if e.resource != nil {
		field("resource")
		bw.b = append(bw.b, e.resource...)
	}
	if e.searchMode != "" {
		field("search")
		bw.b = append(bw.b, `{"mode":`...)
		bw.b, _ = jsontext.AppendQuote(bw.b, e.searchMode)
		bw.b = append(bw.b, '}')
	}
	if e.reqMethod != "" {
		field("request")
		bw.b = append(bw.b, `{"method":`...)
		bw.b, _ = jsontext.AppendQuote(bw.b, e.reqMethod)
		bw.b = append(bw.b, `,"url":`...)
		bw.b, _ = jsontext.AppendQuote(bw.b, e.reqURL)
		bw.b = append(bw.b, '}')
	}
	if e.status != "" {
		field("response")
		bw.b = append(bw.b, `{"status":`...)
		bw.b, _ = jsontext.AppendQuote(bw.b, e.status)
		for _, kv := range [][2]string{{"location", e.location}, {"etag", e.etag}, {"lastModified", e.lastMod}} {
			if kv[1] != "" {
				bw.b = append(bw.b, `,"`...)
				bw.b = append(bw.b, kv[0]...)
				bw.b = append(bw.b, `":`...)
				bw.b, _ = jsontext.AppendQuote(bw.b, kv[1])
			}
		}
		if e.outcome != nil {
			bw.b = append(bw.b, `,"outcome":`...)
			bw.b = append(bw.b, e.outcome...)
		}
		bw.b = append(bw.b, '}')
	}
	bw.b = append(bw.b, '}')
}

func (bw *bundleWriter) bytes() []byte {
	if bw.entries > 0 {
		bw.b = append(bw.b, ']')
	}
	return append(bw.b, '}')
}

func writeBundle(w http.ResponseWriter, r *http.Request, bw *bundleWriter) {
	body := bw.bytes()
	if r.URL.Query().Get("_pretty") == "true" {
		body = fhir.Pretty(body)
	}
	w.Header().Set("Content-Type", fhirJSON)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func (s *Server) fullURL(typ, id string) string { return s.cfg.BaseURL + "/" + typ + "/" + id }

func (s *Server) historyBundle(versions []store.Version, self, next string) *bundleWriter {
	bw := newBundle("history", -1, "self", self, "next", next)
	for _, v := range versions {
		e := entry{fullURL: s.fullURL(v.Type, v.ID), etag: etag(v.VersionID), lastMod: v.LastUpdated}
		switch v.Op {
		case store.OpCreate:
			e.reqMethod, e.reqURL, e.status = "POST", v.Type, "201 Created"
		case store.OpUpdate:
			e.reqMethod, e.reqURL, e.status = "PUT", v.Type+"/"+v.ID, "200 OK"
		case store.OpDelete:
			e.reqMethod, e.reqURL, e.status = "DELETE", v.Type+"/"+v.ID, "204 No Content"
		}
		if !v.Deleted() {
			e.resource = v.Body
		}
		bw.add(e)
	}
	return bw
}

// conditionQuery parses the search part of a conditional interaction. Every
// parameter must be understood: a condition that is partly ignored could
// match the wrong resource.
func (s *Server) conditionQuery(typ, raw string) (*store.Query, error) {
	raw = strings.TrimPrefix(raw, "?")
	if i := strings.Index(raw, "?"); i >= 0 {
		raw = raw[i+1:]
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("invalid search parameters in the condition")
	}
	sr, err := s.parseSearch([]string{typ}, v, true)
	if err != nil {
		return nil, err
	}
	if len(sr.query.Criteria) == 0 {
		return nil, badRequest("the condition has no search parameters")
	}
	sr.query.Count = 2
	return &sr.query, nil
}
