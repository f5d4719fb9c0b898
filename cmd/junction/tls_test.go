package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/wamp"
)

// testCA makes certificates for the test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "junction test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM certificate and key for cn; server certificates are for 127.0.0.1.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTLS serves wss:// with a certificate made here, authenticates a
// client certificate, and reloads the certificate without dropping sessions.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	c1, k1 := ca.issue(t, "server", 100, true)
	write(t, certFile, c1)
	write(t, keyFile, k1)
	write(t, caFile, ca.pem)
	cfgFile := writeConfig(t, `
[server]
tls_cert = "`+certFile+`"
tls_key = "`+keyFile+`"
tls_client_ca = "`+caFile+`"
[[realms]]
name = "realm1"
auth = ["anonymous", "tls"]
[[realms.principals]]
authid = "device-1"
role = "device"
`)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	addrc := make(chan string, 1)
	reload := make(chan struct{})
	var logs syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- runWith(ctx, []string{"--config", cfgFile, "--listen", "127.0.0.1:0"}, &logs, runOptions{listening: func(a string) { addrc <- a }, reload: reload})
	}()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-exit:
		t.Fatalf("exit %d: %s", code, logs.String())
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)
	url := "wss://" + addr + "/ws"
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	anon, err := clientlib.Connect(cctx, url, "realm1", clientlib.Options{Dialer: &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots}}})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close(cctx)

	cc, ck := ca.issue(t, "device-1", 200, false)
	pair, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := clientlib.Connect(cctx, url, "realm1", clientlib.Options{
		Dialer:       &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}},
		HelloDetails: wamp.Dict{"authmethods": []any{"tls"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := dev.Details(); d.String("authid") != "device-1" || d.String("authmethod") != "tls" {
		t.Fatalf("WELCOME %v", d)
	}
	_ = dev.Close(cctx)

	// TLS 1.1 is refused.
	if _, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Fatal("TLS 1.1 handshake accepted")
	}

	// Reload: new handshakes get the new certificate, the open session stays.
	c2, k2 := ca.issue(t, "server", 101, true)
	write(t, certFile, c2)
	write(t, keyFile, k2)
	reload <- struct{}{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
		if err != nil {
			t.Fatal(err)
		}
		serial := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
		conn.Close()
		if serial == 101 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("certificate not reloaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := anon.Call(cctx, "wamp.session.count", nil, nil, nil); err != nil {
		t.Fatalf("session after reload: %v", err)
	}
	stop()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestRawSocketTLS serves rss:// on a listener of its own and on the wss://
// port, and authenticates a client certificate over both.
func TestRawSocketTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	c1, k1 := ca.issue(t, "server", 100, true)
	write(t, certFile, c1)
	write(t, keyFile, k1)
	write(t, caFile, ca.pem)
	cfgFile := writeConfig(t, `
[server]
tls_cert = "`+certFile+`"
tls_key = "`+keyFile+`"
tls_client_ca = "`+caFile+`"
[rawsocket]
listen = "127.0.0.1:0"
tls = true
[[realms]]
name = "realm1"
auth = ["tls"]
[[realms.principals]]
authid = "device-1"
role = "device"
`)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	addrc, rsAddrc := make(chan string, 1), make(chan string, 1)
	var logs syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- runWith(ctx, []string{"--config", cfgFile, "--listen", "127.0.0.1:0"}, &logs, runOptions{
			listening:          func(a string) { addrc <- a },
			rawSocketListening: func(_, a string) { rsAddrc <- a },
		})
	}()
	var addr, rsAddr string
	for addr == "" || rsAddr == "" {
		select {
		case addr = <-addrc:
		case rsAddr = <-rsAddrc:
		case code := <-exit:
			t.Fatalf("exit %d: %s", code, logs.String())
		}
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)
	cc, ck := ca.issue(t, "device-1", 200, false)
	pair, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, a := range []string{rsAddr, addr} {
		c, err := rawsocket.Dial(cctx, rawsocket.Endpoint{Network: "tcp", Address: a, TLS: true, Host: "127.0.0.1"},
			rawsocket.SerializerJSON, 0, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}})
		if err != nil {
			t.Fatalf("rss://%s: %v", a, err)
		}
		_ = c.NetConn().SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.WriteMessage([]byte(`[1,"realm1",{"authmethods":["tls"],"roles":{"caller":{}}}]`)); err != nil {
			t.Fatal(err)
		}
		reply, err := c.ReadMessage()
		if err != nil || !strings.HasPrefix(string(reply), "[2,") || !strings.Contains(string(reply), `"authid":"device-1"`) {
			t.Fatalf("rss://%s: WELCOME %s %v", a, reply, err)
		}
		c.Close()
		// Without a client certificate: refused.
		c, err = rawsocket.Dial(cctx, rawsocket.Endpoint{Network: "tcp", Address: a, TLS: true, Host: "127.0.0.1"},
			rawsocket.SerializerJSON, 0, &tls.Config{RootCAs: roots})
		if err != nil {
			t.Fatalf("rss://%s without a client certificate: %v", a, err)
		}
		_ = c.WriteMessage([]byte(`[1,"realm1",{"authmethods":["tls"],"roles":{"caller":{}}}]`))
		if reply, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(reply), "[3,") {
			t.Fatalf("rss://%s without a client certificate: %s %v", a, reply, err)
		}
		c.Close()
	}
	stop()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d", code)
	}
}
