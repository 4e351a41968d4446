package server

import (
	"context"
	"net"
	"net/http"
	"sync"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/store"
)

// Audit records (auth.AuditEvent, IHE BALP shape).
//
// Break-glass is recorded synchronously, through Store.Update and Tx.Put
// like any write, before the data is released: if the security alert
// cannot be stored the request fails. Ordinary accesses to patient data
// and denials are recorded when Config.Audit is set, by a background
// writer that stores them in batches (one store transaction per batch) so
// reads do not wait for a commit; when its queue is full the request
// writes its event itself. The patient entity of each event puts it in the
// patient's compartment, which is how a patient finds who looked at their
// data (AuditEvent?patient=...). Clients never write AuditEvents.

// auditInput fills the facts every event shares.
func (s *Server) auditInput(r *http.Request, in auth.Interaction, status int) auth.AuditInput {
	ai := auth.AuditInput{
		Interaction: in,
		Recorded:    s.cfg.Now(),
		Outcome:     auth.OutcomeForStatus(status),
		Server:      s.cfg.BaseURL,
		RequestID:   requestID(r),
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ai.Address = host
	}
	if p := principalOf(r); p != nil {
		ai.FHIRUser, ai.Subject, ai.Issuer, ai.Client, ai.JTI, ai.Purposes = p.FHIRUser, p.Subject, p.Issuer, p.Client, p.JTI, p.Purposes
	}
	return ai
}

// auditBreakGlass stores a security-alert AuditEvent for an emergency
// override of a consent deny, before the data is released.
func (s *Server) auditBreakGlass(r *http.Request, in auth.Interaction, ref, typ string, patients, consents []string) error {
	ai := s.auditInput(r, in, http.StatusOK)
	ai.BreakGlass = true
	ai.OutcomeDesc = "break-glass override of a consent deny"
	ai.Resource, ai.ResourceType, ai.Consents = ref, typ, consents
	for _, p := range patients {
		if p != "" {
			ai.Patients = append(ai.Patients, p)
		}
	}
	body, err := auth.AuditEvent(ai)
	if err != nil {
		return err
	}
	if err := s.storeAudit(r.Context(), [][]byte{body}); err != nil {
		s.log.Error("break-glass audit not stored; request refused", "request_id", requestID(r), "err", err)
		return &httpError{status: http.StatusInternalServerError, code: "exception", msg: "the access could not be audited"}
	}
	return nil
}

// recordAccess records an access to (or a denial of) patient data when
// auditing is on. Resources outside every Patient compartment are not
// recorded.
func (s *Server) recordAccess(r *http.Request, in auth.Interaction, facts *auth.Resource, d auth.Decision, status int) {
	if !s.cfg.Audit || len(facts.Patients) == 0 {
		return
	}
	ai := s.auditInput(r, in, status)
	if facts.ID != "" {
		ai.Resource = facts.Ref()
	}
	ai.ResourceType, ai.Patients, ai.Consents, ai.OutcomeDesc = facts.Type, facts.Patients, d.Consents, d.Reason
	s.enqueueAudit(r.Context(), ai)
}

// recordSearch records a search that returned patient data.
func (s *Server) recordSearch(r *http.Request, in auth.Interaction, types []string, patients []string) {
	if !s.cfg.Audit || len(patients) == 0 {
		return
	}
	ai := s.auditInput(r, in, http.StatusOK)
	if len(types) == 1 {
		ai.ResourceType = types[0]
	} else {
		ai.ResourceType = "Resource"
	}
	ai.Patients = patients
	s.enqueueAudit(r.Context(), ai)
}

func (s *Server) enqueueAudit(ctx context.Context, ai auth.AuditInput) {
	body, err := auth.AuditEvent(ai)
	if err != nil {
		s.log.Error("audit event not built", "request_id", ai.RequestID, "err", err)
		return
	}
	s.auditOnce.Do(func() {
		s.auditCh = make(chan []byte, 4096)
		go s.auditWriter()
	})
	s.auditWG.Add(1)
	select {
	case s.auditCh <- body:
	default:
		defer s.auditWG.Done()
		if err := s.storeAudit(context.WithoutCancel(ctx), [][]byte{body}); err != nil {
			s.log.Error("audit event not stored", "request_id", ai.RequestID, "err", err)
		}
	}
}

// auditWriter stores queued events in batches.
func (s *Server) auditWriter() {
	for body := range s.auditCh {
		batch := [][]byte{body}
	more:
		for len(batch) < 256 {
			select {
			case b := <-s.auditCh:
				batch = append(batch, b)
			default:
				break more
			}
		}
		if err := s.storeAudit(context.Background(), batch); err != nil {
			s.log.Error("audit events not stored", "count", len(batch), "err", err)
		}
		s.auditWG.Add(-len(batch))
	}
}

// storeAudit writes AuditEvents in one store transaction.
func (s *Server) storeAudit(ctx context.Context, bodies [][]byte) error {
	nodes := make([]*fhir.Node, 0, len(bodies))
	for _, b := range bodies {
		n, out := fhir.Parse(b, fhir.Limits{})
		if n == nil || out.HasErrors() {
			return errBadAudit
		}
		n.Set("id", newID())
		nodes = append(nodes, n)
	}
	return s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		for _, n := range nodes {
			if _, err := tx.Put(n, 0); err != nil {
				return err
			}
		}
		return nil
	})
}

var errBadAudit = &httpError{status: http.StatusInternalServerError, code: "exception", msg: "audit event invalid"}

// FlushAudit waits until every queued AuditEvent has been stored (or
// failed to be).
func (s *Server) FlushAudit() { s.auditWG.Wait() }

// auditState is the background writer's state, embedded in Server.
type auditState struct {
	auditOnce sync.Once
	auditCh   chan []byte
	auditWG   sync.WaitGroup
}
