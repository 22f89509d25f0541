package geo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is what the databases say about one address. Empty fields are
// unknown: a Country database has no coordinates, many networks have no
// ASN.
type Location struct {
	// Country is the ISO 3166-1 alpha-2 code ("GB"); the registered
	// country when the database has no location country for the network.
	Country string
	// Continent is the two-letter continent code (AF AN AS EU NA OC SA).
	Continent string
	// Lat and Lon are degrees; meaningful only when HasCoords is true
	// (0,0 is a valid point, so zero values cannot mean "unknown").
	Lat, Lon  float64
	HasCoords bool
	// ASN and ASOrg come from the ASN database, when one is configured.
	ASN   uint32
	ASOrg string
}

// DB is an open location database and an optional ASN database. It is
// immutable and safe for concurrent use.
//
// A DB reads its files into memory instead of memory-mapping them, and has
// no Close: it is released by the garbage collector when nothing refers to
// it. That is a deliberate choice for the reload path. A mapped file that is
// overwritten or truncated in place (cp over it, instead of the rename that
// geoipupdate does) makes readers fault with SIGBUS, and unmapping a
// replaced DB is only safe once no query can still be reading it, which
// needs reference counting on the hot path. A heap copy has neither
// problem; it costs the file's size in memory (about 60 MB for
// GeoLite2-City), twice for a moment during a reload.
type DB struct {
	loc  *maxminddb.Reader
	asn  *maxminddb.Reader // nil without an ASN database
	info Info
	// locStat and asnStat identify the files read, so a watcher can tell
	// whether a file event really replaced a database.
	locStat, asnStat os.FileInfo
	// pool recycles *records: Result.Decode takes an interface, so decode
	// targets on the stack would escape and cost an allocation per lookup.
	pool sync.Pool
}

// Info describes the files a DB was opened from.
type Info struct {
	Location File
	// ASN is zero when no ASN database is configured.
	ASN File
}

// File describes one database file.
type File struct {
	Path string
	// Type is the metadata database_type, e.g. "GeoLite2-City".
	Type string
	// Built is the metadata build_epoch: how old the data is.
	Built time.Time
}

// Open reads the location database at path (a GeoIP2/GeoLite2 City or
// Country database, or a DB-IP database in the GeoIP2 layout) and, if
// asnPath is not empty, an ASN database. The database type is taken from
// the file's metadata. Every error names the file: a missing, empty,
// truncated or corrupt database, or one of the wrong type.
//
// Open checks the metadata and that the search tree and data section fit
// the file, which catches empty, truncated and non-MMDB files. It does not
// check every record: maxminddb's full Verify costs about 0.25 s and 55 MB
// of garbage per MB of database (BenchmarkVerify), so by extrapolation tens
// of seconds for GeoLite2-City, too slow for a start or a reload. Damage
// inside a file that passes is contained: the reader bounds-checks every
// read, so damage gives a wrong or empty answer for the networks it hits,
// never a crash (FuzzOpenLookup). Call Verify for the full check where time allows, such
// as `gtm check`.
func Open(path, asnPath string) (*DB, error) {
	if path == "" {
		return nil, errors.New("geo: no location database path (geo.database)")
	}
	db := &DB{}
	db.pool.New = func() any { return new(records) }

	var (
		k   kind
		err error
	)
	db.loc, db.info.Location, db.locStat, k, err = openFile("location database", path)
	if err != nil {
		return nil, err
	}
	switch k {
	case kindCity, kindCountry:
		// Both carry country and continent; the City decoder finds no
		// location in a Country record and reports no coordinates.
	default:
		return nil, fmt.Errorf("geo: location database %s: type %q is not a supported City or Country database",
			path, db.info.Location.Type)
	}
	if asnPath == "" {
		return db, nil
	}
	db.asn, db.info.ASN, db.asnStat, k, err = openFile("ASN database", asnPath)
	if err != nil {
		return nil, err
	}
	if k != kindASN {
		return nil, fmt.Errorf("geo: ASN database %s: type %q is not a supported ASN database",
			asnPath, db.info.ASN.Type)
	}
	return db, nil
}

