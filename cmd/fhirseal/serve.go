package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fhirseal/fhirseal/auth"
	"github.com/fhirseal/fhirseal/fhir/normalize"
	"github.com/fhirseal/fhirseal/fhir/search"
	"github.com/fhirseal/fhirseal/ledger"
	"github.com/fhirseal/fhirseal/server"
	"github.com/fhirseal/fhirseal/store/sqlite"
)

// serveConfig is the serve command's configuration.
type serveConfig struct {
	Addr         string
	Data         string
	BaseURL      string
	MaxBodyBytes int64
	LogLevel     string
	// Profiles is the directory of source profiles (YAML), or "".
	Profiles string
	// Issuer and JWKSURL name an external SMART authorisation server whose
	// tokens are accepted beside fhirseal's own.
	Issuer, JWKSURL string
	// ConsentDefault applies to patients without a Consent that decides
	// (permit or deny); Audit records every access to patient data.
	ConsentDefault string
	Audit          bool
	// LedgerKeyFile holds the checkpoint signing key (default DATA/ledger.key).
	LedgerKeyFile   string
	CheckpointEvery time.Duration
	// DebugAddr, when set, serves Go's runtime profiles (net/http/pprof)
	// on a listener of its own, apart from the API.
	DebugAddr string
}

// writeAdminToken writes DATA/admin.token on first start: an administrator
// token of fhirseal's own issuer, readable by the owner only.
func writeAdminToken(cfg serveConfig, issuer *auth.Issuer, log *slog.Logger) error {
	path := filepath.Join(cfg.Data, "admin.token")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	m, err := issuer.Mint(auth.MintRequest{
		Audience: cfg.BaseURL, Subject: "admin", Scope: "system/*.cruds", Admin: true, Lifetime: 365 * 24 * time.Hour,
	}, time.Now())
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(m.Token+"\n"), 0o600); err != nil {
		return err
	}
	log.Info("administrator token written", "path", path, "expires", m.Expiry)
	fmt.Fprintf(os.Stderr, "fhirseal: an administrator token is in %s\n", path)
	return nil
}

// ledgerKey loads (or, on first start, creates) the checkpoint signing
// key. Its name is the log's origin, derived from the base URL.
func ledgerKey(cfg serveConfig) (*ledger.Key, error) {
	origin, err := ledger.Origin(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("--base-url: %w", err)
	}
	path := cfg.LedgerKeyFile
	if path == "" {
		path = filepath.Join(cfg.Data, "ledger.key")
	}
	key, err := ledger.LoadOrCreateKey(path, origin)
	if err != nil {
		return nil, fmt.Errorf("ledger key %s (the log's origin is %q, from --base-url): %w", path, origin, err)
	}
	return key, nil
}

// envFlags registers a flag set whose defaults come from FHIRSEAL_*
// variables.
func envDefault(getenv func(string) string, name, def string) string {
	key := "FHIRSEAL_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func serve(args []string, getenv func(string) string) int {
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", envDefault(getenv, "addr", "127.0.0.1:8080"), "listen address")
	fs.StringVar(&cfg.Data, "data", envDefault(getenv, "data", "./fhirseal-data"), "data directory (SQLite database and keys)")
	fs.StringVar(&cfg.BaseURL, "base-url", envDefault(getenv, "base-url", ""), "public base URL of the FHIR API (default http://ADDR/fhir)")
	fs.StringVar(&cfg.LogLevel, "log-level", envDefault(getenv, "log-level", "info"), "debug, info, warn or error")
	maxBody := fs.Int64("max-body-bytes", 16<<20, "request body limit in bytes")
	fs.StringVar(&cfg.LedgerKeyFile, "ledger-key", envDefault(getenv, "ledger-key", ""), "checkpoint signing key file (default DATA/ledger.key)")
	every := fs.Duration("checkpoint-every", time.Second, "how often a new checkpoint is signed after writes")
	fs.StringVar(&cfg.Profiles, "profiles", envDefault(getenv, "profiles", ""), "directory of source normalisation profiles (YAML, one per client_id)")
	fs.StringVar(&cfg.Issuer, "issuer", envDefault(getenv, "issuer", ""), "external SMART authorisation server (iss) whose tokens are accepted")
	fs.StringVar(&cfg.DebugAddr, "debug-addr", envDefault(getenv, "debug-addr", ""), "listen address for runtime profiles (/debug/pprof/); off when empty")
	fs.StringVar(&cfg.JWKSURL, "jwks-url", envDefault(getenv, "jwks-url", ""), "JWKS URL of the external issuer")
	fs.StringVar(&cfg.ConsentDefault, "consent-default", envDefault(getenv, "consent-default", "permit"), "access to patient data when no Consent decides: permit or deny")
	fs.BoolVar(&cfg.Audit, "audit", envDefault(getenv, "audit", "false") == "true", "record an AuditEvent for every access to patient data (break-glass is always recorded)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.MaxBodyBytes = *maxBody
	cfg.CheckpointEvery = *every
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + cfg.Addr + "/fhir"
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "fhirseal: bad --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(cfg, log); err != nil {
		log.Error("fhirseal stopped", "err", err)
		return 1
	}
	return 0
}

