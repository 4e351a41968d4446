// Package fhirpath implements FHIRPath (the normative release used by FHIR
// R4, http://hl7.org/fhirpath/N1) over the resource trees of package fhir,
// with the FHIR additions of https://hl7.org/fhir/R4/fhirpath.html.
//
// # Use
//
// Compile parses an expression once; the resulting *Expr is immutable and
// may be evaluated any number of times, concurrently:
//
//	x, err := fhirpath.Compile("Observation.value.ofType(Quantity).value")
//	out, err := x.Evaluate(resource, &fhirpath.Options{...})
//
// A result is a Collection of Values: Element for nodes of the tree (they
// keep their FHIR type) and Boolean, Integer, Decimal, String, Date,
// DateTime, Time and Quantity for System values. AppendJSON renders a
// result as the JSON printed by "fhirseal fhirpath", whose entry point is
// Run. CheckInvariants evaluates every StructureDefinition constraint
// that applies to a resource.
//
// # What is supported
//
//   - The whole grammar: literals (including quantities with UCUM units or
//     calendar keywords, partial dates and times), delimited identifiers,
//     comments, %variables, $this/$index/$total, all operators with the
//     specification's precedence, three-valued logic, and singleton
//     evaluation of collections. Syntax errors carry the byte offset.
//   - Every function of the specification's list, the FHIR additions
//     (extension, hasValue, getValue, resolve, memberOf, conformsTo,
//     htmlChecks; elementDefinition and slice return empty) and the
//     functions of later FHIRPath versions that the R4 test suite uses
//     (sort, lowBoundary, highBoundary, precision, comparable, matchesFull,
//     encode, decode, escape, unescape, split, join, trim, type).
//   - Types: is, as and ofType with FHIR (FHIR.x) and System (System.x)
//     names; "is" follows the FHIR type hierarchy (a code is a string, an Age
//     a Quantity), "as" and ofType() match primitives exactly. Choice
//     elements are navigated by their FHIRPath name (value, not
//     valueQuantity).
//   - Decimals are exact (math/big) and keep their scale: 1.50 stays 1.50,
//     division is exact to 16 digits after the point.
//   - Dates, dateTimes and times keep their precision; comparing values of
//     different precision, or a value with a time zone and one without,
//     gives empty. Arithmetic with calendar durations follows the
//     specification (1 month from January 31 is February 28/29; 'a' and
//     'mo' cannot be added to dates).
//   - Quantities compare and add across comparable UCUM units (a small UCUM
//     engine: metric prefixes, products, quotients, exponents, annotations,
//     and the mass, length, volume, time, amount, pressure and arbitrary
//     units of clinical data); calendar years and months are not equal to
//     'a' and 'mo'.
//   - %resource, %rootResource, %context, %ucum, %sct, %loinc, %vs-name,
//     %ext-name and caller variables (Options.Variables). resolve() finds
//     contained resources and Bundle entries itself, and anything else
//     through Options.Resolve; memberOf() uses Options.MemberOf or the
//     required bindings of the R4 tables.
//
// # Deviations
//
//   - Integer arithmetic that leaves the 32-bit range gives empty.
//   - Regular expressions use Go's RE2 syntax (no backreferences or
//     lookaround) with "." matching newlines.
//   - An element name that the input's type does not define gives empty,
//     as in most engines; Options.Strict makes it an error. The JSON name
//     of a choice element (valueQuantity) is always an error.
//   - "as" on a collection of several items is an error, as FHIRPath N1
//     says; the R4 specification's own expressions (search parameters,
//     dom-3) expect it to filter, which Options.LenientAs allows and
//     CheckInvariants turns on.
//   - conformsTo() knows the base resource and type profiles only;
//     htmlChecks() is true because fhir.Parse already checks narrative.
//
// # Limits
//
// Compile rejects expressions nested more than 200 levels deep. Evaluation
// is bounded by Options.Limits (DefaultLimits when zero): nesting depth of
// function calls, size of any intermediate collection, number of
// evaluation steps and wall-clock time. Exceeding a limit returns an error wrapping ErrLimit; no
// expression panics (an internal failure is returned as an error).
package fhirpath
