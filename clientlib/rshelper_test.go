package clientlib_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/transport/rawsocket"
)

// rsRouter is a router serving WebSocket and RawSocket.
type rsRouter struct {
	ws, rs, unix string         // ws is wss:// with rsOptions.tls
	rss          string         // with rsOptions.tls, in place of rs
	roots        *x509.CertPool // trusting the certificate of wss and rss
}

type rsOptions struct {
	readLimit int // the router's maximum message length
	tls       bool
}

// startRS serves Junction until the test ends: WebSocket and RawSocket
// on one port of 127.0.0.1 (over TLS with o.tls), RawSocket on a Unix
// socket too.
func startRS(t *testing.T, o rsOptions) *rsRouter {
	t.Helper()
	sock := socketPath(t)
	cfg := server.Config{RawSocket: server.RawSocketConfig{Unix: sock, Transport: rawsocket.Config{ReadLimit: o.readLimit}}}
	out := &rsRouter{unix: "unix://" + sock}
	if o.tls {
		var certPEM, keyPEM []byte
		certPEM, keyPEM, out.roots = selfSigned(t)
		dir := t.TempDir()
		cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		for f, b := range map[string][]byte{cfg.TLSCert: certPEM, cfg.TLSKey: keyPEM} {
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	addr := routertest.Serve(t, cfg)
	if o.tls {
		out.ws, out.rss = "wss://"+addr+"/ws", "rss://"+addr
	} else {
		out.ws, out.rs = "ws://"+addr+"/ws", "rs://"+addr
	}
	return out
}

// socketPath is a path for a Unix socket, short enough for the 108 octets
// a socket's path may have (t.TempDir's hold the test's name).
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "jrs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "r.sock")
}

// selfSigned is a certificate for 127.0.0.1 and its key, in PEM, and a
// pool trusting it.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(leaf)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), roots
}