func run(cfg serveConfig, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return err
	}
	key, err := ledgerKey(cfg)
	if err != nil {
		return err
	}
	st, err := sqlite.Open(filepath.Join(cfg.Data, "fhirseal.db"), sqlite.Options{
		Indexer: search.Extract, LedgerKey: key, CheckpointEvery: cfg.CheckpointEvery, Logger: log,
	})
	if err != nil {
		return err
	}
	defer st.Close()
	issuer, err := auth.LoadOrCreateIssuer(cfg.Data, cfg.BaseURL)
	if err != nil {
		return err
	}
	vc := auth.VerifierConfig{Audience: cfg.BaseURL, Local: issuer, Revocations: auth.NewMemoryRevocations(nil), Logger: log}
	smart := server.SMARTConfig{Issuer: issuer.URL(), JWKS: issuer.JWKS()}
	if cfg.Issuer != "" || cfg.JWKSURL != "" {
		if cfg.Issuer == "" || cfg.JWKSURL == "" {
			return errors.New("--issuer and --jwks-url go together")
		}
		vc.External = []auth.ExternalIssuer{{Issuer: cfg.Issuer, JWKSURL: cfg.JWKSURL}}
		smart.Issuer = cfg.Issuer
	}
	verifier, err := auth.NewVerifier(vc)
	if err != nil {
		return err
	}
	defer verifier.Close()
	if err := writeAdminToken(cfg, issuer, log); err != nil {
		return err
	}
	var profiles map[string]*normalize.Profile
	if cfg.Profiles != "" {
		if profiles, err = normalize.LoadProfiles(cfg.Profiles); err != nil {
			return fmt.Errorf("--profiles: %w", err)
		}
		log.Info("source profiles loaded", "dir", cfg.Profiles, "count", len(profiles))
	}
	consentDefault, err := auth.ParseEffect(cfg.ConsentDefault)
	if err != nil {
		return fmt.Errorf("--consent-default: %w", err)
	}
	srv := server.New(server.Config{
		ConsentDefault: consentDefault, Audit: cfg.Audit, Issuer: issuer,
		Normalizer: normalize.NewNormalizer(profiles),
		Store:      st, Auth: verifier, SMART: smart, Ledger: st, LedgerKey: key.VerifierKey,
		Logger: log, BaseURL: cfg.BaseURL, Version: version, MaxBodyBytes: cfg.MaxBodyBytes,
	})
	hs := &http.Server{
		Addr:              cfg.Addr,
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.DebugAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		ds := &http.Server{Addr: cfg.DebugAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := ds.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("debug listener", "err", err)
			}
		}()
		defer ds.Close()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.Info("fhirseal serving", "addr", cfg.Addr, "base_url", cfg.BaseURL, "data", cfg.Data)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
