package server

// ServeMetrics serves s's metrics on their own listener and returns the
// server to close and its address.
var ServeMetrics = (*Server).serveMetricsAt
