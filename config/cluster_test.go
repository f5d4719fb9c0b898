package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
)

// TestClusterExampleConfigs keeps examples/cluster loadable and as its
// README describes it: three nodes on 127.0.0.1, each with an embedded NATS
// server routed to the other two, every key differing from its default.
func TestClusterExampleConfigs(t *testing.T) {
	t.Parallel()
	defaults := viper.New()
	defaults.SetConfigType("toml")
	if err := defaults.ReadConfig(bytes.NewReader(defaultConfig)); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../examples/cluster/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("node%d.toml", i)
		path := filepath.Join("../examples/cluster", name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		start := "go run ./cmd/junction --config examples/cluster/" + name
		if first, _, _ := strings.Cut(string(data), "\n"); !strings.HasPrefix(first, "#") || !strings.Contains(first, start) {
			t.Errorf("%s: the first line should be a comment saying %q; it is %q", name, start, first)
		}
		if !strings.Contains(string(readme), start) {
			t.Errorf("examples/cluster/README.md does not show %q", start)
		}
		c, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var routes []string
		for j := 1; j <= 3; j++ {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:623%d", j))
			}
		}
		if c.Listen != fmt.Sprintf("127.0.0.1:808%d", i) {
			t.Errorf("%s: server.listen %q", name, c.Listen)
		}
		if cc := c.Cluster; cc == nil {
			t.Errorf("%s: no cluster", name)
		} else if !cc.Embedded || cc.NATSURL != "" || cc.Name != "junction" || cc.NodeTimeout != 5*time.Second ||
			cc.Listen != fmt.Sprintf("127.0.0.1:423%d", i) || cc.ClusterListen != fmt.Sprintf("127.0.0.1:623%d", i) ||
			cc.DirectListen != fmt.Sprintf("127.0.0.1:723%d", i) ||
			!slices.Equal(slices.Sorted(slices.Values(cc.Routes)), routes) {
			t.Errorf("%s: cluster %+v, want embedded NATS on 127.0.0.1:423%d, routes on 127.0.0.1:623%d, to %v, node_timeout 5s, direct path on 127.0.0.1:723%d",
				name, *cc, i, i, routes, i)
		}
		v := viper.New()
		v.SetConfigType("toml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		for _, key := range v.AllKeys() {
			if reflect.DeepEqual(v.Get(key), defaults.Get(key)) {
				t.Errorf("%s: %s repeats its default; keep the example to what differs", name, key)
			}
		}
	}
	for _, want := range []string{"node_timeout", `"5s"`, "nats_url", "wamp.error.canceled", "wamp.error.no_such_procedure"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("examples/cluster/README.md does not mention %s", want)
		}
	}
}

// TestClusterRepairKeys: repair_interval and resend_buffer reach the
// cluster's config, and values that would starve or flood it are refused.
func TestClusterRepairKeys(t *testing.T) {
	t.Parallel()
	c, err := Load(writeConfig(t, "[cluster]\nembedded_nats = true\nrepair_interval = \"250ms\"\nresend_buffer = \"8MiB\""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.RepairInterval != 250*time.Millisecond || c.Cluster.ResendBuffer != 8<<20 {
		t.Fatalf("cluster %+v", *c.Cluster)
	}
	c, err = Load(writeConfig(t, "[cluster]\nembedded_nats = true"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.RepairInterval != time.Second || c.Cluster.ResendBuffer != 64<<20 {
		t.Fatalf("defaults %+v", *c.Cluster)
	}
	_, err = Load(writeConfig(t, "[cluster]\nrepair_interval = \"1ms\"\nresend_buffer = \"12\""))
	if err == nil || !strings.Contains(err.Error(), "cluster.repair_interval") || !strings.Contains(err.Error(), "cluster.resend_buffer") {
		t.Fatalf("error %v, want both keys", err)
	}
}

// TestClusterDirectKeys: direct_listen and direct_advertise reach the
// cluster's config (off by default), and an address that is not host:port
// is refused.
func TestClusterDirectKeys(t *testing.T) {
	t.Parallel()
	c, err := Load(writeConfig(t, "[cluster]\nembedded_nats = true\ndirect_listen = \"0.0.0.0:7222\"\ndirect_advertise = \"10.0.0.1:7222\""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.DirectListen != "0.0.0.0:7222" || c.Cluster.DirectAdvertise != "10.0.0.1:7222" {
		t.Fatalf("cluster %+v", *c.Cluster)
	}
	c, err = Load(writeConfig(t, "[cluster]\nembedded_nats = true"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.DirectListen != "" || c.Cluster.DirectAdvertise != "" {
		t.Fatalf("defaults %+v", *c.Cluster)
	}
	_, err = Load(writeConfig(t, "[cluster]\nembedded_nats = true\ndirect_listen = \"7222\"\ndirect_advertise = \"somewhere\""))
	if err == nil || !strings.Contains(err.Error(), "cluster.direct_listen") || !strings.Contains(err.Error(), "cluster.direct_advertise") {
		t.Fatalf("error %v, want both keys", err)
	}
}
