package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/junction-wamp/junction/transport"
)

// rawSocketListeners opens RawSocket's own listeners (RawSocketConfig.Listen
// and Unix), bounded by the server's connection limits; tc is the TLS
// config for rss://. A connection past the limits on a listener without
// TLS is answered "maximum connection count reached" before it is closed.
func (s *Server) rawSocketListeners(tc *tls.Config) ([]net.Listener, error) {
	cfg := s.cfg.RawSocket
	var lns []net.Listener
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("rawsocket.listen: %w", err)
		}
		if cfg.TLS {
			ln = tls.NewListener(s.limitConnections(ln, nil), tc)
		} else {
			ln = s.limitConnections(ln, s.rs.RefuseConn)
		}
		lns = append(lns, ln)
	}
	if cfg.Unix != "" {
		ln, err := listenUnix(cfg.Unix, cfg.UnixMode)
		if err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("rawsocket.unix: %w", err)
		}
		lns = append(lns, s.limitConnections(ln, s.rs.RefuseConn))
	}
	return lns, nil
}

// listenUnix listens on the Unix socket path with the file mode mode. A
// socket file left at path by a process that is gone is removed first; one
// a process still accepts on is an error, and any other file is left as it
// is (an error too).
func listenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("%s: another process listens on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, mode); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}

// connKey is the context key of an HTTP request's connection.
type connKey struct{}

// connContext keeps the connection in the request's context: behind the
// RawSocket split of the port, the HTTP server does not see the TLS
// connection under it, and withTLSState finds it there.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// withTLSState gives a request the TLS state of its connection when the
// HTTP server could not (the connection came through the RawSocket split,
// which wraps it): the WebSocket transport reads client certificates there.
func withTLSState(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
				r.TLS = transport.TLSState(c)
			}
		}
		h.ServeHTTP(w, r)
	})
}
