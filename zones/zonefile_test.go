package zones

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestZoneDirectivesAndIncludes loads the valid zone and checks every record:
// $TTL and $ORIGIN honoured (also after an $INCLUDE), $INCLUDE relative to
// the including file (nested twice), and each record at the file and FIRST
// line it is written on, multi-line SOA included.
func TestZoneDirectivesAndIncludes(t *testing.T) {
	z, errs := LoadZone("example.com.", "testdata/valid/zones/example.com.zone")
	if errs != nil {
		t.Fatal(errs)
	}
	const dir = "testdata/valid/zones/"
	want := []struct {
		name string
		typ  uint16
		ttl  uint32
		pos  Pos
	}{
		{"example.com.", dns.TypeSOA, 600, Pos{dir + "example.com.zone", 4}},
		{"example.com.", dns.TypeNS, 600, Pos{dir + "example.com.zone", 10}},
		{"ns1.example.com.", dns.TypeA, 600, Pos{dir + "example.com.zone", 11}},
		{"mail.example.com.", dns.TypeA, 600, Pos{dir + "hosts.zone", 2}},
		{"www.example.com.", dns.TypeCNAME, 120, Pos{dir + "hosts.zone", 3}},
		{"lab.example.com.", dns.TypeTXT, 600, Pos{dir + "sub/lab.zone", 2}},
		{"bench.lab.example.com.", dns.TypeA, 600, Pos{dir + "sub/more.zone", 2}},
		{"grafana.ops.example.com.", dns.TypeA, 60, Pos{dir + "example.com.zone", 17}},
	}
	// Files: each file once, in the order first read (the zone file, its
	// $INCLUDEs; example.com.zone again after them is not listed twice).
	if got, wantFiles := z.Files(), []string{dir + "example.com.zone", dir + "hosts.zone", dir + "sub/lab.zone", dir + "sub/more.zone"}; !slices.Equal(got, wantFiles) {
		t.Errorf("Files() = %q, want %q", got, wantFiles)
	}
	if len(z.Records) != len(want) || len(z.lines) != len(want) {
		t.Fatalf("%d records, %d positions; want %d:\n%v", len(z.Records), len(z.lines), len(want), z.Records)
	}
	for i, w := range want {
		h := z.Records[i].Header()
		if h.Name != w.name || h.Rrtype != w.typ || h.Ttl != w.ttl || z.PosAt(i) != w.pos {
			t.Errorf("record %d: %s %s ttl %d at %v; want %s %s ttl %d at %v", i,
				h.Name, dns.TypeToString[h.Rrtype], h.Ttl, z.PosAt(i), w.name, dns.TypeToString[w.typ], w.ttl, w.pos)
		}
	}
	if z.SOA == nil || z.SOA.Serial != 2026112701 || z.SOA.Minttl != 300 {
		t.Errorf("SOA = %v", z.SOA)
	}
	if z.Origin != "example.com." || z.File != "testdata/valid/zones/example.com.zone" {
		t.Errorf("origin %q file %q", z.Origin, z.File)
	}
}

// TestRecordLines pins the line of records written every way the master
// file format allows: the line reported is the one a record starts on.
func TestRecordLines(t *testing.T) {
	src := strings.Join([]string{
		"$ORIGIN example.com.",         // 1
		"$TTL 300",                     // 2
		"@ IN SOA ns1 host (",          // 3: SOA starts
		"  1 ; serial",                 // 4
		"  ; a comment line",           // 5
		"",                             // 6
		"  2 3 4 5 )",                  // 7: SOA ends
		"; between records",            // 8
		"",                             // 9
		"  IN NS ns1",                  // 10: owner omitted, starts with a blank
		"ns1 IN A 192.0.2.1",           // 11
		"txt IN TXT (",                 // 12: TXT starts
		`  "one"`,                      // 13
		`  "two" )`,                    // 14
		"$TTL 60",                      // 15
		"$GENERATE 1-3 h$ A 192.0.2.$", // 16: three records, all from line 16
		"last IN A 192.0.2.9",          // 17, no final newline
	}, "\n")
	z, errs := ParseZone("example.com", "t.zone", strings.NewReader(src))
	if errs != nil {
		t.Fatal(errs)
	}
	want := []struct {
		name string
		line int
	}{
		{"example.com.", 3},
		{"example.com.", 10},
		{"ns1.example.com.", 11},
		{"txt.example.com.", 12},
		{"h1.example.com.", 16},
		{"h2.example.com.", 16},
		{"h3.example.com.", 16},
		{"last.example.com.", 17},
	}
	if len(z.Records) != len(want) {
		t.Fatalf("%d records, want %d: %v", len(z.Records), len(want), z.Records)
	}
	for i, w := range want {
		if got := z.Records[i].Header().Name; got != w.name || z.PosAt(i) != (Pos{"t.zone", w.line}) {
			t.Errorf("record %d: %s at %v, want %s at t.zone:%d", i, got, z.PosAt(i), w.name, w.line)
		}
	}
	if txt := z.Records[3].(*dns.TXT).Txt; len(txt) != 2 || txt[0] != "one" || txt[1] != "two" {
		t.Errorf("TXT = %q", txt)
	}
	if ttl := z.Records[7].Header().Ttl; ttl != 60 {
		t.Errorf("last TTL = %d, want 60 from $TTL", ttl)
	}
}

