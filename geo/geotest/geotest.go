// Package geotest builds small MaxMind DB (MMDB) files for tests and demos.
//
// The files have the record shapes of the real databases that package geo
// reads (GeoIP2 City, GeoIP2 Country, GeoLite2 ASN), so a test exercises the
// same decoding path as production, without shipping a licensed database.
// Networks are written with github.com/maxmind/mmdbwriter; reserved ranges
// (documentation, loopback) are allowed because fixtures use nothing else.
package geotest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Net is one network of a fixture database and what is known about it.
// Empty fields are left out of the record, as real databases do: Country ""
// writes no country, Continent "" no continent, Lat and Lon both 0 no
// location (no real network is placed at 0°N 0°E), ASN 0 no ASN record.
type Net struct {
	Prefix    netip.Prefix
	City      string // English city name, written to city.names.en
	Country   string // ISO 3166-1 alpha-2 code, e.g. "GB"
	Continent string // continent code: AF AN AS EU NA OC SA
	Lat, Lon  float64
	ASN       uint32
	ASOrg     string
}

// Shape is the record layout written for each network.
type Shape int

const (
	// ShapeCity writes GeoIP2 City records: city, continent, country,
	// location.
	ShapeCity Shape = iota
	// ShapeCountry writes GeoIP2 Country records: continent and country only.
	ShapeCountry
	// ShapeASN writes GeoLite2 ASN records: autonomous_system_number and
	// autonomous_system_organization; networks with ASN 0 are skipped.
	ShapeASN
)

// Write builds a "GeoIP2-City" database at path.
func Write(path string, nets []Net) error {
	return WriteAs(path, "GeoIP2-City", ShapeCity, nets)
}

// WriteCountry builds a "GeoIP2-Country" database at path.
func WriteCountry(path string, nets []Net) error {
	return WriteAs(path, "GeoIP2-Country", ShapeCountry, nets)
}

// WriteASN builds a "GeoLite2-ASN" database at path from the networks that
// have an ASN.
func WriteASN(path string, nets []Net) error {
	return WriteAs(path, "GeoLite2-ASN", ShapeASN, nets)
}

// WriteAs builds a database with any metadata database type (for example
// "DBIP-City-Lite", or an unsupported one to test rejection) and the given
// record shape.
//
// The file is written beside path and renamed over it, the way geoipupdate
// replaces databases, so a process watching path never reads a half-written
// file.
func WriteAs(path, databaseType string, shape Shape, nets []Net) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: databaseType,
		Description:  map[string]string{"en": "gtm test fixture"},
		Languages:    []string{"en"},
		RecordSize:   28,
		// Fixtures live in documentation and loopback ranges, which the
		// writer refuses by default.
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return fmt.Errorf("geotest: new tree: %w", err)
	}
	for i, n := range nets {
		if !n.Prefix.IsValid() {
			return fmt.Errorf("geotest: nets[%d]: invalid prefix", i)
		}
		rec := record(shape, n)
		if rec == nil {
			continue
		}
		if err := tree.Insert(ipNet(n.Prefix), rec); err != nil {
			return fmt.Errorf("geotest: insert %s: %w", n.Prefix, err)
		}
	}
	return writeAtomic(path, tree)
}

// record is the MMDB value for n in the given shape, nil when n has nothing
// to say in it.
func record(shape Shape, n Net) mmdbtype.Map {
	rec := mmdbtype.Map{}
	if shape == ShapeASN {
		if n.ASN == 0 {
			return nil
		}
		rec["autonomous_system_number"] = mmdbtype.Uint32(n.ASN)
		if n.ASOrg != "" {
			rec["autonomous_system_organization"] = mmdbtype.String(n.ASOrg)
		}
		return rec
	}
	if n.Country != "" {
		country := mmdbtype.Map{"iso_code": mmdbtype.String(n.Country)}
		rec["country"] = country
		// Real databases carry registered_country too; including it makes
		// the decoder skip a sibling map as it must in production.
		rec["registered_country"] = country
	}
	if n.Continent != "" {
		rec["continent"] = mmdbtype.Map{"code": mmdbtype.String(n.Continent)}
	}
	if shape == ShapeCity {
		if n.City != "" {
			rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(n.City)}}
		}
		if n.Lat != 0 || n.Lon != 0 {
			rec["location"] = mmdbtype.Map{
				"accuracy_radius": mmdbtype.Uint16(20),
				"latitude":        mmdbtype.Float64(n.Lat),
				"longitude":       mmdbtype.Float64(n.Lon),
			}
		}
	}
	return rec
}

// ipNet converts p for mmdbwriter, which predates net/netip.
func ipNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{
		IP:   net.IP(p.Addr().AsSlice()),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}
}

// writeAtomic writes tree to a temporary file in path's directory and renames
// it over path.
func writeAtomic(path string, tree *mmdbwriter.Tree) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("geotest: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(tmp.Name()))
		}
	}()
	if _, err := tree.WriteTo(tmp); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("geotest: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("geotest: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("geotest: %w", err)
	}
	return nil
}
