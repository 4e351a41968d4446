package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientsDir holds the Node side of TestRealClients: package.json, the
// committed package-lock.json and one script per client library.
const clientsDir = "clients"

// TestRealClients drives the server with real FHIR client libraries from
// npm (fhir-kit-client and fhirclient). Each script in clients/ runs its
// steps against a fresh server and exits non-zero on the first failed
// assertion; its output is the failure message.
func TestRealClients(t *testing.T) {
	needBinary(t)
	node, npm := needNode(t)
	installClients(t, npm)

	p := start(t, t.TempDir())
	defer p.stop()

	scripts := []struct {
		name, file string
	}{
		{"fhir-kit-client", "fhir-kit-client.mjs"},
		{"fhirclient", "fhirclient.mjs"},
	}
	for _, s := range scripts {
		t.Run(s.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, s.file)
			cmd.Dir = clientsDir
			cmd.Env = append(os.Environ(), "FHIRSEAL_BASE="+p.base, "FHIRSEAL_TOKEN="+p.token)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node %s: %v\n%s", s.file, err, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "KNOWN ISSUE ") {
					t.Logf("worked around a known server issue: %s", strings.TrimPrefix(line, "KNOWN ISSUE "))
				}
			}
			t.Logf("node %s:\n%s", s.file, out)
		})
	}
}

// TestClientsLockfile checks that the committed lock file names no host:
// no registry URLs in "resolved" fields (.npmrc sets
// omit-lockfile-registry-resolved) and no funding links
// (strip-lockfile.mjs removes them), and that every dependency is pinned
// to an exact version.
func TestClientsLockfile(t *testing.T) {
	lock, err := os.ReadFile(filepath.Join(clientsDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`"resolved"`, "://"} {
		if i := bytes.Index(lock, []byte(bad)); i >= 0 {
			t.Errorf("package-lock.json contains %q at byte %d: regenerate it with `npm run relock` in integration/clients", bad, i)
		}
	}
	pkg, err := os.ReadFile(filepath.Join(clientsDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, loose := range []string{`"^`, `"~`, `"*"`, `"latest"`} {
		if bytes.Contains(pkg, []byte(loose)) {
			t.Errorf("package.json has a version range (%s); pin exact versions", loose)
		}
	}
}

// needNode returns the paths of node and npm. Without them the test skips,
// except under CI, where it fails.
func needNode(t *testing.T) (node, npm string) {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		msg := "node and npm are needed to run the npm FHIR clients (apt-get install nodejs npm)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, npm
}

// installClients runs `npm ci` in clients/ when node_modules is missing.
// npm ci installs exactly what package-lock.json records.
func installClients(t *testing.T, npm string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(clientsDir, "node_modules")); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = clientsDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm ci in integration/%s: %v\n%s", clientsDir, err, out)
	}
}
