package zones

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadText(t *testing.T, cfg string, zonesText map[string]string) *Set {
	t.Helper()
	dir := t.TempDir()
	for name, body := range zonesText {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "gtm.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestCheckReplace: an empty configuration, and one that drops every zone
// served, are refused; keeping one zone, or adding services, is fine.
func TestCheckReplace(t *testing.T) {
	const head = "node: {region: eu, id: n}\nregions:\n  eu: {lat: 50, lon: 8}\n"
	zone := func(o string) string {
		return "$ORIGIN " + o + "\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
	}
	files := map[string]string{"a.zone": zone("a.example."), "b.zone": zone("b.example."), "c.zone": zone("c.example.")}
	ab := loadText(t, head+"zones:\n  - {origin: a.example., file: a.zone}\n  - {origin: b.example., file: b.zone}\n", files)
	b := loadText(t, head+"zones:\n  - {origin: b.example., file: b.zone}\n", files)
	c := loadText(t, head+"zones:\n  - {origin: c.example., file: c.zone}\n", files)
	empty := loadText(t, head, nil)

	for _, tc := range []struct {
		name          string
		running, next *Set
		want          string
	}{
		{"empty at start", nil, empty, "defines no zones and no services"},
		{"empty on reload", ab, empty, "defines no zones and no services"},
		{"every zone dropped", ab, c, "drops every zone now served (a.example., b.example.)"},
		{"one zone kept", ab, b, ""},
		{"zones added", b, ab, ""},
		{"from nothing", nil, c, ""},
		{"running had no zones", empty, c, ""},
	} {
		err := CheckReplace(tc.running, tc.next)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want ErrEmpty saying %q", tc.name, err, tc.want)
		}
	}
}
