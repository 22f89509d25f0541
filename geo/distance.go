package geo

import "math"

// earthRadiusKm is the mean Earth radius (IUGG). The haversine formula on a
// sphere is within about 0.5% of the ellipsoidal distance, far finer than
// the city-level accuracy of GeoIP coordinates.
const earthRadiusKm = 6371.0088

// Distance is the great-circle distance in kilometres between two points
// given in degrees, by the haversine formula (numerically stable for the
// short distances that matter most when ranking nearby regions).
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ := (lat2 - lat1) * rad
	dλ := (lon2 - lon1) * rad
	sφ, sλ := math.Sin(dφ/2), math.Sin(dλ/2)
	h := sφ*sφ + math.Cos(φ1)*math.Cos(φ2)*sλ*sλ
	// Rounding can push h a hair above 1 for antipodal points.
	h = math.Min(h, 1)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(h))
}

// DistanceTo is the great-circle distance in kilometres from l to the point
// (lat, lon). Without coordinates (HasCoords false) it returns +Inf, so an
// unlocated client sorts after every located comparison instead of
// appearing to sit at 0°N 0°E.
func (l Location) DistanceTo(lat, lon float64) float64 {
	if !l.HasCoords {
		return math.Inf(1)
	}
	return Distance(l.Lat, l.Lon, lat, lon)
}
