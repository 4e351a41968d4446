// Package normalize rewrites what different sending systems write into one
// canonical shape (DESIGN.md section 7), and records what it changed.
//
// A Profile describes one sending system. It is read from YAML (one file
// per system, keyed by the token's client_id; see LoadProfiles and the
// examples in testdata/profiles) and layered over the built-in Default
// profile. Profile.Normalize applies a fixed, ordered pipeline of small
// steps to a parsed resource tree (fhir.Parse), each reporting every edit
// as a Change with the FHIRPath of the element, the text before and after,
// and the rule:
//
//  1. extensions: removes extensions the profile denies (URL prefix lists);
//  2. values: maps codes that differ only by spelling or case (per element
//     path, and case folding against required bindings);
//  3. code-systems: rewrites Coding.system OIDs, bare names and old or
//     variant URIs to canonical URIs (R4 code systems from the R4 package,
//     HL7 v2 and v3 tables, LOINC, SNOMED CT, RxNorm, ICD-10(-CM), ICD-9-CM,
//     CPT, CVX, NDC, UCUM, NUCC);
//  4. merge-codings: merges codings of one concept that have the same system
//     and code;
//  5. units: maps Quantity units to UCUM, and converts values only where the
//     profile asks for it;
//  6. identifiers: maps local identifier systems to canonical ones and fills
//     Identifier.type from v2-0203 when the profile gives the type;
//  7. references: makes absolute references to the source's own base local;
//  8. dates: gives local dateTimes the source's UTC offset and writes
//     instants in UTC (source profiles only; see Default for why the
//     default profile keeps instants as sent).
//
// # Profiles
//
// A profile file has these keys, all optional but client_id:
//
//	client_id         the token client_id it applies to
//	name              a human-readable name
//	source            the URI recorded in meta.source and Provenance.agent
//	                  (default base_url, else urn:fhirseal:source:<client_id>)
//	base_url          the source's own FHIR base: references to it are made local
//	time_zone         IANA zone of dateTimes sent without an offset
//	inherit_defaults  build on the default profile's aliases (true)
//	fold_case         fix the case of codes with a required binding (true)
//	utc_instants      write instants in UTC (true)
//	code_systems      alias: canonical URI
//	identifiers       list of {system, aliases, type (v2-0203)}
//	units             aliases (spelling: UCUM), infer_from_display, convert
//	                  (list of {from, to, factor, display, elements})
//	extensions        allow and deny lists of URL prefixes
//	values            element path (as the R4 definitions write it): {from: to}
//
// Profile.Parse reads and normalises one resource; Profile.ParseBundle
// normalises each entry of a batch or transaction Bundle on its own, so
// that each entry's changes read as if the resource had been sent alone.
//
// # Guarantees
//
//   - Idempotence: normalising a canonical resource changes nothing and
//     reports nothing. Every mapping goes straight to a final value (the
//     loader rejects chains), and every canonical value is left alone.
//   - Validity: a resource that passed fhir.Parse still passes it after
//     normalisation. Some input is invalid only until it is normalised (a
//     dateTime without an offset, "M" for a gender); Profile.Parse
//     normalises such input and validates the result again.
//   - Meaning is kept. Units are converted only where a profile asks, with
//     exact decimal arithmetic on the literal text (no digit is lost); codes
//     are rewritten only to the same concept under its canonical name;
//     instants keep their fraction digits; a time that is ambiguous or
//     missing in the source's zone is left alone rather than guessed.
//   - No data is dropped except extensions a profile denies, and elements
//     that held nothing but such extensions. modifierExtension is never
//     removed.
//   - The reported changes list exactly the edits made: each Path names the
//     element as the step found it (after the steps before it ran).
//
// # What it never does
//
// It does no network or file access while normalising (the code system
// table is generated Go code, see systems_gen.go), never invents codes or
// identifiers, never touches contained ("#id") or urn:uuid: references or
// references to other servers, never converts dateTimes that carry an
// offset, and never changes a resource's id or meta except through
// SetSource.
//
// # Provenance
//
// ProvenanceFor records a normalisation as an R4 Provenance: target the
// resource (version-specific when it has meta.versionId), agent the source,
// entity role "source" identified by the SHA-256 of the bytes received, and
// one ChangeExtension per change (sub-extensions path, rule, before,
// after), because R4 has no element for a list of edits. SetSource fills
// meta.source. OutcomeFor lists the changes as an OperationOutcome for the
// $normalize preview.
//
// Profiles are immutable once built and safe for concurrent use.
package normalize
