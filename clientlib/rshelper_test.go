package clientlib_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	nexusrouter "github.com/gammazero/nexus/v3/router"
)

// rsRouter is a router serving WebSocket and RawSocket.
type rsRouter struct {
	ws, rs, unix string
	rss          string         // with rsOptions.tls
	roots        *x509.CertPool // trusting rss's certificate
}

type rsOptions struct {
	readLimit int // the router's maximum message length
	tls       bool
}

// startRS starts a router until the test ends. TEMPORARY: the nexus
// router, until Junction's RawSocket server is on main.
func startRS(t *testing.T, o rsOptions) *rsRouter {
	t.Helper()
	r, err := nexusrouter.NewRouter(&nexusrouter.Config{
		RealmConfigs: []*nexusrouter.RealmConfig{{URI: "realm1", AnonymousAuth: true, AllowDisclose: true}},
	}, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(nexusrouter.NewWebsocketServer(r))
	rss := nexusrouter.NewRawSocketServer(r)
	rss.RecvLimit = o.readLimit
	tcp, err := rss.ListenAndServe("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sock := socketPath(t)
	unix, err := rss.ListenAndServe("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	out := &rsRouter{
		ws:   "ws" + strings.TrimPrefix(hs.URL, "http"),
		rs:   "rs://" + tcp.(net.Listener).Addr().String(),
		unix: "unix://" + sock,
	}
	closers := []io.Closer{tcp, unix}
	if o.tls {
		cert, roots := selfSigned(t)
		out.roots = roots
		tl, err := rss.ListenAndServeTLS("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}}, "", "")
		if err != nil {
			t.Fatal(err)
		}
		out.rss = "rss://" + tl.(net.Listener).Addr().String()
		closers = append(closers, tl)
	}
	t.Cleanup(func() {
		for _, c := range closers {
			_ = c.Close()
		}
		hs.Close()
		r.Close()
	})
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

// selfSigned is a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
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
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
