package server

import (
	"net/http"
	"strings"

	"github.com/fhirseal/fhirseal/fhir"
)

// shape applies _summary and _elements to a stored resource
// (https://hl7.org/fhir/R4/search.html#summary). Subsetted resources are
// tagged SUBSETTED. Without those parameters the stored bytes pass through
// untouched.
func shape(r *http.Request, body []byte) []byte {
	q := r.URL.Query()
	summary, elements := q.Get("_summary"), q.Get("_elements")
	if (summary == "" || summary == "false" || summary == "count") && elements == "" {
		return pretty(r, body)
	}
	n, out := fhir.Parse(body, fhir.Limits{})
	if n == nil || out.HasErrors() {
		return pretty(r, body)
	}
	var keep func(f *fhir.Field) bool
	switch {
	case elements != "":
		want := map[string]bool{}
		for _, e := range strings.Split(elements, ",") {
			e = strings.TrimSpace(e)
			if i := strings.IndexByte(e, '.'); i >= 0 {
				e = e[i+1:]
			}
			want[e] = true
		}
		keep = func(f *fhir.Field) bool { return want[f.Elem.Name] || f.Elem.Min > 0 }
	case summary == "true":
		keep = func(f *fhir.Field) bool { return f.Elem.Summary || f.Elem.Min > 0 }
	case summary == "text":
		keep = func(f *fhir.Field) bool { return f.Elem.Name == "text" || f.Elem.Min > 0 }
	case summary == "data":
		keep = func(f *fhir.Field) bool { return f.Elem.Name != "text" }
	default:
		return pretty(r, body)
	}
	kept := n.Fields[:0]
	for i := range n.Fields {
		f := &n.Fields[i]
		if f.Elem.Name == "id" || f.Elem.Name == "meta" || keep(f) {
			kept = append(kept, *f)
		}
	}
	n.Fields = kept
	if meta := n.Ensure("meta"); meta != nil {
		if tag := meta.Append("tag"); tag != nil {
			tag.Set("system", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue")
			tag.Set("code", "SUBSETTED")
		}
	}
	return pretty(r, fhir.Marshal(n))
}

func pretty(r *http.Request, body []byte) []byte {
	if r.URL.Query().Get("_pretty") == "true" {
		return fhir.Pretty(body)
	}
	return body
}
