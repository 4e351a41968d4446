package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"golang.org/x/mod/sumdb/note"

	"github.com/fhirseal/fhirseal/ledger"
)

// remoteCheck verifies a running server without trusting it: the latest
// checkpoint's signature (with the pinned key), its consistency with the
// checkpoint saved in stateFile (which is then updated), and, when version
// is set ("Type/id/_history/vid"), that version's inclusion proof.
func remoteCheck(base string, v note.Verifier, stateFile, version, token string, stdout io.Writer) error {
	base = strings.TrimSuffix(base, "/")
	root := strings.TrimSuffix(base, "/fhir")
	c := &http.Client{Timeout: 30 * time.Second}
	latest, err := fetch(c, root+"/ledger/checkpoint", "")
	if err != nil {
		return err
	}
	cp, err := ledger.OpenCheckpoint(latest, v)
	if err != nil {
		return fmt.Errorf("latest checkpoint: %w", err)
	}
	fmt.Fprintf(stdout, "checkpoint: %s, size %d, signature valid\n", cp.Origin, cp.Size)
	if stateFile != "" {
		saved, err := os.ReadFile(stateFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(stdout, "no saved checkpoint in %s: trusting this one from now on\n", stateFile)
		case err != nil:
			return err
		default:
			old, err := ledger.OpenCheckpoint(saved, v)
			if err != nil {
				return fmt.Errorf("saved checkpoint: %w", err)
			}
			proofText, err := fetch(c, fmt.Sprintf("%s/ledger/proof/consistency?from=%d&to=%d", root, old.Size, cp.Size), "")
			if err != nil {
				return err
			}
			proof, err := hashLines(proofText)
			if err != nil {
				return err
			}
			if _, err := ledger.VerifyCheckpointUpdate(v, saved, latest, proof); err != nil {
				return fmt.Errorf("the log is not consistent with the saved checkpoint (size %d): %w", old.Size, err)
			}
			fmt.Fprintf(stdout, "consistent with the saved checkpoint (size %d)\n", old.Size)
		}
		if err := os.WriteFile(stateFile, latest, 0o600); err != nil {
			return err
		}
	}
	if version == "" {
		return nil
	}
	parts := strings.Split(version, "/")
	if len(parts) != 4 || parts[2] != "_history" {
		return fmt.Errorf("--version must look like Patient/123/_history/2")
	}
	body, err := fetch(c, base+"/"+version, token)
	if err != nil {
		return err
	}
	raw, err := fetch(c, base+"/"+version+"/$ledger-proof", token)
	if err != nil {
		return err
	}
	var params struct {
		Parameter []struct {
			Name              string `json:"name"`
			ValueString       string `json:"valueString"`
			ValueBase64Binary string `json:"valueBase64Binary"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(raw, &params); err != nil {
		return fmt.Errorf("$ledger-proof: %w", err)
	}
	p := ledger.VersionProof{Type: parts[0], ID: parts[1], VersionID: parts[3], Body: body}
	for _, prm := range params.Parameter {
		b, _ := base64.StdEncoding.DecodeString(prm.ValueBase64Binary)
		switch prm.Name {
		case "index":
			p.Index, err = strconv.ParseUint(prm.ValueString, 10, 64)
		case "treeSize":
			p.TreeSize, err = strconv.ParseUint(prm.ValueString, 10, 64)
		case "leaf":
			p.Leaf = b
		case "key":
			p.Key = b
		case "prev":
			p.Prev, err = ledger.ParsePrev(prm.ValueString)
		case "proof":
			p.Proof = append(p.Proof, b)
		case "checkpoint":
			p.Checkpoint = []byte(prm.ValueString)
		}
		if err != nil {
			return fmt.Errorf("$ledger-proof parameter %s: %w", prm.Name, err)
		}
	}
	if _, err := p.Verify(v); err != nil {
		return fmt.Errorf("%s: %w", version, err)
	}
	fmt.Fprintf(stdout, "%s is sealed at ledger index %d under a checkpoint of size %d\n", version, p.Index, p.TreeSize)
	return nil
}

func fetch(c *http.Client, url, token string) ([]byte, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return b, nil
}

func hashLines(b []byte) ([][]byte, error) {
	var out [][]byte
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		h, err := base64.StdEncoding.DecodeString(string(line))
		if err != nil {
			return nil, fmt.Errorf("proof: %w", err)
		}
		out = append(out, h)
	}
	return out, nil
}
