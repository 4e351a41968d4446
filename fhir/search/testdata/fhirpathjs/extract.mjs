// Evaluates search parameter expressions with fhirpath.js, HL7's reference
// FHIRPath engine, and the R4 model, for fhir/search's differential test
// (differential_test.go).
//
//	node [--harmony-json-parse-with-source] extract.mjs jobs.json
//
// jobs.json holds {"jobs": [{"file", "expression", "components"?}]}: the
// path of a resource's JSON file and a FHIRPath expression. For a composite
// search parameter, "components" lists the component expressions, which are
// evaluated on each result of "expression".
//
// The output is one JSON array with an entry per job, in order:
//
//	{"results": [item...]}              a plain expression
//	{"rows": [[[item...], ...], ...]}   a composite: per result, per component
//	{"error": "message"}                the engine threw
//
// where an item is {"type": "FHIR.CodeableConcept", "value": <JSON>} with
// the FHIRPath type of the result (fhirpath.types) and its JSON value, plus
// "ext" with the id and extensions of a primitive. %resource and
// %rootResource are the resource of the file.
// Decimals are written with the literal text of the source file when Node
// offers JSON.parse source text access (the V8 flag above), so that "1.50"
// stays "1.50"; the first line of stderr says which applies.
//
// resolve() is the one function given an implementation here. fhirpath.js
// resolves references only asynchronously, by fetching them from a server;
// search parameter expressions use it for "resolve() is Type" type tests,
// which R4 answers from the reference itself (search.html#reference: the
// target type of a literal reference is the type in its URL). This resolve()
// therefore returns, for a literal reference ("Type/id", or an absolute URL
// ending in Type/id, optionally followed by /_history/version), a resource
// of that type carrying only the id; and for "#id" the contained resource
// of the resource being evaluated.
import { readFileSync } from "node:fs";
import fhirpath from "fhirpath";
import r4 from "fhirpath/fhir-context/r4";

// sources maps a parsed JSON object or array to the literal text of its
// numeric members, by key.
const sources = new WeakMap();
const sourceAccess = JSON.parse("[1.50]", (k, v, c) => (k === "0" ? c?.source : v))[0] === "1.50";
process.stderr.write(`decimal literals: ${sourceAccess ? "exact source text" : "JavaScript numbers"}\n`);

function parseWithSources(text) {
  if (!sourceAccess) return JSON.parse(text);
  return JSON.parse(text, function (key, value, context) {
    if (typeof value === "number" && context?.source !== undefined) {
      let m = sources.get(this);
      if (!m) sources.set(this, (m = new Map()));
      m.set(key, context.source);
    }
    return value;
  });
}

// write serialises a JSON value, taking numbers' text from holder's
// sources.
function write(v, holder, key) {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number") return sources.get(holder)?.get(String(key)) ?? JSON.stringify(v);
  if (typeof v === "bigint") return v.toString();
  if (typeof v !== "object") return JSON.stringify(v);
  if (typeof v.toJSON === "function") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map((x, i) => write(x, v, i)).join(",") + "]";
  const parts = [];
  for (const k of Object.keys(v)) parts.push(JSON.stringify(k) + ":" + write(v[k], v, k));
  return "{" + parts.join(",") + "}";
}

