package auth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Revocations records revoked tokens. The Verifier consults it for every
// token; an error from Revoked makes verification fail (fail closed).
//
// Implementations must be safe for concurrent use. An entry only needs to
// outlive the tokens it refuses: the jti entry until that token's expiry,
// the subject entry until every token issued before the cut-off has expired
// (before + the verifier's MaxLifetime + clock skew). The in-memory
// implementation serves one instance; several instances sharing a database
// need a shared implementation (e.g. Redis) with the same contract.
type Revocations interface {
	// RevokeToken refuses the token of issuer with this jti until until.
	RevokeToken(ctx context.Context, issuer, jti string, until time.Time) error
	// RevokeSubject refuses tokens of (issuer, subject) issued at or before
	// before, remembering this until until. A later call with an earlier
	// before never lowers the cut-off.
	RevokeSubject(ctx context.Context, issuer, subject string, before, until time.Time) error
	// Revoked reports whether a token is refused.
	Revoked(ctx context.Context, issuer, subject, jti string, issuedAt time.Time) (bool, error)
}

// MemoryRevocations is a Revocations held in memory. Expired entries are
// dropped lazily. The zero value is not usable; call NewMemoryRevocations.
type MemoryRevocations struct {
	now func() time.Time

	mu        sync.Mutex
	tokens    map[[2]string]time.Time  // (issuer, jti) -> until
	subjects  map[[2]string]subjectCut // (issuer, sub) -> cut-off
	lastSweep time.Time
}

type subjectCut struct {
	before, until time.Time
}

// NewMemoryRevocations returns an empty list using the clock now (nil for
// time.Now).
func NewMemoryRevocations(now func() time.Time) *MemoryRevocations {
	if now == nil {
		now = time.Now
	}
	return &MemoryRevocations{
		now:      now,
		tokens:   make(map[[2]string]time.Time),
		subjects: make(map[[2]string]subjectCut),
	}
}

// RevokeToken implements Revocations.
func (m *MemoryRevocations) RevokeToken(_ context.Context, issuer, jti string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{issuer, jti}
	if until.After(m.tokens[k]) {
		m.tokens[k] = until
	}
	m.sweepLocked()
	return nil
}

// RevokeSubject implements Revocations.
func (m *MemoryRevocations) RevokeSubject(_ context.Context, issuer, subject string, before, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{issuer, subject}
	cur := m.subjects[k]
	if before.After(cur.before) {
		cur.before = before
	}
	if until.After(cur.until) {
		cur.until = until
	}
	m.subjects[k] = cur
	m.sweepLocked()
	return nil
}

// Revoked implements Revocations. A token without iat counts as issued
// before any subject cut-off.
func (m *MemoryRevocations) Revoked(_ context.Context, issuer, subject, jti string, issuedAt time.Time) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if until, ok := m.tokens[[2]string{issuer, jti}]; ok && now.Before(until) {
		return true, nil
	}
	if cut, ok := m.subjects[[2]string{issuer, subject}]; ok && now.Before(cut.until) {
		// iat has second precision: a token issued in the same second as
		// the cut-off is refused too.
		if !issuedAt.After(cut.before.Truncate(time.Second)) {
			return true, nil
		}
	}
	return false, nil
}

// Len returns the number of entries held, expired or not.
func (m *MemoryRevocations) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tokens) + len(m.subjects)
}

// sweepLocked drops expired entries, at most once a minute.
func (m *MemoryRevocations) sweepLocked() {
	now := m.now()
	if now.Sub(m.lastSweep) < time.Minute {
		return
	}
	m.lastSweep = now
	for k, until := range m.tokens {
		if !now.Before(until) {
			delete(m.tokens, k)
		}
	}
	for k, c := range m.subjects {
		if !now.Before(c.until) {
			delete(m.subjects, k)
		}
	}
}

// Revoke refuses p's token from now on, until it expires.
func (v *Verifier) Revoke(ctx context.Context, p *Principal) error {
	if v.revocations == nil {
		return errNoRevocations
	}
	return v.revocations.RevokeToken(ctx, p.Issuer, p.JTI, p.Expiry.Add(v.skew))
}

// RevokeSubject refuses every token of (issuer, subject) issued up to now,
// remembering this for as long as such a token could still be valid.
func (v *Verifier) RevokeSubject(ctx context.Context, issuer, subject string) error {
	if v.revocations == nil {
		return errNoRevocations
	}
	now := v.now()
	return v.revocations.RevokeSubject(ctx, issuer, subject, now, now.Add(v.maxLifetime+2*v.skew))
}

var errNoRevocations = errors.New("auth: verifier has no revocation list")
