// Package fhir is fhirseal's FHIR R4 model: the spec tables generated from
// the official definitions (spec_gen.go, by fhir/internal/gen), a one-pass
// JSON parser that validates as it reads, the serialiser, and the
// OperationOutcome and error vocabulary every other package uses.
//
// Resources are kept as trees of Nodes, not as Go structs per resource type:
// one code path serves all 145 resource types, driven by the tables.
//
// What it guarantees:
//
//   - Parse reads untrusted JSON within Limits (size, depth, array length,
//     nested resources, issue count) and never panics; duplicate keys and
//     invalid UTF-8 are rejected; a leading byte order mark is ignored with a
//     warning.
//   - Every problem found is reported, not only the first, as an Issue whose
//     Expression is the element's FHIRPath (Patient.name[0].given[1],
//     Observation.value.ofType(Quantity)).
//   - Decimal literals are kept exactly as written (1.50 stays 1.50, 1e2
//     stays 1e2).
//   - Marshal writes elements in StructureDefinition order, compactly;
//     Marshal(Parse(Marshal(n))) equals Marshal(n).
//
// What it checks in Parse: unknown elements, JSON types, cardinality,
// primitive formats (the spec's regular expressions, plus real calendar
// dates), required bindings that the package's value sets enumerate, empty
// strings, objects and arrays, null, choice types given twice, contained
// resources (dom-2 to dom-5), narrative safety (allowed XHTML elements
// and attributes only, no scripts or event handlers, no external images),
// and the rules the specification states in prose (rules.go): Bundle
// fullUrls, link relations, search result entries and references between
// entries; Attachment sizes; absolute Coding systems; core extensions'
// value types (their contexts as warnings); SearchParameters against the
// parameters they derive from; CapabilityStatement search parameter types;
// profile element paths. Extensions the package does not define are
// accepted, as servers must (https://hl7.org/fhir/R4/extensibility.html).
// FHIRPath invariants are evaluated by fhir/fhirpath (CheckInvariants),
// which imports this package.
//
// Parse makes few allocations: the nodes and field lists of a tree come
// from a handful of chunks (arena.go) and its strings are substrings of one
// copy of the input, so a node that is kept keeps that copy (and its chunk)
// in memory.
// Narratives are checked by a scanner that hands anything unusual to
// encoding/xml (xhtml.go).
//
// What it never does: network or file access, or any HTTP concern.
package fhir