// TestOwnerNamesLowerCased checks names are canonical, so lookups and
// clash checks compare like with like.
func TestOwnerNamesLowerCased(t *testing.T) {
	src := "$ORIGIN Example.COM.\n@ 300 IN SOA ns1 host 1 2 3 4 5\n@ 300 IN NS ns1\nWWW 300 IN A 192.0.2.1\n"
	z, errs := ParseZone("EXAMPLE.com", "", strings.NewReader(src))
	if errs != nil {
		t.Fatal(errs)
	}
	if z.Origin != "example.com." || z.Records[2].Header().Name != "www.example.com." {
		t.Errorf("origin %q, name %q", z.Origin, z.Records[2].Header().Name)
	}
	if z.PosAt(2) != (Pos{"", 4}) {
		t.Errorf("pos %v, want line 4 with no file", z.PosAt(2))
	}
}

// TestZoneErrors feeds broken zones as text and checks each error's line,
// also for problems miekg/dns finds inside a $GENERATE.
func TestZoneErrors(t *testing.T) {
	const head = "$ORIGIN example.com.\n$TTL 300\n@ IN SOA ns1 host 1 2 3 4 5\n  IN NS ns1\n" // lines 1-4
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"generate", "ns1 IN A 192.0.2.1\n$GENERATE 1-3 h$ A 192.0.2.x$\n",
			[]string{`z.zone:6: bad A A: "192.0.2.x1"`}},
		{"bad owner", "ns1 IN A 192.0.2.1\nbad..name IN A 192.0.2.2\n",
			[]string{`z.zone:6: bad owner name: "bad..name"`}},
		{"unknown type", "ns1 IN A 192.0.2.1\nx IN BOGUS 1\n",
			[]string{`z.zone:6: not a TTL: "BOGUS"`}},
		{"unbalanced", "ns1 IN A 192.0.2.1\nx IN TXT ( \"a\"\n",
			[]string{`z.zone:6: bad TXT Txt: "unbalanced brace"`}},
		// Validation errors come back in line order, whatever order the
		// checks ran in.
		{"sorted", "ns1 IN A 192.0.2.1\nw IN CNAME ns1\nw IN A 192.0.2.5\nbig 2147483648 IN A 192.0.2.6\nx.example.net. IN A 192.0.2.7\nw IN CNAME ns2\n",
			[]string{
				`z.zone:6: w.example.com.: CNAME beside other data (A at line 7): a CNAME must be alone at its name (RFC 1034 §3.6.2)`,
				`z.zone:8: big.example.com.: TTL 2147483648 is above the largest TTL, 2147483647 (RFC 2181)`,
				`z.zone:9: x.example.net. A is outside zone example.com.`,
				`z.zone:10: w.example.com.: a second CNAME (the first at line 6): a name has at most one`,
			}},
		{"second SOA", "ns1 IN A 192.0.2.1\n@ IN SOA ns1 host 2 2 3 4 5\n",
			[]string{`z.zone:6: a second SOA at example.com.`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z, errs := ParseZone("example.com.", "z.zone", strings.NewReader(head+tc.body))
			if z != nil {
				t.Fatal("ParseZone returned a zone with errors")
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n  got:  %s\n  want: %s", strings.Join(got, "\n        "), strings.Join(tc.want, "\n        "))
			}
		})
	}
}

// TestCNAMEBesideOtherDataIsStable checks the message names the first other
// record written, not one picked by map order.
func TestCNAMEBesideOtherDataIsStable(t *testing.T) {
	src := "@ 300 IN SOA ns1 host 1 2 3 4 5\n@ 300 IN NS ns1\nw 300 IN CNAME ns1\nw 300 IN MX 10 mail\nw 300 IN TXT x\nw 300 IN AAAA 2001:db8::1\nw 300 IN A 192.0.2.1\n"
	for i := 0; i < 20; i++ {
		_, errs := ParseZone("example.com.", "z", strings.NewReader(src))
		if len(errs) != 1 || !strings.Contains(errs[0].Msg, "(MX at line 4)") {
			t.Fatalf("run %d: %v", i, errs)
		}
	}
}

func TestReaderError(t *testing.T) {
	_, errs := ParseZone("example.com.", "r.zone", failingReader{})
	if len(errs) != 1 || errs[0].Error() != "r.zone: zone example.com.: disk on fire" {
		t.Errorf("errs = %v", errs)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, fmt.Errorf("disk on fire") }

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Path: "dns.listen[0]", Msg: "bad"}, "a.yaml:3: dns.listen[0]: bad"},
		{Error{File: "a.yaml", Path: "x", Msg: "bad"}, "a.yaml: x: bad"},
		{Error{File: "a.zone", Line: 9, Msg: "bad"}, "a.zone:9: bad"},
		{Error{Msg: "bad"}, "bad"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
	if got := (ErrorList{}).Error(); got != "no errors" {
		t.Errorf("empty list: %q", got)
	}
	if (ErrorList{}).Err() != nil {
		t.Error("an empty list's Err is not nil")
	}
	l := ErrorList{{File: "b", Line: 1, Msg: "x"}, {File: "a", Line: 9, Msg: "y"}, {File: "a", Line: 2, Msg: "z"}}
	if got, want := l.Err().Error(), "3 errors:\na:2: z\na:9: y\nb:1: x"; got != want {
		t.Errorf("list: %q, want %q", got, want)
	}
}
