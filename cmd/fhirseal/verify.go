package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/fhirseal/fhirseal/ledger"
	"github.com/fhirseal/fhirseal/store/sqlite"
)

// verify audits a data directory offline (fhirseal verify --data DIR): it
// exits 0 when the store and its ledger agree in every respect and 1 with a
// report naming each finding otherwise.
func verify(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envDefault(getenv, "data", "./fhirseal-data"), "data directory")
	keyText := fs.String("key", "", "checkpoint verifier key text (default: derived from DATA/ledger.key)")
	trustedFile := fs.String("trusted", "", "a signed checkpoint obtained elsewhere that the ledger must contain")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	remote := fs.String("remote", "", "check a running server instead: its FHIR base URL (needs --key)")
	state := fs.String("checkpoint", "", "with --remote: file holding the last checkpoint seen; the new one must extend it")
	version := fs.String("version", "", "with --remote: also check this version's proof, e.g. Patient/123/_history/2")
	token := fs.String("token", envDefault(getenv, "token", ""), "with --remote and --version: bearer token")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *remote != "" {
		if *keyText == "" {
			fmt.Fprintln(stderr, "fhirseal verify: --remote needs --key (the log's verifier key, pinned out of band)")
			return 2
		}
		v, err := note.NewVerifier(strings.TrimSpace(*keyText))
		if err != nil {
			fmt.Fprintf(stderr, "fhirseal verify: --key: %v\n", err)
			return 2
		}
		if err := remoteCheck(*remote, v, *state, *version, *token, stdout); err != nil {
			fmt.Fprintf(stdout, "verification FAILED: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, "verification passed")
		return 0
	}
	v, err := verifier(*data, *keyText)
	if err != nil {
		fmt.Fprintf(stderr, "fhirseal verify: %v\n", err)
		return 2
	}
	var trusted []byte
	if *trustedFile != "" {
		if trusted, err = os.ReadFile(*trustedFile); err != nil {
			fmt.Fprintf(stderr, "fhirseal verify: %v\n", err)
			return 2
		}
	}
	rep, err := sqlite.Verify(context.Background(), filepath.Join(*data, "fhirseal.db"), v, trusted)
	if err != nil {
		fmt.Fprintf(stderr, "fhirseal verify: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		fmt.Fprintf(stdout, "tree size %d, %d leaves, %d nodes, %d versions (%d erased), %d checkpoints\n",
			rep.TreeSize, rep.Leaves, rep.Nodes, rep.Versions, rep.Erased, rep.Checkpoints)
		for _, f := range rep.Findings {
			fmt.Fprintf(stdout, "FAIL %s: index %d %s: %s\n", f.Kind, f.Index, f.Resource, f.Message)
		}
	}
	if !rep.OK() {
		if !*asJSON {
			fmt.Fprintf(stdout, "verification FAILED: %d findings\n", len(rep.Findings))
		}
		return 1
	}
	if !*asJSON {
		fmt.Fprintln(stdout, "verification passed")
	}
	return 0
}

// verifier returns the checkpoint verifier: from the key text given, or
// from the signing key file in the data directory.
func verifier(data, keyText string) (note.Verifier, error) {
	if keyText != "" {
		return note.NewVerifier(strings.TrimSpace(keyText))
	}
	b, err := os.ReadFile(filepath.Join(data, "ledger.key"))
	if err != nil {
		return nil, fmt.Errorf("no --key given and %w", err)
	}
	k, err := ledger.ParseSignerKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, err
	}
	return k.Verifier, nil
}
