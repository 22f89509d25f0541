package zones

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// errorStrings is errs as file:line: msg lines, in order. validate
// reports the CNAME-beside-other-data errors in map order: where two of
// them fall on one line (records of one $GENERATE) the old order is not
// defined, so only within such a tie are they put in message order.
func errorStrings(errs ErrorList) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	isBeside := func(e Error) bool { return strings.Contains(e.Msg, ": CNAME beside other data (") }
	for i := 0; i < len(errs); {
		j := i
		for j < len(errs) && errs[j].File == errs[i].File && errs[j].Line == errs[i].Line {
			j++
		}
		var idx []int
		var msgs []string
		for k := i; k < j; k++ {
			if isBeside(errs[k]) {
				idx = append(idx, k)
				msgs = append(msgs, out[k])
			}
		}
		sort.Strings(msgs)
		for n, k := range idx {
			out[k] = msgs[n]
		}
		i = j
	}
	return out
}

// sameAsParse checks that CheckZoneText reports what ParseZoneText does
// for text, in lim.
func sameAsParse(t *testing.T, what string, lim Limits, origin, text string) {
	t.Helper()
	_, want := lim.ParseZoneText(origin, "edit", []byte(text))
	got := lim.CheckZoneText(origin, "edit", []byte(text))
	w, g := errorStrings(want), errorStrings(got)
	if !slices.Equal(w, g) {
		t.Errorf("%s (origin %q, %+v):\nParseZoneText: %q\nCheckZoneText: %q\ntext:\n%.2000s", what, origin, lim, w, g, text)
	}
}

// zoneFixtures is every master file under testdata, by path.
func zoneFixtures(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".zone") {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 15 {
		t.Fatalf("only %d zone fixtures found", len(out))
	}
	return out
}

// fuzzCorpus reads the (origin, text) inputs of the FuzzParseZone corpus.
func fuzzCorpus(t testing.TB) [][2]string {
	t.Helper()
	files, err := filepath.Glob("testdata/fuzz/FuzzParseZone/*")
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var args []string
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if !strings.HasPrefix(l, "string(") {
				continue
			}
			s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(l, "string("), ")"))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			args = append(args, s)
		}
		if len(args) == 2 {
			out = append(out, [2]string{args[0], args[1]})
		}
	}
	if len(out) < 100 {
		t.Fatalf("only %d corpus inputs read", len(out))
	}
	return out
}

const checkHead = "$ORIGIN example.com.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n  IN NS ns1\nns1 IN A 192.0.2.53\n"

