// Package integration holds black-box tests: the real fhirseal binary,
// started as a process on a loopback port. They run when
// FHIRSEAL_INTEGRATION is set (scripts/test sets it) and skip otherwise.
package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var binary string

// publicBase is the base URL the test servers announce.
const publicBase = "http://fhirseal.test/fhir"

func TestMain(m *testing.M) {
	if os.Getenv("FHIRSEAL_INTEGRATION") == "" {
		fmt.Println("integration tests skipped: set FHIRSEAL_INTEGRATION=1")
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "fhirseal-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "fhirseal")
	out, err := exec.Command("go", "build", "-o", binary, "../cmd/fhirseal").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needBinary(t *testing.T) {
	t.Helper()
	if binary == "" {
		t.Skip("set FHIRSEAL_INTEGRATION=1 to run integration tests")
	}
}

// freePort returns a loopback address nobody listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// proc is a running fhirseal.
type proc struct {
	cmd   *exec.Cmd
	addr  string
	base  string
	token string // the administrator token written on first start
}

// start runs `fhirseal serve` on data and waits until it answers.
func start(t *testing.T, data string, extra ...string) *proc {
	t.Helper()
	addr := freePort(t)
	// The public base URL names the log (its origin) and is the tokens'
	// audience, so it stays the same across restarts on other ports.
	args := append([]string{"serve", "--addr", addr, "--data", data, "--base-url", publicBase}, extra...)
	cmd := exec.Command(binary, args...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			if strings.Contains(s.Text(), `"level":"ERROR"`) {
				t.Logf("server: %s", s.Text())
			}
		}
	}()
	p := &proc{cmd: cmd, addr: addr, base: "http://" + addr + "/fhir"}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
			if err != nil {
				cmd.Process.Kill()
				t.Fatalf("no administrator token after start: %v", err)
			}
			p.token = strings.TrimSpace(string(tok))
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatalf("fhirseal did not start on %s", addr)
	return nil
}

func (p *proc) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

func (p *proc) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		p.kill()
	}
}

// do sends a request with the administrator token.
func (p *proc) do(c *http.Client, method, path, body string) (*http.Response, error) {
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	return c.Do(req)
}
