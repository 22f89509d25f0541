package geo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/gtm-project/gtm/geo/geotest"
)

// watchDeadline bounds how long a test waits for Watch to react; it polls,
// so a fast machine finishes in about Settle.
const watchDeadline = 10 * time.Second

// logBuffer collects Watch's log lines; the test reads them to know what
// the watcher has seen without a hook in the code under test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// startWatch runs p.Watch until the test ends, logging at debug level to
// the returned buffer and to the test log.
func startWatch(t *testing.T, p *Provider) *logBuffer {
	t.Helper()
	logs := &logBuffer{}
	log := zerolog.New(zerolog.MultiLevelWriter(logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Watch(ctx, log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	return logs
}

func reloads(p *Provider, result string) float64 {
	return testutil.ToFloat64(p.metrics.reloads.WithLabelValues(result))
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(watchDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", watchDeadline, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// replace writes nets beside path and renames the file over it, the way
// geoipupdate does.
func replace(t *testing.T, path string, write func(string) error) {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), "new.mmdb")
	if err := write(tmp); err != nil {
		t.Fatal(err)
	}
	// Same directory as path, so the rename is atomic.
	staged := path + ".new"
	data, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(staged, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(staged, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatchPicksUpRename(t *testing.T) {
	cityPath, asnPath := writeDemo(t)
	p, err := NewProvider(Options{Database: cityPath, ASNDatabase: asnPath, Settle: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	logs := startWatch(t, p)
	first := p.Current()

	// The watch is set up asynchronously: touch an unrelated file in the
	// directory until the watcher reports it. It must not cause a reload.
	unrelated := filepath.Join(filepath.Dir(cityPath), "unrelated.txt")
	waitFor(t, "the watcher to see a file event", func() bool {
		if err := os.WriteFile(unrelated, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return logs.count("unrelated.txt") > 0
	})
	waitFor(t, "the unchanged check", func() bool { return logs.count("databases unchanged") > 0 })
	if p.Current() != first || reloads(p, "success")+reloads(p, "failure") != 0 {
		t.Fatal("an unrelated file caused a reload")
	}

	// A corrupt file renamed in: logged, old database kept.
	replace(t, cityPath, func(path string) error { return os.WriteFile(path, []byte("garbage"), 0o644) })
	waitFor(t, "the failed reload", func() bool { return reloads(p, "failure") >= 1 })
	if p.Current() != first || countryOf(t, p) != "GB" {
		t.Fatal("a corrupt file replaced the database")
	}
	if logs.count("reload failed") == 0 {
		t.Error("the failed reload was not logged")
	}

	// A good file renamed in: swapped within the deadline.
	replace(t, cityPath, func(path string) error { return geotest.Write(path, movedNets()) })
	waitFor(t, "the reloaded database", func() bool {
		loc, _ := p.Current().Lookup(londonAddr)
		return loc.Country == "JP"
	})
	// The ASN database came along.
	if loc, _ := p.Current().Lookup(londonAddr); loc.ASN != 64496 {
		t.Errorf("ASN after reload = %d, want 64496", loc.ASN)
	}
}

func TestWatchStopsOnCancel(t *testing.T) {
	cityPath, _ := writeDemo(t)
	p, err := NewProvider(Options{Database: cityPath})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Watch(ctx, zerolog.Nop()) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch = %v, want nil on cancel", err)
		}
	case <-time.After(watchDeadline):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestWatchErrors(t *testing.T) {
	// Without a database there is nothing to watch.
	p, err := NewProvider(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Watch(context.Background(), zerolog.Nop()); err != nil {
		t.Errorf("Watch without a database = %v, want nil", err)
	}

	// A directory that disappeared cannot be watched: an error naming it.
	dir := filepath.Join(t.TempDir(), "geoip")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "GeoIP2-City.mmdb")
	if err := geotest.Write(path, geotest.DemoNets()); err != nil {
		t.Fatal(err)
	}
	p, err = NewProvider(Options{Database: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err = p.Watch(context.Background(), zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Watch on a removed directory = %v, want an error naming %s", err, dir)
	}
}

func TestWatchDirs(t *testing.T) {
	dir := t.TempDir()
	targetDir := filepath.Join(dir, "real")
	links := filepath.Join(dir, "links")
	for _, d := range []string{targetDir, links} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(targetDir, "GeoLite2-City.mmdb")
	if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(links, "city.mmdb")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	got := watchDirs(link, filepath.Join(links, "asn.mmdb"), "")
	realDir, err := filepath.EvalSymlinks(targetDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != links || got[1] != realDir {
		t.Errorf("watchDirs = %v, want [%s %s]", got, links, realDir)
	}
}
