// Command nexusrouter runs the nexus router (v3.3.0) with realm realm1,
// anonymous, for the comparison harness: over WebSocket on --listen, and
// over RawSocket on a TCP listener of its own (--tcp) and a Unix socket
// (--unix), nexus's RawSocketServer. It prints the URL of each, one a
// line, in that order: ws://ADDR/ws, then rs://ADDR and unix:///PATH.
package main

import (
	"flag"
	"fmt"
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
	listen := flag.String("listen", "127.0.0.1:0", "WebSocket listen address")
	tcp := flag.String("tcp", "", "RawSocket listen address (127.0.0.1:0: any port); none if empty")
	unix := flag.String("unix", "", "RawSocket Unix socket path; none if empty")
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
	urls := []string{"ws://" + ln.Addr().String() + "/ws"}
	go func() { _ = http.Serve(ln, router.NewWebsocketServer(r)) }()
	rs := router.NewRawSocketServer(r)
	if *tcp != "" {
		l, err := rs.ListenAndServe("tcp", *tcp)
		if err != nil {
			log.Fatal(err)
		}
		defer l.Close()
		urls = append(urls, "rs://"+l.(net.Listener).Addr().String())
	}
	if *unix != "" {
		l, err := rs.ListenAndServe("unix", *unix)
		if err != nil {
			log.Fatal(err)
		}
		defer l.Close() // removes the socket file
		urls = append(urls, "unix://"+*unix)
	}
	for _, u := range urls {
		fmt.Println(u)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}
