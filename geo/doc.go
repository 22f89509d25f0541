// Package geo owns client location: where an address is (country,
// continent, coordinates, ASN) according to a MaxMind DB (MMDB) file, and
// the great-circle distance from there to a region.
//
// It answers "where is this client", never "where should it go": routing
// decides with what geo reports. Lookups are on the DNS answer path, so a
// lookup decodes only the fields gtm uses and allocates nothing (see
// BenchmarkLookup and README.md for the numbers behind that choice).
//
// A DB is immutable and safe for concurrent use. A Provider holds the
// current DB behind an atomic pointer and swaps in a new one on Reload or
// when Watch sees the file replaced; a failed reload keeps the old DB.
package geo