// item serialises one result with its type.
function item(node, type) {
  let value;
  if (node && typeof node === "object" && "data" in node && "parentResNode" in node) {
    // A ResourceNode: write its data; a primitive number takes its text from
    // the parent's sources.
    let data = node.data;
    const parent = node.parentResNode?.data;
    if (typeof data === "object" && data !== null && typeof data.toJSON === "function" && parent) {
      // A decimal (FP_Decimal): the parent object (or array) holds its text.
      let holder = parent, key = node.propName;
      if (!(key in parent) && node.fhirNodeDataType) {
        // A choice element: propName is "value", the JSON name "valueDecimal".
        key += node.fhirNodeDataType[0].toUpperCase() + node.fhirNodeDataType.slice(1);
      }
      if (node.index !== null && node.index !== undefined && Array.isArray(parent[key])) {
        holder = parent[key];
        key = node.index;
      }
      const text = sources.get(holder)?.get(String(key));
      value = text ?? JSON.stringify(data);
    } else {
      value = write(data, null, null);
    }
    const ext = node._data ? write(node._data, null, null) : null;
    return `{"type":${JSON.stringify(type)},"value":${value}${ext ? `,"ext":${ext}` : ""}}`;
  }
  return `{"type":${JSON.stringify(type)},"value":${write(fhirpath.resolveInternalTypes(node), null, null)}}`;
}

function typeFromReference(ref) {
  const i = ref.indexOf("/_history/");
  if (i >= 0) ref = ref.slice(0, i);
  const parts = ref.split("/");
  if (parts.length < 2) return null;
  const [type, id] = parts.slice(-2);
  if (!/^[A-Z][A-Za-z]+$/.test(type) || !/^[A-Za-z0-9\-.]{1,64}$/.test(id)) return null;
  if (!isResourceType(type)) return null;
  return { resourceType: type, id };
}

function isResourceType(type) {
  for (let t = type; t; t = r4.type2Parent[t]) if (t === "Resource") return type !== "Resource";
  return false;
}

let current = null; // the resource being evaluated, for "#id"

// ResourceNode is fhirpath.js's class of typed nodes, which the library
// does not export; resolve() must return its instances for "is" to see a
// resource's type.
const ResourceNode = fhirpath.evaluate({ resourceType: "Basic" }, "%context", null, r4, { resolveInternalTypes: false })[0].constructor;

const resolve = {
  internalStructures: true, // call fn with ResourceNodes and the context as this
  fn(inputs) {
    const ctx = this;
    const out = [];
    for (const n of inputs) {
      const v = fhirpath.util.valData(n);
      const ref = typeof v === "string" ? v : v?.reference;
      if (typeof ref !== "string" || ref === "") continue;
      if (ref.startsWith("#")) {
        const c = (current?.contained ?? []).find((r) => r.id === ref.slice(1));
        if (c) out.push(ResourceNode.makeResNode(ctx, c, null, null, null, null));
        continue;
      }
      const r = typeFromReference(ref);
      if (r) out.push(ResourceNode.makeResNode(ctx, r, null, null, null, null));
    }
    return out;
  },
};

const options = { resolveInternalTypes: false, userInvocationTable: { resolve } };

// evaluate evaluates expression on base (the resource, or a result for a
// composite's component) with %resource and %rootResource set to the
// resource, as FHIR defines them (fhirpath.html#vars).
function evaluate(base, expression) {
  const vars = { resource: current, rootResource: current };
  const res = fhirpath.evaluate(base, expression, vars, r4, options);
  const types = fhirpath.types(res);
  return res.map((n, i) => ({ node: n, type: types[i] }));
}

const { jobs } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const files = new Map();
const out = [];
for (const job of jobs) {
  let res = files.get(job.file);
  if (!res) {
    res = parseWithSources(readFileSync(job.file, "utf8"));
    files.clear(); // jobs come grouped by file
    files.set(job.file, res);
  }
  current = res;
  try {
    const results = evaluate(res, job.expression);
    if (!job.components) {
      out.push(`{"results":[${results.map((r) => item(r.node, r.type)).join(",")}]}`);
      continue;
    }
    const rows = results.map((r) =>
      "[" + job.components.map((c) => "[" + evaluate(r.node, c).map((x) => item(x.node, x.type)).join(",") + "]").join(",") + "]",
    );
    out.push(`{"rows":[${rows.join(",")}]}`);
  } catch (e) {
    out.push(JSON.stringify({ error: String(e?.message ?? e) }));
  }
}
process.stdout.write("[" + out.join(",\n") + "]\n");
