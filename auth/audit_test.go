package auth

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestAuditEvent(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 123e6, time.UTC)
	base := AuditInput{
		Recorded: at, Outcome: OutcomeSuccess, Purposes: []string{"TREAT"},
		FHIRUser: dr7, Subject: "user-1", Issuer: testExtIss, Client: "app-1", JTI: "jti-1",
		Address: "192.0.2.10", Server: testBase, RequestID: "req-1",
	}
	tests := []struct {
		name string
		in   func(*AuditInput)
	}{
		{"read", func(a *AuditInput) {
			a.Interaction, a.Resource, a.Patients, a.Consents = InteractionRead, "Observation/o1/_history/2", []string{"p1"}, []string{"c1"}
		}},
		{"search", func(a *AuditInput) {
			a.Interaction, a.ResourceType, a.Patients = InteractionSearch, "Observation", []string{"p1", "p2"}
		}},
		{"create-denied", func(a *AuditInput) {
			a.Interaction, a.ResourceType, a.Outcome, a.OutcomeDesc = InteractionCreate, "Observation", OutcomeForStatus(403), "denied by consent"
			a.FHIRUser, a.Address = "", "client.example.test"
		}},
		{"break-glass", func(a *AuditInput) {
			a.Interaction, a.Resource, a.Patients, a.Purposes, a.BreakGlass = InteractionRead, "Condition/c9", []string{"p1"}, []string{"ETREAT"}, true
			a.Consents = []string{"c1"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			tc.in(&in)
			got, err := AuditEvent(in)
			if err != nil {
				t.Fatal(err)
			}
			v := jsontext.Value(got)
			if err := v.Indent(); err != nil {
				t.Fatalf("AuditEvent(%s) is not JSON: %v", tc.name, err)
			}
			got = append(v, '\n')
			path := filepath.Join("testdata", "auditevent-"+tc.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("AuditEvent(%s) = %s\nwant %s", tc.name, got, want)
			}
			s := string(got)
			if tc.name == "search" && strings.Contains(s, "query") {
				t.Errorf("search AuditEvent records a query")
			}
			if !strings.Contains(s, `"reference": "Patient/p1"`) && tc.name != "create-denied" {
				t.Errorf("AuditEvent(%s) has no Patient entity", tc.name)
			}
			if !strings.Contains(s, jtiPrefix+"jti-1") {
				t.Errorf("AuditEvent(%s) lacks the jti policy", tc.name)
			}
		})
	}
	for _, bad := range []AuditInput{{Outcome: OutcomeSuccess, Server: testBase}, {Recorded: at, Server: testBase}, {Recorded: at, Outcome: OutcomeSuccess}} {
		if _, err := AuditEvent(bad); err == nil {
			t.Errorf("AuditEvent(%+v) succeeded, want error", bad)
		}
	}
}

func TestOutcomeForStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   Outcome
	}{{200, OutcomeSuccess}, {201, OutcomeSuccess}, {304, OutcomeSuccess}, {401, OutcomeMinor}, {404, OutcomeMinor}, {500, OutcomeSerious}} {
		if got := OutcomeForStatus(tc.status); got != tc.want {
			t.Errorf("OutcomeForStatus(%d) = %q, want %q", tc.status, got, tc.want)
		}
	}
}
