// A small assertion harness shared by the client scripts. Each script runs
// its steps in order, stops at the first failing step (later steps depend
// on earlier ones), prints one line per step and exits non-zero on failure.

import assert from "node:assert/strict";

export { assert };

// env returns the server base URL and token the Go test passes in.
export function env() {
  const base = process.env.FHIRSEAL_BASE;
  const token = process.env.FHIRSEAL_TOKEN;
  if (!base || !token) {
    console.error("FHIRSEAL_BASE and FHIRSEAL_TOKEN must be set");
    process.exit(2);
  }
  return { base, token };
}

export class Run {
  constructor(name) {
    this.name = name;
    this.passed = 0;
    this.known = [];
  }

  // step runs fn and records it; a failure ends the script.
  async step(title, fn) {
    try {
      await fn();
    } catch (err) {
      console.log(`FAIL ${title}`);
      console.log(indent(describe(err)));
      console.log(`${this.name}: ${this.passed} steps passed before the failure`);
      process.exit(1);
    }
    this.passed++;
    console.log(`ok   ${title}`);
  }

  done() {
    const known = this.known.length ? `, ${this.known.length} known server issue(s) worked around` : "";
    console.log(`${this.name}: all ${this.passed} steps passed${known}`);
  }
}

// rejects asserts that promise fails with the HTTP status want and returns
// the error.
export async function rejects(promise, want, statusOf) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `request succeeded, want HTTP ${want}`);
  assert.equal(statusOf(err), want, `HTTP status: ${describe(err)}`);
  return err;
}

function describe(err) {
  if (!err) return String(err);
  let s = err.stack || String(err);
  const data = err.response?.data;
  if (data) s += "\nresponse body: " + (typeof data === "string" ? data : JSON.stringify(data));
  return s;
}

function indent(s) {
  return s
    .split("\n")
    .map((l) => "     " + l)
    .join("\n");
}

// patient returns a new Patient with a family name unique to this run.
export function patient(family) {
  return {
    resourceType: "Patient",
    active: true,
    name: [{ family, given: ["Ada"] }],
    birthDate: "1970-01-02",
  };
}

// transactionBundle returns a transaction that creates a Patient and an
// Observation pointing at it through a urn:uuid reference.
export function transactionBundle(family) {
  const pid = "urn:uuid:" + crypto.randomUUID();
  return {
    resourceType: "Bundle",
    type: "transaction",
    entry: [
      {
        fullUrl: pid,
        resource: patient(family),
        request: { method: "POST", url: "Patient" },
      },
      {
        fullUrl: "urn:uuid:" + crypto.randomUUID(),
        resource: {
          resourceType: "Observation",
          status: "final",
          code: { coding: [{ system: "http://loinc.org", code: "8867-4", display: "Heart rate" }] },
          subject: { reference: pid },
          valueQuantity: { value: 72, unit: "beats/minute", system: "http://unitsofmeasure.org", code: "/min" },
        },
        request: { method: "POST", url: "Observation" },
      },
    ],
  };
}

// idFromLocation returns the logical id in a response.location such as
// "Patient/123/_history/1" or an absolute URL ending so.
export function idFromLocation(location) {
  const m = /([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[^/]+)?$/.exec(location || "");
  assert.ok(m, `location ${JSON.stringify(location)} names no resource`);
  return { type: m[1], id: m[2] };
}
