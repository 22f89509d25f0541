package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// TestCookieKeeperFile: a rewritten secret file is picked up by refresh;
// a broken one is counted as an error and the secret in use is kept.
func TestCookieKeeperFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("e5e973e5a6b2a43f48e7dc849e37bfcf\n")
	cfg := &zones.Config{}
	cfg.DNS.Cookies.SecretFile = path
	cfg.ApplyDefaults()
	k, err := NewCookieKeeper(context.Background(), cfg, store.NewMemory(nil), zerolog.Nop(), prometheus.NewRegistry())
	if err != nil || k == nil {
		t.Fatalf("keeper: %v", err)
	}
	first := k.secrets
	write("445536bcd2513298075a5d379663c962\ne5e973e5a6b2a43f48e7dc849e37bfcf\n")
	k.refresh(context.Background())
	if k.cur[0] != 0x44 || k.secrets != first {
		t.Errorf("after rotating the file: current secret %x", k.cur)
	}
	write("not hex\n")
	k.refresh(context.Background())
	if k.cur[0] != 0x44 {
		t.Errorf("a broken file replaced the secret: %x", k.cur)
	}
	if n := testutil.ToFloat64(k.refreshes.WithLabelValues("error")); n != 1 {
		t.Errorf("%v refresh errors counted, want 1", n)
	}
	if n := testutil.ToFloat64(k.refreshes.WithLabelValues("ok")); n != 1 {
		t.Errorf("%v good refreshes counted, want 1", n)
	}
	// Cookies off: no keeper.
	off := false
	cfg.DNS.Cookies.Enabled = &off
	if k, err := NewCookieKeeper(context.Background(), cfg, nil, zerolog.Nop(), prometheus.NewRegistry()); k != nil || err != nil {
		t.Errorf("cookies off: keeper %v, %v", k, err)
	}
}
