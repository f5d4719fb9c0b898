package hostile

import (
	"fmt"
	"os"
	"testing"
)

// bin is the junction binary TestMain builds, or the one named by
// HOSTILE_JUNCTION_BIN (to run the attacks on another build).
var bin string

func TestMain(m *testing.M) {
	if bin = os.Getenv("HOSTILE_JUNCTION_BIN"); bin != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "hostile")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin, err = Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// start runs a junction with config (TOML; "" runs it with no config file).
func start(t testing.TB, config string) *Junction {
	t.Helper()
	return Start(t, bin, config)
}

// anonRealm is the default realm, open to anonymous sessions, as a config
// section to append limits to.
const anonRealm = `
[[realms]]
name = "realm1"
auth = ["anonymous"]
`
