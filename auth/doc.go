// Package auth decides who may do what to which FHIR data: it verifies
// bearer tokens, interprets SMART on FHIR scopes, evaluates the patient's
// own Consent resources, and describes every access as an AuditEvent.
//
// Everything here is pure logic apart from two small pieces of I/O: the
// local issuer's key file (LoadOrCreateIssuer) and the JWKS fetches of
// external issuers (Verifier). There are no HTTP handlers and no storage:
// the server passes facts in and gets decisions out.
//
// # Where each check happens
//
//  1. Token -> Principal (Verifier.Verify). The token is refused before
//     decoding when larger than 16 KiB; then the JOSE header must name ES256,
//     RS256 or EdDSA (never "none" or HMAC), have typ absent, "JWT" or
//     "at+jwt", and no crit; the issuer must be the local issuer or a
//     configured external one (whose JWKS is fetched with keyfunc, refreshed
//     hourly, and re-fetched for an unknown kid at most every five minutes;
//     external tokens must name their key with kid);
//     the signature must verify with that issuer's key of the right type
//     (RSA keys of at least 2048 bits, P-256 for ES256); exp and iat are
//     required, nbf honoured, within a bounded clock skew (60 s by default);
//     aud must be exactly the server's base URL; sub and jti are required
//     (RFC 9068); the lifetime exp - iat is bounded; finally the revocation
//     list is asked, by jti and by a per-subject cut-off time.
//  2. Scopes (Allow). SMART App Launch v1 and v2 scopes, including
//     granular ones, are parsed strictly; a scope that is not understood
//     grants nothing. patient/ scopes pin the Patient compartment of the
//     token's patient claim and grant nothing without it; user/ scopes need
//     fhirUser. Scopes only add: a granular scope is an extra, narrower
//     grant, never a widening of another. See
//     https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html.
//  3. Consent (Policy, Filter, Authorize). The patient's active Consents
//     with scope patient-privacy are compiled into a Policy, stored beside
//     the Consents. For a request the Policy is compiled for the caller,
//     action and time into a Filter: Deny and Permit clauses over resource
//     type, security labels, codes, data period and named resources. A
//     search turns the Filter into query conditions (Filter.Restriction:
//     hidden types, labels and instances, or the only visible types, and
//     whether that form is exact; a search must refuse what is not); every
//     resource returned or written passes Filter.Check (or Authorize)
//     again. See https://hl7.org/fhir/R4/consent.html.
//  4. Audit (AuditEvent). Every access and denial is described as an
//     AuditEvent in the IHE BALP shape, with the patient as an entity so a
//     patient can find the events about them.
//
// # Consent semantics
//
// A provision applies when all its conditions hold (actor, action, purpose,
// period, class, code, security label, data period, data). A nested
// provision is an exception to its parent: it applies when the parent
// applies and its own conditions hold, and its type then overrides the
// parent's. Siblings that disagree, and Consents that disagree, resolve
// deny-overrides. A root provision without a type takes the Consent's base
// policy from policyRule (v3 ActCode OPTIN/OPTINR permit, OPTOUT/OPTOUTE
// deny), which also applies where the root provision does not. A Consent is
// in force only with status active and within its root provision's period.
// When no Consent decides, the configured default applies; resources
// labelled restricted or very restricted (v3 Confidentiality R, V) or with
// a sensitive category label (DefaultSensitiveLabels) additionally need a
// permit that names the label to be read (labels guard disclosure: writing
// labelled data is decided by the provisions alone). Actors match by
// reference against the caller's fhirUser, organisation and groups; an
// actor without a reference matches by role.
//
// # Fail closed
//
// Anything not understood denies: an invalid scope grants nothing; a
// patient/ scope without a patient claim grants nothing; an active Consent
// that cannot be parsed denies all access to that patient's data (except
// the patient's own and break-glass), and so does the policy of a patient
// whose Consents are being written (LockedPolicy); a code the evaluator
// cannot interpret makes a deny provision apply and a permit provision not
// apply; facts the server does not supply about a resource (codes, dates,
// references) are resolved the same way; a revocation list that errors
// refuses the token; a consent token is only as good as its Consent at the
// moment of use (ConsentTokenValid).
//
// Break-glass is the one deliberate exception: a caller whose token carries
// purpose ETREAT or BTG and whose scopes allow the interaction gets past a
// consent deny, and the decision says so (BreakGlass) so that the server
// records a security-alert AuditEvent. Consent tokens cannot break glass.
//
// The patient's own access (fhirUser is the Patient) is never restricted by
// their Consents. The administrator flag of local tokens (Principal.Admin)
// is for administrative operations; it bypasses neither scopes nor
// Consents.
package auth
