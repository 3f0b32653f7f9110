package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// sslContext is the original service's --sslcontext file.
type sslContext struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// loadTLS returns the TLS config the flags ask for, nil for plain HTTP. A
// missing or broken file is an error: never fall back to plain HTTP.
func loadTLS(cfg config) (*tls.Config, error) {
	certFile, keyFile := cfg.tlsCert, cfg.tlsKey
	if cfg.sslContext != "" {
		raw, err := os.ReadFile(cfg.sslContext)
		if err != nil {
			return nil, fmt.Errorf("--sslcontext: %w", err)
		}
		var sc sslContext
		if err := json.Unmarshal(raw, &sc); err != nil {
			return nil, fmt.Errorf("--sslcontext %s: not a JSON object {\"cert\":…,\"key\":…}: %w", cfg.sslContext, err)
		}
		if sc.Cert == "" || sc.Key == "" {
			return nil, fmt.Errorf("--sslcontext %s: both \"cert\" and \"key\" are required", cfg.sslContext)
		}
		// Relative paths are read as the original service read them (from the working
		// directory) and, failing that, beside the context file, so a unit
		// file's working directory need not match.
		dir := filepath.Dir(cfg.sslContext)
		certFile, keyFile = resolve(dir, sc.Cert), resolve(dir, sc.Key)
	}
	if certFile == "" {
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("TLS: %w", err)
		}
		return nil, fmt.Errorf("TLS: certificate %s / key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

func resolve(dir, p string) string {
	if _, err := os.Stat(p); filepath.IsAbs(p) || err == nil {
		return p
	}
	return filepath.Join(dir, p)
}
