package server

import (
	"context"
	"sync"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/store"
)

// consentCache holds the materialised consent Policy of every patient with
// Consents on file, so that decisions never parse Consents on the request
// path.
//
// Choice: the policies live in memory, loaded from the store on first use
// and kept current by consentStore, the store wrapper every write of this
// server goes through. A write that touches a Consent locks the policies of
// the patients involved (before and after the write) for the length of its
// transaction: while locked, a policy refuses access as a Consent that
// cannot be understood does (auth.LockedPolicy), and once the transaction
// has committed the policy is recompiled from the store before the write
// returns. So no request is decided on a policy older than an acknowledged
// Consent write, and revocation takes effect when the write returns. The
// cache serves one process; instances sharing a database would need the
// invalidation to travel between them (not done).
type consentCache struct {
	st   store.Store // the unwrapped store
	base string

	mu       sync.RWMutex
	loaded   bool
	policies map[string]*auth.Policy // patient id -> policy; only patients with Consents
	locked   map[string]int          // patient id -> writes in progress
}

func newConsentCache(st store.Store, base string) *consentCache {
	return &consentCache{st: st, base: base, policies: map[string]*auth.Policy{}, locked: map[string]int{}}
}

// load reads every Consent once.
func (c *consentCache) load(ctx context.Context) error {
	c.mu.RLock()
	loaded := c.loaded
	c.mu.RUnlock()
	if loaded {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return nil
	}
	byPatient, err := c.read(ctx, nil)
	if err != nil {
		return err
	}
	for pid, bodies := range byPatient {
		pol, _ := auth.CompilePolicy(pid, c.base, bodies)
		c.policies[pid] = pol
	}
	c.loaded = true
	return nil
}

// read returns the Consent bodies on file, by patient id; crit narrows the
// search (nil: every Consent).
func (c *consentCache) read(ctx context.Context, crit []*search.Criterion) (map[string][][]byte, error) {
	out := map[string][][]byte{}
	q := &store.Query{Types: []string{"Consent"}, Criteria: crit, Count: 1000}
	for {
		page, err := c.st.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, m := range page.Matches {
			cons, err := auth.ParseConsent(m.Body)
			pid := ""
			if err == nil {
				pid = cons.PatientID(c.base)
			} else {
				pid = consentPatient(m.Body, c.base)
			}
			if pid != "" {
				out[pid] = append(out[pid], m.Body)
			}
		}
		if !page.More {
			return out, nil
		}
		q.Offset += len(page.Matches)
	}
}

// consentPatient reads Consent.patient from a body that auth.ParseConsent
// refused, so that a broken Consent still reaches (and locks) its
// patient's policy.
func consentPatient(body []byte, base string) string {
	n, _ := fhir.Parse(body, fhir.Limits{})
	if n == nil {
		return ""
	}
	p := n.First("patient")
	if p == nil {
		return ""
	}
	c := &auth.Consent{Patient: auth.Reference{Reference: p.String("reference")}}
	return c.PatientID(base)
}

// policy returns the patient's policy (a policy without Consents when none
// are on file).
func (c *consentCache) policy(ctx context.Context, pid string) (*auth.Policy, error) {
	if err := c.load(ctx); err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.locked[pid] > 0 {
		return auth.LockedPolicy(pid), nil
	}
	if p := c.policies[pid]; p != nil {
		return p, nil
	}
	p, _ := auth.CompilePolicy(pid, c.base, nil)
	return p, nil
}

// all returns the policy of every patient with Consents on file or being
// written.
func (c *consentCache) all(ctx context.Context) (map[string]*auth.Policy, error) {
	if err := c.load(ctx); err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]*auth.Policy, len(c.policies)+len(c.locked))
	for pid, p := range c.policies {
		out[pid] = p
	}
	for pid, n := range c.locked {
		if n > 0 {
			out[pid] = auth.LockedPolicy(pid)
		}
	}
	return out, nil
}

// empty reports whether no patient has Consents on file or being written.
func (c *consentCache) empty(ctx context.Context) bool {
	if c.load(ctx) != nil {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.policies) == 0 && len(c.locked) == 0
}

func (c *consentCache) lock(pids []string) {
	c.mu.Lock()
	for _, pid := range pids {
		c.locked[pid]++
	}
	c.mu.Unlock()
}

// unlock recompiles the policies of pids from the store and releases the
// locks taken for them. If the store cannot be read the patients stay
// locked, that is denied, until a later write succeeds in reloading them.
func (c *consentCache) unlock(ctx context.Context, pids []string) {
	fresh := map[string]*auth.Policy{}
	ok := true
	for _, pid := range uniq(pids) {
		byPatient, err := c.read(context.WithoutCancel(ctx), []*search.Criterion{search.InCompartments(false, "Patient", pid)})
		if err != nil {
			ok = false
			break
		}
		pol, _ := auth.CompilePolicy(pid, c.base, byPatient[pid])
		if len(byPatient[pid]) == 0 {
			pol = nil
		}
		fresh[pid] = pol
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pid := range pids {
		if ok {
			c.locked[pid]--
			if c.locked[pid] <= 0 {
				delete(c.locked, pid)
			}
		}
	}
	if !ok {
		return
	}
	for pid, pol := range fresh {
		if pol == nil {
			delete(c.policies, pid)
		} else {
			c.policies[pid] = pol
		}
	}
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// consentStore is the store as the server uses it: every write that
// touches a Consent locks and then refreshes the policies of the patients
// it concerns (see consentCache).
type consentStore struct {
	store.Store
	c *consentCache
}

func (s consentStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	var touched []string
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		return fn(consentTx{Tx: tx, c: s.c, touched: &touched})
	})
	if len(touched) > 0 {
		s.c.unlock(ctx, touched)
	}
	return err
}

type consentTx struct {
	store.Tx
	c       *consentCache
	touched *[]string
}

// touch locks the policy of the patient of the current Consent id and of
// the patient named by body (when not nil).
func (tx consentTx) touch(id string, body *fhir.Node) {
	var pids []string
	if cur, err := tx.Tx.Current("Consent", id); err == nil && cur.Body != nil {
		if pid := consentPatient(cur.Body, tx.c.base); pid != "" {
			pids = append(pids, pid)
		}
	}
	if body != nil {
		if pid := consentPatient(fhir.Marshal(body), tx.c.base); pid != "" {
			pids = append(pids, pid)
		}
	}
	tx.c.lock(pids)
	*tx.touched = append(*tx.touched, pids...)
}

func (tx consentTx) Put(res *fhir.Node, ifMatch int64) (*store.Version, error) {
	if res.Type == "Consent" {
		tx.touch(res.ID(), res)
	}
	return tx.Tx.Put(res, ifMatch)
}

func (tx consentTx) Delete(typ, id string, ifMatch int64) (*store.Version, error) {
	if typ == "Consent" {
		tx.touch(id, nil)
	}
	return tx.Tx.Delete(typ, id, ifMatch)
}

func (tx consentTx) Erase(target fhir.Ref, resources []fhir.Ref) (*store.Erasure, error) {
	for _, r := range resources {
		if r.Type == "Consent" {
			tx.touch(r.ID, nil)
		}
	}
	return tx.Tx.Erase(target, resources)
}
