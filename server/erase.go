package server

import (
	"net/http"
	"strconv"

	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/store"
)

// erase answers POST /fhir/{type}/{id}/$erase: lawful erasure of every
// version of a resource, and with ?scope=compartment on a Patient, of the
// whole patient compartment. Administrators only. Bodies, keys and index
// rows go; one erase leaf in the ledger records which versions were
// erased, so the ledger stays verifiable and tells erasure from tampering.
func (s *Server) erase(typ string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p := principalOf(r)
		if p == nil || !p.Admin {
			return fhir.ErrForbidden
		}
		id := r.PathValue("id")
		if !fhir.ValidID(id) {
			return fhir.ErrNotFound
		}
		compartment := r.URL.Query().Get("scope") == "compartment"
		if compartment && typ != "Patient" {
			return badRequest("scope=compartment applies to Patient resources")
		}
		target := fhir.Ref{Type: typ, ID: id}
		var er *store.Erasure
		err := s.cfg.Store.Update(r.Context(), func(tx store.Tx) error {
			members := []fhir.Ref{target}
			if compartment {
				more, err := patientCompartment(tx, id)
				if err != nil {
					return err
				}
				members = append(members, more...)
			}
			var err error
			er, err = tx.Erase(target, members)
			return err
		})
		if err != nil {
			return err
		}
		w.Header().Set("X-Ledger-Index", strconv.FormatInt(er.LedgerIndex, 10))
		s.waitSealed(w, r, er.LedgerIndex)
		out := &fhir.Outcome{}
		out.Add(fhir.Information, "informational", "", "erased %d versions; erase leaf %d", er.Versions, er.LedgerIndex)
		w.Header().Set("Content-Type", fhirJSON)
		w.Write(out.JSON())
		return nil
	}
}

// patientCompartment lists the resources in Patient/id's compartment
// (CompartmentDefinition patient), found through the reference index.
func patientCompartment(tx store.Tx, id string) ([]fhir.Ref, error) {
	seen := map[fhir.Ref]bool{}
	var out []fhir.Ref
	for _, c := range fhir.Compartments() {
		if c.Code != "Patient" {
			continue
		}
		for _, res := range c.Resources {
			for _, param := range res.Params {
				crit, err := search.Parse(res.Type, param, "Patient/"+id)
				if err != nil || crit.Kind != search.Reference {
					continue
				}
				for offset := 0; ; {
					page, err := tx.Search(&store.Query{Types: []string{res.Type}, Criteria: []*search.Criterion{crit}, Count: 1000, Offset: offset})
					if err != nil {
						return nil, err
					}
					for _, m := range page.Matches {
						ref := fhir.Ref{Type: m.Type, ID: m.ID}
						if !seen[ref] {
							seen[ref] = true
							out = append(out, ref)
						}
					}
					if !page.More {
						break
					}
					offset += len(page.Matches)
				}
			}
		}
	}
	return out, nil
}
