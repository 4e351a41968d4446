// Drives fhirseal with fhir-kit-client: capabilities, create, read, vread,
// update (with If-Match), JSON Patch, search, history, transaction, batch
// and delete. Run by integration/clients_test.go.

import { Client } from "fhir-kit-client";
import { Run, assert, env, idFromLocation, patient, rejects, transactionBundle } from "./check.mjs";

const { base, token } = env();
const client = new Client({ baseUrl: base, bearerToken: token });
const run = new Run("fhir-kit-client");
const status = (err) => err.response?.status;
const header = (result, name) => Client.httpFor(result).response?.headers.get(name);
const family = "Kit" + Date.now().toString(36);

let created, id;

await run.step("capabilityStatement: R4 CapabilityStatement without a token", async () => {
  const anon = new Client({ baseUrl: base });
  const cs = await anon.capabilityStatement();
  assert.equal(cs.resourceType, "CapabilityStatement");
  assert.equal(cs.fhirVersion, "4.0.1");
});

await run.step("a request without a token is refused with 401", async () => {
  const anon = new Client({ baseUrl: base });
  await rejects(anon.read({ resourceType: "Patient", id: "any" }), 401, status);
});

await run.step("create Patient: 201, server id, version 1, ETag", async () => {
  created = await client.create({ resourceType: "Patient", body: patient(family) });
  assert.equal(created.resourceType, "Patient");
  assert.match(created.id, /^[A-Za-z0-9\-.]{1,64}$/);
  assert.equal(created.meta?.versionId, "1");
  assert.ok(created.meta?.lastUpdated, "meta.lastUpdated is set");
  assert.equal(Client.httpFor(created).response.status, 201);
  assert.equal(header(created, "etag"), 'W/"1"');
  id = created.id;
  assert.equal(idFromLocation(header(created, "location").replace(/\/_history\/.*$/, "")).id, id);
});

await run.step("read Patient: same content, ETag and Last-Modified", async () => {
  const got = await client.read({ resourceType: "Patient", id });
  assert.equal(got.id, id);
  assert.equal(got.name[0].family, family);
  assert.equal(got.birthDate, "1970-01-02");
  assert.equal(header(got, "etag"), 'W/"1"');
  assert.ok(header(got, "last-modified"), "Last-Modified header");
});

await run.step("update with If-Match W/\"1\": version 2", async () => {
  const body = { ...created, active: false };
  delete body.meta;
  const got = await client.update({ resourceType: "Patient", id, body, options: { headers: { "If-Match": 'W/"1"' } } });
  assert.equal(got.meta.versionId, "2");
  assert.equal(got.active, false);
  assert.equal(Client.httpFor(got).response.status, 200);
});

await run.step("update with a stale If-Match is refused with 412", async () => {
  const body = { ...created, active: true };
  await rejects(
    client.update({ resourceType: "Patient", id, body, options: { headers: { "If-Match": 'W/"1"' } } }),
    412,
    status,
  );
});

await run.step("vread version 1 still holds the first content", async () => {
  const got = await client.vread({ resourceType: "Patient", id, version: "1" });
  assert.equal(got.meta.versionId, "1");
  assert.equal(got.active, true);
});

await run.step("JSON Patch: version 3", async () => {
  const got = await client.patch({
    resourceType: "Patient",
    id,
    jsonPatch: [{ op: "replace", path: "/birthDate", value: "1970-01-03" }],
  });
  const now = await client.read({ resourceType: "Patient", id });
  assert.equal(now.meta.versionId, "3");
  assert.equal(now.birthDate, "1970-01-03");
  if (got.resourceType === "Patient") assert.equal(got.birthDate, "1970-01-03");
});

await run.step("search Patient?family=...&_total=accurate finds it", async () => {
  const bundle = await client.search({ resourceType: "Patient", searchParams: { family, _total: "accurate" } });
  assert.equal(bundle.resourceType, "Bundle");
  assert.equal(bundle.type, "searchset");
  assert.equal(bundle.total, 1);
  assert.deepEqual(
    bundle.entry.map((e) => e.resource.id),
    [id],
  );
  assert.equal(bundle.entry[0].search?.mode, "match");
});

await run.step("instance history: three versions, newest first", async () => {
  const bundle = await client.history({ resourceType: "Patient", id });
  assert.equal(bundle.type, "history");
  assert.deepEqual(
    bundle.entry.map((e) => e.resource?.meta?.versionId),
    ["3", "2", "1"],
  );
});

await run.step("type history includes the Patient", async () => {
  const bundle = await client.typeHistory({ resourceType: "Patient" });
  assert.equal(bundle.type, "history");
  assert.ok(bundle.entry.some((e) => e.resource?.id === id), "Patient in type history");
});

let obsId, txPatientId;
await run.step("transaction: urn:uuid reference rewritten to the new Patient", async () => {
  const body = transactionBundle(family + "tx");
  const resp = await client.transaction({ body });
  assert.equal(resp.type, "transaction-response");
  assert.equal(resp.entry.length, 2);
  for (const e of resp.entry) assert.match(e.response.status, /^201/);
  txPatientId = idFromLocation(resp.entry[0].response.location).id;
  obsId = idFromLocation(resp.entry[1].response.location).id;
  const obs = await client.read({ resourceType: "Observation", id: obsId });
  assert.equal(obs.subject.reference, `Patient/${txPatientId}`);
  assert.equal(obs.valueQuantity.value, 72);
});

await run.step("batch: entries succeed or fail on their own", async () => {
  const body = {
    resourceType: "Bundle",
    type: "batch",
    entry: [
      { request: { method: "GET", url: `Patient/${txPatientId}` } },
      { request: { method: "GET", url: "Patient/no-such-patient" } },
      { request: { method: "GET", url: `Observation?subject=Patient/${txPatientId}` } },
    ],
  };
  const resp = await client.batch({ body });
  assert.equal(resp.type, "batch-response");
  assert.match(resp.entry[0].response.status, /^200/);
  assert.equal(resp.entry[0].resource.id, txPatientId);
  assert.match(resp.entry[1].response.status, /^404/);
  assert.match(resp.entry[2].response.status, /^200/);
  assert.equal(resp.entry[2].resource.entry?.[0]?.resource?.id, obsId);
});

await run.step("delete Patient, then read answers 410 Gone", async () => {
  await client.delete({ resourceType: "Patient", id });
  await rejects(client.read({ resourceType: "Patient", id }), 410, status);
});

await run.step("history after delete: the tombstone is the newest entry", async () => {
  const bundle = await client.history({ resourceType: "Patient", id });
  assert.equal(bundle.entry.length, 4);
  assert.equal(bundle.entry[0].request?.method, "DELETE");
  assert.equal(bundle.entry[0].resource, undefined);
});

await run.step("read of an unknown id answers 404", async () => {
  await rejects(client.read({ resourceType: "Patient", id: "does-not-exist" }), 404, status);
});

run.done();
