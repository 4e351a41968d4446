package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fhirseal/fhirseal/internal/corpus"
)

type syntheaManifest map[string]struct {
	Files []struct {
		File       string `json:"file"`
		BundleType string `json:"bundleType"`
		Entries    int    `json:"entries"`
	} `json:"files"`
	Totals       map[string]int `json:"totals"`
	TotalEntries int            `json:"totalEntries"`
}

// TestSyntheaLoads posts the Synthea set (hospital and practitioner batch
// Bundles first, then the 79 patient transaction Bundles, whose
// conditional references such as Practitioner?identifier=... must
// resolve) and checks the count of every type against manifest.json.
func TestSyntheaLoads(t *testing.T) {
	needBinary(t)
	if testing.Short() {
		t.Skip("slow: loads 46,497 resources")
	}
	dir := corpus.Shared(t, "synthea")
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m syntheaManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var set string
	for k := range m {
		set = k
	}
	p := start(t, t.TempDir())
	defer p.stop()
	client := &http.Client{Timeout: 5 * time.Minute}

	files := m[set].Files
	var first, rest []string
	for _, f := range files {
		if strings.HasPrefix(f.File, "hospitalInformation") || strings.HasPrefix(f.File, "practitionerInformation") {
			first = append(first, f.File)
		} else {
			rest = append(rest, f.File)
		}
	}
	begin := time.Now()
	entries := 0
	for _, name := range append(first, rest...) {
		body, err := os.ReadFile(filepath.Join(dir, "sample_data", name))
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.do(client, "POST", "", string(body))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d: %.500s", name, res.StatusCode, out)
		}
		var resp struct {
			Entry []struct {
				Response struct {
					Status string `json:"status"`
				} `json:"response"`
			} `json:"entry"`
		}
		json.Unmarshal(out, &resp)
		for i, e := range resp.Entry {
			if !strings.HasPrefix(e.Response.Status, "2") {
				t.Errorf("%s: entry %d: %s", name, i, e.Response.Status)
			}
		}
		entries += len(resp.Entry)
	}
	elapsed := time.Since(begin)
	t.Logf("loaded %d entries in %s: %.0f resources/s", entries, elapsed.Round(time.Millisecond), float64(entries)/elapsed.Seconds())
	count := func(query string) int {
		res, err := p.do(client, "GET", query, "")
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Total int `json:"total"`
		}
		json.NewDecoder(res.Body).Decode(&b)
		res.Body.Close()
		return b.Total
	}
	for typ, want := range m[set].Totals {
		total := count("/" + typ + "?_summary=count")
		if typ == "Provenance" {
			// Besides Synthea's own, the server stores one Provenance per
			// resource that normalisation changed (meta.source: its base).
			lineage := count("/Provenance?_summary=count&_source:below=" + publicBase)
			t.Logf("Provenance: %d of normalisation", lineage)
			total -= lineage
		}
		if total != want {
			t.Errorf("%s: %d stored, manifest says %d", typ, total, want)
		}
	}
}
