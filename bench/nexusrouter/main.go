// Command nexusrouter runs the nexus router (v3.3.0) with realm realm1,
// anonymous, over WebSocket, for the comparison harness.
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/gammazero/nexus/v3/router"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	flag.Parse()
	r, err := router.NewRouter(&router.Config{RealmConfigs: []*router.RealmConfig{{URI: "realm1", AnonymousAuth: true, AllowDisclose: true}}}, log.New(io.Discard, "", 0))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.WriteString(ln.Addr().String() + "\n")
	go func() { _ = http.Serve(ln, router.NewWebsocketServer(r)) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}
