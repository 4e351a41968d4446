// Drives fhirseal with fhirclient (the SMART on FHIR JavaScript client) in
// Node: a client built from an access token without a launch, then create,
// read, update, JSON Patch, search, history, reference resolution,
// transaction and delete. Run by integration/clients_test.go.

import smart from "fhirclient";
import { Run, assert, env, idFromLocation, patient, rejects, transactionBundle } from "./check.mjs";

const { base, token } = env();
const run = new Run("fhirclient");
const status = (err) => err.status ?? err.statusCode;
const family = "Smart" + Date.now().toString(36);

// The Node adapter wants the incoming HTTP request and response of a web
// app; a client built from a token response never redirects, so stand-ins
// are enough.
const request = { headers: { host: "127.0.0.1" }, url: "/", socket: {} };
const response = { writeHead() {}, end() {} };
const client = smart(request, response).client({ serverUrl: base, tokenResponse: { access_token: token } });

let id, created;

await run.step("client without a token: a read is refused with 401", async () => {
  const anon = smart(request, response).client({ serverUrl: base });
  await rejects(anon.request("Patient/any"), 401, status);
});

await run.step("create Patient: server id and version 1", async () => {
  created = await client.create(patient(family));
  assert.equal(created.resourceType, "Patient");
  assert.equal(created.meta?.versionId, "1");
  id = created.id;
  assert.ok(id, "created Patient has an id");
});

await run.step("read Patient with the response: ETag W/\"1\"", async () => {
  const { body, response: res } = await client.request({ url: `Patient/${id}`, includeResponse: true });
  assert.equal(body.id, id);
  assert.equal(body.name[0].family, family);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("etag"), 'W/"1"');
  assert.match(res.headers.get("content-type"), /^application\/fhir\+json/);
});

await run.step("update: version 2", async () => {
  const body = { ...created, gender: "female" };
  delete body.meta;
  const got = await client.update(body);
  assert.equal(got.meta.versionId, "2");
  assert.equal(got.gender, "female");
});

await run.step("update with a stale If-Match is refused with 412", async () => {
  const body = { ...created, gender: "male" };
  delete body.meta;
  await rejects(client.update(body, { headers: { "if-match": 'W/"1"' } }), 412, status);
});

await run.step("JSON Patch: version 3", async () => {
  await client.patch(`Patient/${id}`, [{ op: "add", path: "/name/0/given/-", value: "Grace" }]);
  const got = await client.request(`Patient/${id}`);
  assert.equal(got.meta.versionId, "3");
  assert.deepEqual(got.name[0].given, ["Ada", "Grace"]);
});

await run.step("search with flat results: Patient?family:exact=...", async () => {
  const found = await client.request(`Patient?family:exact=${family}`, { flat: true });
  assert.deepEqual(
    found.map((r) => r.id),
    [id],
  );
});

await run.step("search Patient?given=Grace&birthdate=1970-01-02 finds it, :not excludes it", async () => {
  const hit = await client.request(`Patient?given=Grace&birthdate=1970-01-02&family=${family}`);
  assert.equal(hit.entry?.length, 1);
  const miss = await client.request(`Patient?family=${family}&gender:not=female`);
  assert.equal(miss.entry?.length ?? 0, 0);
});

await run.step("history: versions 3, 2, 1", async () => {
  const bundle = await client.request(`Patient/${id}/_history`);
  assert.equal(bundle.type, "history");
  assert.deepEqual(
    bundle.entry.map((e) => e.resource.meta.versionId),
    ["3", "2", "1"],
  );
});

await run.step("history _count=1 returns one version", async () => {
  const bundle = await client.request(`Patient/${id}/_history?_count=1`);
  assert.equal(bundle.entry.length, 1);
  assert.equal(bundle.entry[0].resource.meta.versionId, "3");
});

let obsId, txPatientId;
await run.step("transaction: urn:uuid reference rewritten to the new Patient", async () => {
  const body = JSON.stringify(transactionBundle(family + "tx"));
  const headers = { "content-type": "application/fhir+json" };
  // fhirclient posts to BASE/ (with the slash), which the server accepts.
  const resp = await client.request({ url: "/", method: "POST", body, headers });
  assert.equal(resp.type, "transaction-response");
  for (const e of resp.entry) assert.match(e.response.status, /^201/);
  txPatientId = idFromLocation(resp.entry[0].response.location).id;
  obsId = idFromLocation(resp.entry[1].response.location).id;
});

await run.step("resolveReferences: the Observation's subject is the transaction's Patient", async () => {
  const obs = await client.request(`Observation/${obsId}`, { resolveReferences: ["subject"], graph: true });
  assert.equal(obs.subject.resourceType, "Patient");
  assert.equal(obs.subject.id, txPatientId);
  assert.equal(obs.subject.name[0].family, family + "tx");
});

await run.step("delete Patient, then read answers 410 Gone", async () => {
  await client.delete(`Patient/${id}`);
  await rejects(client.request(`Patient/${id}`), 410, status);
});

await run.step("a deleted Patient is no longer found by search (family:exact)", async () => {
  const found = await client.request(`Patient?family:exact=${family}`, { flat: true });
  assert.deepEqual(found, []);
});

run.done();
