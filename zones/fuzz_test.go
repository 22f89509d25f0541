package zones

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// seedFiles adds every file matching the patterns to the corpus through add.
func seedFiles(f *testing.F, add func([]byte), patterns ...string) {
	f.Helper()
	for _, p := range patterns {
		files, err := filepath.Glob(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			add(data)
		}
	}
}

// FuzzParseConfig feeds arbitrary bytes to ParseConfig: it must never
// panic, and must return either a config that validates again cleanly or
// an ErrorList of at least one error, never both.
func FuzzParseConfig(f *testing.F) {
	seedFiles(f, func(b []byte) { f.Add(b) }, "testdata/*.yaml", "testdata/valid/*.yaml", "../examples/*/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			if cfg != nil {
				t.Fatal("a config and an error")
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("error without file or message: %+v", e)
				}
			}
			return
		}
		if cfg == nil {
			t.Fatal("no config and no error")
		}
		if errs := cfg.Validate(); len(errs) > 0 {
			t.Fatalf("a returned config fails validation: %v", errs)
		}
		_ = cfg.RegionOrder()
	})
}

// FuzzParseZone feeds arbitrary master file text (and origin) to ParseZone:
// it must never panic, and a zone it returns must hold what validation
// promises. Inputs with $INCLUDE are skipped: they would read whatever file
// the fuzzer names (/dev/zero never ends), which tests the disk, not us.
func FuzzParseZone(f *testing.F) {
	seedFiles(f, func(b []byte) {
		if !strings.Contains(strings.ToUpper(string(b)), "$INCLUDE") {
			f.Add("example.com.", string(b))
		}
	}, "testdata/*.zone", "testdata/zones/*.zone", "testdata/zones/parts/*.zone", "testdata/valid/zones/*.zone", "testdata/valid/zones/sub/*.zone")
	f.Add("example.com.", "$ORIGIN example.com.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n NS ns\n$GENERATE 1-4 h$ A 192.0.2.$\n")
	f.Fuzz(func(t *testing.T, origin, text string) {
		if strings.Contains(strings.ToUpper(text), "$INCLUDE") {
			t.Skip()
		}
		z, errs := ParseZone(origin, "fuzz.zone", strings.NewReader(text))
		if len(errs) > 0 {
			if z != nil {
				t.Fatal("a zone and errors")
			}
			for _, e := range errs {
				if e.File != "fuzz.zone" || e.Msg == "" {
					t.Fatalf("error without file or message: %+v", e)
				}
			}
			return
		}
		if z == nil {
			t.Fatal("no zone and no errors")
		}
		if z.SOA == nil || len(z.Records) != len(z.lines) {
			t.Fatalf("zone without SOA or with %d records and %d positions", len(z.Records), len(z.lines))
		}
		lines := strings.Count(text, "\n") + 1
		for i, rr := range z.Records {
			if !dns.IsSubDomain(z.Origin, rr.Header().Name) {
				t.Fatalf("%s is outside %s", rr.Header().Name, z.Origin)
			}
			if p := z.PosAt(i); p.File != "fuzz.zone" || p.Line < 1 || p.Line > lines {
				t.Fatalf("record %d at %v, outside the %d lines given", i, p, lines)
			}
		}
	})
}