// checkEdgeCases are master files that break validate's rules in odd
// combinations, for both origins of sameAsParse.
var checkEdgeCases = []string{
	"",
	"; only a comment\n",
	checkHead,
	checkHead + "www CNAME ns1\nwww A 192.0.2.1\n",
	checkHead + "www A 192.0.2.1\nwww CNAME ns1\n",
	checkHead + "www TXT \"a\"\nwww MX 10 ns1\nwww CNAME ns1\nwww A 192.0.2.1\n",
	checkHead + "www CNAME ns1\nwww CNAME ns2\nwww CNAME ns3\nwww TXT x\n",
	checkHead + "a A 192.0.2.1\nb CNAME a\nc CNAME a\na CNAME b\nb TXT x\nc AAAA 2001:db8::1\nd CNAME a\n",
	checkHead + "www CNAME ns1\nwww RRSIG A 8 3 300 20300101000000 20200101000000 12345 example.com. AAAA\nwww NSEC a.example.com. A\n",
	checkHead + "@ CNAME ns1\n",
	checkHead + "WWW CNAME ns1\nwww A 192.0.2.1\nWwW TXT x\n",
	checkHead + "www.example.org. A 192.0.2.1\nwww.example.org. CNAME x.\n",
	checkHead + "www 2147483648 A 192.0.2.1\nwww 4294967295 CNAME x.\n",
	checkHead + "sub SOA ns1 hostmaster 1 7200 900 1209600 300\n@ SOA ns1 hostmaster 2 7200 900 1209600 300\n",
	checkHead + "sub SOA ns1 hostmaster 1 7200 900 1209600 300\nsub CNAME ns1\n",
	"$ORIGIN example.com.\n$TTL 300\nns1 A 192.0.2.1\n",
	"$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\nsub NS ns1\n",
	"$ORIGIN example.com.\n$TTL 300\n@ NS ns1\n",
	checkHead + "www CNAME ns1\nwww A 192.0.2.1\nbad A 192.0.2.300\n",
	checkHead + "www 9999999999 A 192.0.2.1\nbad IN IN IN\n",
	checkHead + "$GENERATE 1-4 c$ CNAME ns1\nc2 A 192.0.2.1\nc3 TXT x\n$GENERATE 1-2 c$ CNAME ns2\n",
	checkHead + "c1 A 192.0.2.1\nc4 TXT x\n$GENERATE 1-4 c$ CNAME ns1\n",
	checkHead + "$GENERATE 1-3 h$ A 192.0.2.$\n$GENERATE 1-3 h$ CNAME ns1\n",
	checkHead + "$GENERATE 1-3 h$ A 192.0.2.$\n$GENERATE 1-3 h${0,3,z} CNAME ns1\n",
	checkHead + "$GENERATE 1-3000000 h$ A 192.0.2.1\n",
	checkHead + "$GENERATE 1-x h$ A 192.0.2.1\n",
	checkHead + "$INCLUDE /etc/passwd\n",
	checkHead + "$ORIGIN other.org.\nwww A 192.0.2.1\n$ORIGIN example.com.\nwww CNAME ns1\n",
	"$ORIGIN example.com.\r\n$TTL 300\r\n@ SOA ns1 hostmaster (\r\n 1 ; serial\r\n 2 3 4 5 )\r\n NS ns1\r\nwww CNAME ns1\r\nwww A 192.0.2.1\r\n",
	"@ SOA ns1 hostmaster (\n 1\n 2\n 3\n 4\n 5 )\n; comment\n\n  NS ns1\n  A 192.0.2.1\n",
	checkHead + "www TYPE5 \\# 5 036e7331 00\nwww A 192.0.2.1\n",
	checkHead + "x TXT \"unterminated\n",
	checkHead + "x A 192.0.2.1 (\n",
	checkHead + "child NS ns.other.\nchild A 192.0.2.1\nchild CNAME ns1\n",
	checkHead + "www CNAME ns1\n" + strings.Repeat("www A 192.0.2.1\n", 5) + "www2 CNAME ns1\nwww2 CNAME ns1\n",
}

// TestCheckZoneTextSameAsParse: for every master file fixture under
// testdata, every FuzzParseZone corpus input and the edge cases above,
// within default and within tiny limits, CheckZoneText reports exactly
// the errors ParseZoneText does, in order.
func TestCheckZoneTextSameAsParse(t *testing.T) {
	lims := []Limits{{}, {ZoneMaxRecords: 4, GenerateMaxRange: 2}, {ZoneMaxRecords: 7}}
	n := 0
	for p, text := range zoneFixtures(t) {
		for _, lim := range lims {
			for _, origin := range []string{"example.com.", "sub.example.com.", "EXAMPLE.com"} {
				sameAsParse(t, p, lim, origin, text)
				n++
			}
		}
	}
	for i, in := range fuzzCorpus(t) {
		for _, lim := range lims {
			sameAsParse(t, fmt.Sprintf("corpus %d", i), lim, in[0], in[1])
			n++
		}
	}
	for i, text := range checkEdgeCases {
		for _, lim := range lims {
			for _, origin := range []string{"example.com.", "other.org."} {
				sameAsParse(t, fmt.Sprintf("edge case %d", i), lim, origin, text)
				n++
			}
		}
	}
	t.Logf("%d inputs compared", n)
}

