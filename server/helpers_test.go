package server_test

import (
	"time"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 30 * time.Second
