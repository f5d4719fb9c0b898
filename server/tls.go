package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
)

// certReloader serves the certificate files of the config and reads them
// again on reload (SIGHUP): new handshakes get the new certificate, open
// connections keep theirs.
type certReloader struct {
	certFile, keyFile string

	mu   sync.RWMutex
	cert *tls.Certificate
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	return r, r.reload()
}

// reload reads the files; on failure the current certificate stays.
func (r *certReloader) reload() error {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: loading %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.set(&cert)
	return nil
}

// set makes cert the certificate of new handshakes.
func (r *certReloader) set(cert *tls.Certificate) {
	r.mu.Lock()
	r.cert = cert
	r.mu.Unlock()
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}

// tlsConfig is the server's TLS: 1.2 or later, and client certificates
// verified against the client CA when one is configured.
func tlsConfig(cfg *Config, certs *certReloader) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.getCertificate}
	if cfg.TLSClientCA != "" {
		pem, err := os.ReadFile(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: client CA %s holds no PEM certificate", cfg.TLSClientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}
