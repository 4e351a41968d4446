package server_test

import "testing"

// TestFHIRPathPatch patches through the API with a FHIRPath Patch
// document: applied and versioned like an update, refused with 412 on a
// stale If-Match, 422 when the result is invalid or the patch does not
// apply, 400 when the document is not a Parameters resource; a refused
// patch changes nothing.
func TestFHIRPathPatch(t *testing.T) {
	ts := newServer(t)
	want(t, do(t, ts, "PUT", "/fhir/Patient/p", `{"resourceType":"Patient","id":"p","name":[{"family":"Old"}],"active":true}`), 201, "put")
	op := func(parts string) string {
		return `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[` + parts + `]}]}`
	}
	patch := func(body string, hdr ...string) resp {
		t.Helper()
		return do(t, ts, "PATCH", "/fhir/Patient/p", body, hdr...)
	}
	r := patch(op(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.name[0].family"},{"name":"value","valueString":"New"}`), "If-Match", `W/"1"`)
	want(t, r, 200, "replace")
	names, _ := r.body["name"].([]any)
	if len(names) != 1 || names[0].(map[string]any)["family"] != "New" || r.header.Get("ETag") != `W/"2"` {
		t.Errorf("patched = %s (ETag %s)", r.raw, r.header.Get("ETag"))
	}
	want(t, patch(op(`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.active"}`), "If-Match", `W/"1"`), 412, "stale If-Match")
	want(t, patch(op(`{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"gender"},{"name":"value","valueCode":"robot"}`)), 422, "invalid result")
	want(t, patch(op(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.id"},{"name":"value","valueString":"q"}`)), 422, "patch of id")
	want(t, patch(op(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueDate":"2000-01-01"}`)), 422, "replace of nothing")
	want(t, patch(`{"resourceType":"Patient","id":"p"}`), 400, "not a Parameters resource")
	r = patch(op(`{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name"},{"name":"index","valueInteger":0},{"name":"value","valueHumanName":{"family":"First"}}`))
	want(t, r, 200, "insert")
	if names, _ := r.body["name"].([]any); len(names) != 2 || names[0].(map[string]any)["family"] != "First" || r.header.Get("ETag") != `W/"3"` {
		t.Errorf("inserted = %s (ETag %s)", r.raw, r.header.Get("ETag"))
	}
}
