package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtm-project/gtm/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// Reload takes a valid change (telling OnReload and ConfigChanged),
// refuses one that would blank the configuration unless AllowEmpty, and
// keeps serving the previous one when it refuses.
func TestEngineReload(t *testing.T) {
	for _, allowEmpty := range []bool{false, true} {
		dir := writeConfig(t)
		path := filepath.Join(dir, "gtm.yaml")
		set, err := zones.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		eng := NewEngine(EngineOptions{Logger: zerolog.New(zerolog.NewTestWriter(t)), Registerer: reg, AllowEmpty: allowEmpty})
		if eng.Snapshot() != nil || eng.Config() != nil || eng.Base() != nil {
			t.Fatal("an engine without configuration published something")
		}
		eng.SetConfig(set)
		<-eng.ConfigChanged()
		n := &testNode{t: t, eng: eng}
		n.wantAnswer("www.example.com.", "192.0.2.80")
		var told []*zones.Config
		eng.OnReload(func(c *zones.Config) { told = append(told, c) })

		if err := os.WriteFile(filepath.Join(dir, "example.com.zone"), []byte(testZone+"new A 192.0.2.99\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		v := eng.Version()
		if !eng.Reload(path, "test") {
			t.Fatal("valid reload refused")
		}
		n.wantAnswer("new.example.com.", "192.0.2.99")
		if eng.Version() <= v || len(told) != 1 || told[0] != eng.Config() {
			t.Errorf("after reload: version %d (was %d), OnReload told %d times", eng.Version(), v, len(told))
		}
		select {
		case <-eng.ConfigChanged():
		default:
			t.Error("ConfigChanged not signalled by Reload")
		}
		if got := testutil.ToFloat64(eng.reloads.WithLabelValues("test")); got != 1 {
			t.Errorf("gtm_config_reloads_total{trigger=test} = %v", got)
		}

		// A configuration with no zones and no services (a truncated file).
		empty := "node: {region: eu, id: node-a}\ndns: {listen: [\"127.0.0.1:0\"]}\napi: {listen: \"127.0.0.1:0\"}\nregions:\n  eu: {lat: 50, lon: 8}\n"
		if err := os.WriteFile(path, []byte(empty), 0o644); err != nil {
			t.Fatal(err)
		}
		ok := eng.Reload(path, "test")
		if ok != allowEmpty {
			t.Errorf("AllowEmpty %v: empty reload accepted = %v", allowEmpty, ok)
		}
		if allowEmpty {
			n.wantAnswer("www.example.com.")
			continue
		}
		n.wantAnswer("www.example.com.", "192.0.2.80")
		if got := testutil.ToFloat64(eng.reloadErrors); got != 1 || len(told) != 1 {
			t.Errorf("refused reload: gtm_config_reload_errors_total = %v, OnReload told %d times", got, len(told))
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, mf := range mfs {
			names = append(names, mf.GetName())
		}
		got := strings.Join(names, " ")
		for _, name := range []string{"gtm_config_reloads_total", "gtm_config_reload_errors_total", "gtm_snapshot_version"} {
			if !strings.Contains(got, name) {
				t.Errorf("metric %s not registered", name)
			}
		}
	}
}