// TestCheckZoneTextFindsOtherDataBefore: the second pass names the first
// record of other data written before a CNAME, even when a record after
// it would do (validate names the first in the text).
func TestCheckZoneTextFindsOtherDataBefore(t *testing.T) {
	text := checkHead + "www TXT x\nwww MX 10 ns1\nwww CNAME ns1\nwww A 192.0.2.1\n"
	errs := CheckZoneText("example.com.", "edit", []byte(text))
	want := "edit:8: www.example.com.: CNAME beside other data (TXT at line 6): a CNAME must be alone at its name (RFC 1034 §3.6.2)"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Fatalf("got %q, want %q", errorStrings(errs), want)
	}
}

// FuzzCheckZoneText: for any text and origin, CheckZoneText reports what
// ParseZoneText does, in the same order.
func FuzzCheckZoneText(f *testing.F) {
	for _, in := range fuzzCorpus(f) {
		f.Add(in[0], in[1])
	}
	for _, text := range checkEdgeCases {
		f.Add("example.com.", text)
	}
	f.Fuzz(func(t *testing.T, origin, text string) {
		sameAsParse(t, "fuzz", Limits{ZoneMaxRecords: 50, GenerateMaxRange: 20}, origin, text)
	})
}

const checkConfig = `regions:
  eu-west: {lat: 53.3, lon: -6.3}
zones:
  - origin: example.com.
    file: example.com.zone
services:
  - name: www.example.com.
    endpoints:
      - {name: gw-eu-1, region: eu-west, address: 203.0.113.10}
  - name: api.child.example.com.
    endpoints:
      - {name: gw-eu-1, region: eu-west, address: 203.0.113.10}
  - name: deep.a.b.example.com.
    endpoints:
      - {name: gw-eu-1, region: eu-west, address: 203.0.113.10}
  - name: example.com.
    endpoints:
      - {name: gw-eu-1, region: eu-west, address: 203.0.113.10}
  - name: svc.other.org.
    endpoints:
      - {name: gw-eu-1, region: eu-west, address: 203.0.113.10}
`

// sameAsOverlay checks that CheckOverlay returns what OverlayCached does,
// and counts in seen the errors OverlayCached returns by kind.
func sameAsOverlay(t *testing.T, what string, base *Set, edits []Edit, seen map[string]int) {
	t.Helper()
	var c1, c2 ParseCache
	set, err1 := OverlayCached(base, edits, &c1)
	err2 := CheckOverlay(base, edits, &c2)
	if (set == nil) != (err1 != nil) {
		t.Fatalf("%s: OverlayCached returned %v and %v", what, set, err1)
	}
	str := func(err error) []string {
		if err == nil {
			return nil
		}
		if l, ok := err.(ErrorList); ok {
			return errorStrings(l)
		}
		return []string{"not a list: " + err.Error()}
	}
	if err1 == nil {
		seen["ok"]++
	}
	for _, e := range str(err1) {
		for _, k := range []string{"clashes with the static CNAME", "clashes with the static A", "clashes with the static AAAA", "below the delegation", "outside every zone", "beside other data", "no SOA"} {
			if strings.Contains(e, k) {
				seen[k]++
			}
		}
	}
	if w, g := str(err1), str(err2); !slices.Equal(w, g) {
		t.Errorf("%s:\nOverlayCached: %q\nCheckOverlay:  %q", what, w, g)
	}
}

