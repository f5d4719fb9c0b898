package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/server"
)

// A subscriber webhook: the events of com.example.news, POSTed to an HTTP
// endpoint (here one of the example's own).
func ExampleSet() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := server.New(server.Config{}, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown(ctx) //nolint:errcheck // the example's end

	got := make(chan string, 1)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Topic string
			Args  []any
		}
		_ = json.NewDecoder(r.Body).Decode(&ev)
		got <- fmt.Sprint(ev.Topic, " ", ev.Args)
	}))
	defer endpoint.Close()

	set := webhook.New(srv, webhook.Options{Logger: slog.New(slog.DiscardHandler)})
	defer set.Shutdown(ctx) //nolint:errcheck // the example's end
	err = set.Apply(ctx, webhook.Config{Subscribers: []webhook.SubscriberConfig{{
		Name:     "news",
		Session:  webhook.Session{Realm: "realm1"}, // anonymous
		Topic:    "com.example.news",
		Endpoint: webhook.Endpoint{URL: endpoint.URL, Secret: "shared secret"},
	}}})
	if err != nil {
		panic(err)
	}

	pub, err := clientlib.ConnectLocal(ctx, srv, "realm1", clientlib.Options{})
	if err != nil {
		panic(err)
	}
	defer pub.Close(ctx) //nolint:errcheck // the example's end
	if err := pub.Publish(ctx, "com.example.news", []any{"hello"}, nil, nil); err != nil {
		panic(err)
	}
	fmt.Println(<-got)
	// Output: com.example.news [hello]
}