// openFile reads and parses one MMDB file. role names it in
// errors ("location database").
func openFile(role, path string) (*maxminddb.Reader, File, os.FileInfo, kind, error) {
	fail := func(err error) (*maxminddb.Reader, File, os.FileInfo, kind, error) {
		// The path is in our message; drop the one os adds.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, File{}, nil, kindUnsupported, fmt.Errorf("geo: %s %s: %w", role, path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the identity recorded is that
	// of the bytes read even if the path is replaced meanwhile.
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if !st.Mode().IsRegular() {
		return fail(errors.New("not a regular file"))
	}
	if st.Size() == 0 {
		return fail(errors.New("file is empty"))
	}
	buf := make([]byte, st.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		return fail(fmt.Errorf("read: %w", err))
	}
	r, err := maxminddb.OpenBytes(buf)
	if err != nil {
		return fail(fmt.Errorf("not a valid MaxMind DB file: %w", err))
	}
	file := File{Path: path, Type: r.Metadata.DatabaseType, Built: r.Metadata.BuildTime().UTC()}
	return r, file, st, kindOf(file.Type), nil
}

// Verify checks every node and record of the databases against the MaxMind
// DB format, naming the file at fault. It is slow (see Open) and meant for
// offline checks, not for the serving path.
func (db *DB) Verify() error {
	if err := db.loc.Verify(); err != nil {
		return fmt.Errorf("geo: location database %s: corrupt MaxMind DB file: %w", db.info.Location.Path, err)
	}
	if db.asn != nil {
		if err := db.asn.Verify(); err != nil {
			return fmt.Errorf("geo: ASN database %s: corrupt MaxMind DB file: %w", db.info.ASN.Path, err)
		}
	}
	return nil
}

// Info describes the files db was opened from.
func (db *DB) Info() Info {
	return db.info
}

// Lookup returns what the databases know about addr. ok is false when
// neither database has a record for it (or db is nil, so callers without a
// configured database need no special case). IPv4-mapped IPv6 addresses
// are looked up as IPv4; zones are ignored.
func (db *DB) Lookup(addr netip.Addr) (loc Location, ok bool) {
	loc, _, ok = db.LookupNetwork(addr)
	return loc, ok
}

// LookupNetwork is Lookup that also returns the network containing addr
// over which the answer is the same (see Network), in one pass over each
// database.
func (db *DB) LookupNetwork(addr netip.Addr) (loc Location, network netip.Prefix, ok bool) {
	if db == nil || !addr.IsValid() {
		return Location{}, netip.Prefix{}, false
	}
	addr = addr.Unmap().WithZone("")
	res := db.loc.Lookup(addr)
	network = prefixOf(res, addr)
	rec := db.pool.Get().(*records)
	defer db.pool.Put(rec)
	if res.Found() {
		rec.loc = locationRecord{}
		// A decode error means a damaged record (see Open): treat it as
		// absent rather than half-read.
		if err := res.Decode(&rec.loc); err == nil {
			loc = rec.loc.Location
			loc.HasCoords = rec.loc.hasLat && rec.loc.hasLon
			ok = true
		}
	}
	if db.asn != nil {
		res := db.asn.Lookup(addr)
		network = narrower(network, prefixOf(res, addr))
		if res.Found() {
			rec.asn = asnRecord{}
			if err := res.Decode(&rec.asn); err == nil {
				loc.ASN, loc.ASOrg = rec.asn.number, rec.asn.org
				ok = true
			}
		}
	}
	return loc, network, ok
}

// Network returns the network containing addr over which every database
// gives the same answer: the database network (for an address in no
// network, the empty block around it), narrowed to the ASN database's when
// that is more specific. Anything keyed by location can be cached for the
// whole prefix. It reads the search trees only, no records. It returns the
// zero Prefix when db is nil or addr invalid.
func (db *DB) Network(addr netip.Addr) netip.Prefix {
	if db == nil || !addr.IsValid() {
		return netip.Prefix{}
	}
	addr = addr.Unmap().WithZone("")
	network := prefixOf(db.loc.Lookup(addr), addr)
	if db.asn != nil {
		network = narrower(network, prefixOf(db.asn.Lookup(addr), addr))
	}
	return network
}

// prefixOf is the network of a lookup result, or the host prefix of addr
// when the lookup failed (an IPv6 address in an IPv4-only database): the
// narrowest claim is never wrong.
func prefixOf(res maxminddb.Result, addr netip.Addr) netip.Prefix {
	if res.Err() != nil {
		return netip.PrefixFrom(addr, addr.BitLen())
	}
	return res.Prefix()
}

// narrower returns the more specific of two prefixes that both contain the
// same address.
func narrower(a, b netip.Prefix) netip.Prefix {
	if b.Bits() > a.Bits() {
		return b
	}
	return a
}
