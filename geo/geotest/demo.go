package geotest

import "net/netip"

// Coordinates of the demo cities, so tests can place regions at the same
// points and compute expected distances.
const (
	LondonLat, LondonLon             = 51.5074, -0.1278
	FrankfurtLat, FrankfurtLon       = 50.1109, 8.6821
	NewYorkLat, NewYorkLon           = 40.7128, -74.0060
	SanFranciscoLat, SanFranciscoLon = 37.7749, -122.4194
	SaoPauloLat, SaoPauloLon         = -23.5505, -46.6333
	SingaporeLat, SingaporeLon       = 1.3521, 103.8198
	TokyoLat, TokyoLon               = 35.6762, 139.6503
	SydneyLat, SydneyLon             = -33.8688, 151.2093
	JohannesburgLat, JohannesburgLon = -26.2041, 28.0473
)

// DemoNets returns a fixed set of client networks in nine cities on six
// continents, IPv4 and IPv6. They use only documentation ranges (RFC 5737,
// RFC 3849) and loopback subnets, and documentation AS numbers (RFC 5398,
// 64496–64511), so nothing in them is ever a real client. Each call returns
// a fresh slice.
//
//	network            city           country continent ASN
//	192.0.2.0/26       London         GB      EU        64496
//	192.0.2.64/26      Frankfurt      DE      EU        64497
//	192.0.2.128/26     Johannesburg   ZA      AF        64504
//	192.0.2.192/26     (absent: an address with no location)
//	198.51.100.0/26    New York       US      NA        64498
//	198.51.100.64/26   San Francisco  US      NA        64499
//	198.51.100.128/26  São Paulo      BR      SA        64500
//	198.51.100.192/26  (absent)
//	203.0.113.0/26     Singapore      SG      AS        64501
//	203.0.113.64/26    Tokyo          JP      AS        64502
//	203.0.113.128/26   Sydney         AU      OC        64503
//	203.0.113.192/26   (absent)
//	2001:db8:1::/48    London         GB      EU        64496
//	2001:db8:2::/48    Frankfurt      DE      EU        64497
//	2001:db8:10::/48   New York       US      NA        64498
//	2001:db8:11::/48   San Francisco  US      NA        64499
//	2001:db8:12::/48   São Paulo      BR      SA        64500
//	2001:db8:20::/48   Singapore      SG      AS        64501
//	2001:db8:21::/48   Tokyo          JP      AS        64502
//	2001:db8:30::/48   Sydney         AU      OC        64503
//	2001:db8:40::/48   Johannesburg   ZA      AF        64504
//	2001:db8:50::/48   (country only) DE      EU        64505, no coordinates
//	127.0.1.0/24       London         GB      EU        64496
//	127.0.2.0/24       New York       US      NA        64498
//	127.0.3.0/24       Singapore      SG      AS        64501
//
// The rest of 2001:db8::/32 is absent too.
//
// The IPv4 documentation nets are /26 because each documentation range is
// only a /24. With the default ECS limit of /24 an ECS query for, say,
// 198.51.100.77/24 is looked up as 198.51.100.0 and lands in the first /26
// (New York). To steer by these nets, send ECS /26 or longer and raise
// dns.ecs.max_prefix_v4; or use the IPv6 nets (/48, within the /56 limit)
// or the loopback nets (/24), which demos can also send from.
func DemoNets() []Net {
	london := Net{City: "London", Country: "GB", Continent: "EU", Lat: LondonLat, Lon: LondonLon, ASN: 64496, ASOrg: "Example Net London"}
	frankfurt := Net{City: "Frankfurt", Country: "DE", Continent: "EU", Lat: FrankfurtLat, Lon: FrankfurtLon, ASN: 64497, ASOrg: "Example Net Frankfurt"}
	newYork := Net{City: "New York", Country: "US", Continent: "NA", Lat: NewYorkLat, Lon: NewYorkLon, ASN: 64498, ASOrg: "Example Net New York"}
	sanFrancisco := Net{City: "San Francisco", Country: "US", Continent: "NA", Lat: SanFranciscoLat, Lon: SanFranciscoLon, ASN: 64499, ASOrg: "Example Net San Francisco"}
	saoPaulo := Net{City: "São Paulo", Country: "BR", Continent: "SA", Lat: SaoPauloLat, Lon: SaoPauloLon, ASN: 64500, ASOrg: "Example Net São Paulo"}
	singapore := Net{City: "Singapore", Country: "SG", Continent: "AS", Lat: SingaporeLat, Lon: SingaporeLon, ASN: 64501, ASOrg: "Example Net Singapore"}
	tokyo := Net{City: "Tokyo", Country: "JP", Continent: "AS", Lat: TokyoLat, Lon: TokyoLon, ASN: 64502, ASOrg: "Example Net Tokyo"}
	sydney := Net{City: "Sydney", Country: "AU", Continent: "OC", Lat: SydneyLat, Lon: SydneyLon, ASN: 64503, ASOrg: "Example Net Sydney"}
	johannesburg := Net{City: "Johannesburg", Country: "ZA", Continent: "AF", Lat: JohannesburgLat, Lon: JohannesburgLon, ASN: 64504, ASOrg: "Example Net Johannesburg"}
	countryOnly := Net{Country: "DE", Continent: "EU", ASN: 64505, ASOrg: "Example Net Germany"}

	at := func(prefix string, n Net) Net {
		n.Prefix = netip.MustParsePrefix(prefix)
		return n
	}
	return []Net{
		at("192.0.2.0/26", london),
		at("192.0.2.64/26", frankfurt),
		at("192.0.2.128/26", johannesburg),
		at("198.51.100.0/26", newYork),
		at("198.51.100.64/26", sanFrancisco),
		at("198.51.100.128/26", saoPaulo),
		at("203.0.113.0/26", singapore),
		at("203.0.113.64/26", tokyo),
		at("203.0.113.128/26", sydney),

		at("2001:db8:1::/48", london),
		at("2001:db8:2::/48", frankfurt),
		at("2001:db8:10::/48", newYork),
		at("2001:db8:11::/48", sanFrancisco),
		at("2001:db8:12::/48", saoPaulo),
		at("2001:db8:20::/48", singapore),
		at("2001:db8:21::/48", tokyo),
		at("2001:db8:30::/48", sydney),
		at("2001:db8:40::/48", johannesburg),
		at("2001:db8:50::/48", countryOnly),

		at("127.0.1.0/24", london),
		at("127.0.2.0/24", newYork),
		at("127.0.3.0/24", singapore),
	}
}
