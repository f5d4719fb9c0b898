package hostile

import (
	"fmt"
	"os"
	"strings"
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
	return Start(t, bin, withEngine(config))
}

// withEngine is config on the WebSocket engine JUNCTION_WS_ENGINE names
// ("gorilla", "nbio"; unset: the default, config unchanged): CI runs the
// attacks on each engine (.ci/run).
func withEngine(config string) string {
	engine := os.Getenv("JUNCTION_WS_ENGINE")
	if engine == "" {
		return config
	}
	line := fmt.Sprintf("engine = %q\n", engine)
	if strings.Contains(config, "[websocket]\n") {
		return strings.Replace(config, "[websocket]\n", "[websocket]\n"+line, 1)
	}
	return config + "\n[websocket]\n" + line
}

// anonRealm is the default realm, open to anonymous sessions, as a config
// section to append limits to.
const anonRealm = `
[[realms]]
name = "realm1"
auth = ["anonymous"]
`
