package zones

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func overlayBase(t *testing.T) *Set {
	t.Helper()
	dir := t.TempDir()
	cfg := `
regions: {eu: {lat: 50, lon: 8}, us: {lat: 40, lon: -74}}
zones: [{origin: example.com., file: z}]
services:
  - name: api.example.com.
    endpoints: [{name: a, region: eu, address: 192.0.2.1}]
`
	zone := "$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.53\n"
	for n, b := range map[string]string{"gtm.yaml": cfg, "z": zone} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := Load(filepath.Join(dir, "gtm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestOverlayReplacesAddsAndDeletes(t *testing.T) {
	base := overlayBase(t)
	set, err := Overlay(base, []Edit{
		{Kind: KindZone, Name: "example.com.", Version: 2, Body: []byte("$TTL 60\n@ SOA ns1 h 2 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.80\n")},
		{Kind: KindZone, Name: "example.net.", Version: 3, Body: []byte("$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.54\n")},
		{Kind: KindService, Name: "web.example.net.", Version: 4, Body: []byte("endpoints: [{name: w, region: us, address: 198.51.100.1}]\n")},
		{Kind: KindService, Name: "api.example.com.", Version: 5, Deleted: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Zones) != 2 || set.Zones[0].SOA.Serial != 2 || set.Zones[1].Origin != "example.net." {
		t.Errorf("zones after overlay: %+v", set.Zones)
	}
	if len(set.Config.Services) != 1 || set.Config.Services[0].Name != "web.example.net." || set.Config.Services[0].TTL != DefaultTTL {
		t.Errorf("services after overlay: %+v", set.Config.Services)
	}
	if len(base.Config.Services) != 1 || base.Config.Services[0].Name != "api.example.com." {
		t.Errorf("the base changed: %+v", base.Config.Services)
	}
}

func TestOverlayErrorsNameTheEditAndLine(t *testing.T) {
	base := overlayBase(t)
	_, err := Overlay(base, []Edit{
		{Kind: KindService, Name: "api.example.com.", Version: 7, Body: []byte("ttl: 30\nendpoints:\n  - {name: a, region: mars, address: 192.0.2.1}\n")},
		{Kind: KindZone, Name: "example.com.", Version: 8, Body: []byte("$TTL 60\n@ SOA ns1 h 2 2 3 4 5\n@ NS ns1\n$INCLUDE /etc/passwd\n")},
	})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`service api.example.com. (v7):3: endpoints[0].region: unknown region "mars"`,
		`zone example.com. (v8):4:`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	// A service outside every zone is caught by the whole-set check.
	_, err = Overlay(base, []Edit{{Kind: KindService, Name: "x.example.org.", Body: []byte("endpoints: [{name: a, region: eu, address: 192.0.2.1}]")}})
	if err == nil || !strings.Contains(err.Error(), "outside every zone") {
		t.Errorf("service outside zones: %v", err)
	}
}

// TestOverlayCachedParsesOnlyWhatChanged: with a ParseCache, a stored
// document (kind, name, version, same body) is parsed once and its zone
// shared by later overlays; a new version, a different body, an unversioned
// candidate or another base is parsed again; the results equal Overlay's,
// errors included.
func TestOverlayCachedParsesOnlyWhatChanged(t *testing.T) {
	base := overlayBase(t)
	net := Edit{Kind: KindZone, Name: "example.net.", Version: 3, Body: []byte("$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.54\n")}
	web := Edit{Kind: KindService, Name: "web.example.net.", Version: 4, Body: []byte("endpoints: [{name: w, region: us, address: 198.51.100.1}]\n")}
	var c ParseCache
	zoneOf := func(s *Set, origin string) *Zone {
		for _, z := range s.Zones {
			if z.Origin == origin {
				return z
			}
		}
		t.Fatalf("no zone %s", origin)
		return nil
	}
	first, err := OverlayCached(base, []Edit{net, web}, &c)
	if err != nil {
		t.Fatal(err)
	}
	again, err := OverlayCached(base, []Edit{net, web}, &c)
	if err != nil {
		t.Fatal(err)
	}
	if zoneOf(first, "example.net.") != zoneOf(again, "example.net.") || first.Config.Services[1] != again.Config.Services[1] {
		t.Errorf("the same stored documents were parsed again")
	}
	plain, _ := Overlay(base, []Edit{net, web})
	if len(plain.Zones) != len(again.Zones) || plain.Summary() != again.Summary() {
		t.Errorf("cached %s, uncached %s", again.Summary(), plain.Summary())
	}
	for _, e := range []Edit{
		{Kind: net.Kind, Name: net.Name, Version: 4, Body: net.Body},               // new version
		{Kind: net.Kind, Name: net.Name, Version: 3, Body: append(net.Body, '\n')}, // same version, other body
		{Kind: net.Kind, Name: net.Name, Body: net.Body},                           // a candidate
	} {
		s, err := OverlayCached(base, []Edit{e, web}, &c)
		if err != nil {
			t.Fatal(err)
		}
		if zoneOf(s, "example.net.") == zoneOf(first, "example.net.") {
			t.Errorf("edit v%d (%d bytes) reused the parse of v3", e.Version, len(e.Body))
		}
	}
	other := overlayBase(t)
	if s, _ := OverlayCached(other, []Edit{net, web}, &c); zoneOf(s, "example.net.") == zoneOf(first, "example.net.") {
		t.Errorf("another base reused a parse made for the first")
	}
	bad := Edit{Kind: KindZone, Name: "example.org.", Version: 9, Body: []byte("$TTL 60\n@ SOA ns1 h 1 2 3 4 5\nx A nope\n")}
	_, errCached := OverlayCached(base, []Edit{bad}, &c)
	_, errPlain := Overlay(base, []Edit{bad})
	if errCached == nil || errPlain == nil || errCached.Error() != errPlain.Error() {
		t.Errorf("errors differ: cached %v, uncached %v", errCached, errPlain)
	}
}
