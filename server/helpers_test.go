package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 30 * time.Second

// connect joins realm1 of the router at url with clientlib.
func connect(t *testing.T, url string, opts clientlib.Options) *clientlib.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := clientlib.Connect(ctx, url, "realm1", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}
