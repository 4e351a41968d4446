package integration

import (
	"crypto/rand"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TestRemoteVerify checks a running server with fhirseal verify --remote:
// checkpoint signature, consistency with a saved checkpoint across new
// writes, and one version's inclusion proof.
func TestRemoteVerify(t *testing.T) {
	needBinary(t)
	data := t.TempDir()
	p := start(t, data)
	defer p.stop()
	c := &http.Client{Timeout: 10 * time.Second}
	put := func(id string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", p.base+"/Patient/"+id, strings.NewReader(`{"resourceType":"Patient","id":"`+id+`"}`))
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Authorization", "Bearer "+p.token)
		req.Header.Set("Prefer", "ledger-proof")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 201 && res.StatusCode != 200 {
			t.Fatalf("PUT %s: %d", id, res.StatusCode)
		}
	}
	put("r1")
	res, err := c.Get("http://" + p.addr + "/ledger/key")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := io.ReadAll(res.Body)
	res.Body.Close()
	state := filepath.Join(t.TempDir(), "checkpoint")
	run := func() string {
		t.Helper()
		out, err := exec.Command(binary, "verify", "--remote", p.base, "--key", strings.TrimSpace(string(key)),
			"--checkpoint", state, "--version", "Patient/r1/_history/1", "--token", p.token).CombinedOutput()
		if err != nil {
			t.Fatalf("verify --remote: %v\n%s", err, out)
		}
		return string(out)
	}
	run()
	put("r2")
	put("r3")
	out := run()
	if !strings.Contains(out, "consistent with the saved checkpoint") || !strings.Contains(out, "sealed at ledger index 0") {
		t.Errorf("verify --remote output:\n%s", out)
	}
	// A checkpoint signed by another key is refused.
	_, other, err := note.GenerateKey(rand.Reader, "fhirseal.test/fhir")
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := exec.Command(binary, "verify", "--remote", p.base, "--key", other).CombinedOutput()
	if !strings.Contains(string(bad), "FAILED") {
		t.Errorf("verify --remote with another key did not fail:\n%s", bad)
	}
}
