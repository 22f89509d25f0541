package geo

// kind is what a database can answer, decided from its metadata
// database_type.
type kind int

const (
	kindUnsupported kind = iota
	// kindCity has country, continent and location records.
	kindCity
	// kindCountry has country and continent records, no location.
	kindCountry
	// kindASN has autonomous_system_number/organization records.
	kindASN
)

// kindOf reports the kind of a database from its metadata database_type.
// The list follows geoip2-golang v2.5.0 (getDBType), the authority on which
// MaxMind and DB-IP databases share the GeoIP2 record layout: City lookups
// work on Enterprise and DB-IP "compat" databases, ASN lookups on ISP ones.
// A switch rather than a map keeps the table immutable.
func kindOf(databaseType string) kind {
	switch databaseType {
	case "GeoLite2-City",
		"GeoIP2-City",
		"GeoIP2-City-Africa",
		"GeoIP2-City-Asia-Pacific",
		"GeoIP2-City-Europe",
		"GeoIP2-City-North-America",
		"GeoIP2-City-South-America",
		"GeoIP2-Precision-City",
		"GeoIP-City-Redacted-US",
		"GeoIP2-Enterprise",
		"GeoIP-Enterprise-Redacted-US",
		"DBIP-City-Lite",
		"DBIP-Location (compat=City)",
		"DBIP-ISP (compat=Enterprise)",
		"DBIP-Location-ISP (compat=Enterprise)":
		return kindCity
	case "GeoLite2-Country",
		"GeoIP2-Country",
		"DBIP-Country-Lite",
		"DBIP-Country":
		return kindCountry
	case "GeoLite2-ASN",
		"DBIP-ASN-Lite (compat=GeoLite2-ASN)",
		"GeoIP2-ISP",
		"GeoIP2-Precision-ISP":
		return kindASN
	default:
		return kindUnsupported
	}
}

// String names the kind for errors and DB.Info.
func (k kind) String() string {
	switch k {
	case kindCity:
		return "city"
	case kindCountry:
		return "country"
	case kindASN:
		return "asn"
	default:
		return "unsupported"
	}
}