// TestCheckOverlaySameAsOverlay: over configurations whose services clash
// with static data or sit below delegations, in zones from the files,
// from stored documents and from the edit being written, CheckOverlay
// reports exactly the errors Overlay does, and nothing when it succeeds.
// Every config fixture is also checked with its zone files sent as edits.
func TestCheckOverlaySameAsOverlay(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"gtm.yaml": checkConfig, "example.com.zone": checkHead} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(filepath.Join(dir, "gtm.yaml")); err == nil {
		t.Fatal("svc.other.org. is outside every zone: want an error")
	}
	data, _ := os.ReadFile(filepath.Join(dir, "gtm.yaml"))
	cfg, _ := parseConfig(filepath.Join(dir, "gtm.yaml"), data)
	z, zerrs := ParseZone("example.com.", "example.com.zone", strings.NewReader(checkHead))
	if cfg == nil || len(zerrs) > 0 {
		t.Fatal(zerrs)
	}
	base := &Set{Config: cfg, Zones: []*Zone{z}}
	seen := map[string]int{}
	otherOrg := "$ORIGIN other.org.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n NS ns1\nns1 A 192.0.2.1\n"
	child := "$ORIGIN child.example.com.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n NS ns1\nns1 A 192.0.2.1\n"
	bodies := []string{
		checkHead,
		checkHead + "www CNAME ns1\n",
		checkHead + "www A 192.0.2.1\nwww AAAA 2001:db8::1\nwww TXT x\nwww A 192.0.2.2\n",
		checkHead + "child NS ns.other.\nchild NS ns2.other.\n",
		checkHead + "api.child NS ns.other.\nchild NS ns.other.\nb NS ns.other.\na.b NS ns.other.\nx NS ns.other.\n",
		checkHead + "deep.a.b NS ns.other.\ndeep.a.b CNAME x.\n",
		checkHead + "@ A 192.0.2.1\n",
		checkHead + "x NS ns.other.\n",
		checkHead + "www CNAME ns1\nwww A 192.0.2.1\n",
		checkHead + "bad A 192.0.2.300\n",
		child + "api A 192.0.2.1\n",
		child + "api CNAME x.\napi.child.example.com. NS x.\n",
	}
	for i, body := range bodies {
		for _, origin := range []string{"example.com.", "child.example.com.", "a.b.example.com."} {
			edit := Edit{Kind: KindZone, Name: origin, Body: []byte(body)}
			stored := []Edit{
				{Kind: KindZone, Name: "other.org.", Body: []byte(otherOrg), Version: 3},
				{Kind: KindZone, Name: "child.example.com.", Body: []byte(child + "api A 192.0.2.9\n"), Version: 2},
			}
			for j, edits := range [][]Edit{
				{edit},
				{stored[0], edit},
				{stored[0], stored[1], edit},
				{edit, stored[0]},
				{stored[1], edit, {Kind: KindZone, Name: "example.com.", Body: []byte(bodies[(i+1)%len(bodies)])}},
				{stored[0], edit, {Kind: KindService, Name: "svc.other.org.", Deleted: true}},
				{{Kind: KindZone, Name: "other.org.", Body: []byte(otherOrg + "svc CNAME x.\n"), Version: 4}, edit},
				{{Kind: KindZone, Name: "other.org.", Body: []byte("junk"), Version: 4}, edit},
			} {
				sameAsOverlay(t, fmt.Sprintf("body %d as %s, edits %d", i, origin, j), base, edits, seen)
			}
		}
	}
	// Every config fixture, its zone files sent as edits.
	cfgs, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/valid/*.yaml")
	examples, _ := filepath.Glob("../examples/*/*.yaml")
	n := 0
	for _, p := range append(append(cfgs, more...), examples...) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := parseConfig(p, data)
		if cfg == nil {
			continue
		}
		var edits []Edit
		for _, ref := range cfg.Zones {
			if ref.File == "" {
				continue
			}
			b, err := os.ReadFile(cfg.Resolve(ref.File))
			if err != nil {
				continue
			}
			edits = append(edits, Edit{Kind: KindZone, Name: ref.Origin, Body: b})
		}
		sameAsOverlay(t, p, &Set{Config: cfg}, edits, seen)
		n++
	}
	if n < 30 {
		t.Errorf("only %d config fixtures checked", n)
	}
	// The cases must cover every kind of error and success.
	for _, k := range []string{"ok", "clashes with the static CNAME", "clashes with the static A", "clashes with the static AAAA", "below the delegation", "outside every zone", "beside other data", "no SOA"} {
		if seen[k] == 0 {
			t.Errorf("no case gave %q", k)
		}
	}
	t.Logf("outcomes: %v", seen)
}
