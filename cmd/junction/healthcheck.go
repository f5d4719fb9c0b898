package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/junction-wamp/junction/internal/cli"
)

// newHealthcheckCommand is junction healthcheck: a probe for a container's
// HEALTHCHECK, where there is no shell or curl beside the binary.
func newHealthcheckCommand() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck [--url URL]",
		Short: "Exit 0 if a running router's /healthz answers 200",
		Long: `GET the /healthz of a running router (200 while it serves, 503 once it
shuts down) and exit 0 on 200, 1 otherwise: a probe for a container's
HEALTHCHECK or a supervisor, which needs no shell or curl beside the binary.

Exit status: 0 if the router is healthy, 1 if not (or unreachable), 2 for a
bad command line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return healthcheck(cmd.Context(), url, timeout)
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/healthz", "`URL` of the router's /healthz")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after `duration`")
	return cmd
}

func healthcheck(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err // a bad --url: exit status 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cli.Failed(fmt.Errorf("healthcheck: %w", err))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return cli.Failed(fmt.Errorf("healthcheck: %s answered %s", url, resp.Status))
	}
	return nil
}
