package geo

import (
	"math"
	"testing"

	"github.com/gtm-project/gtm/geo/geotest"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		wantKm                 float64
	}{
		// Reference great-circle distances (rounded, published figures).
		{"London-New York", geotest.LondonLat, geotest.LondonLon, geotest.NewYorkLat, geotest.NewYorkLon, 5570},
		{"London-Frankfurt", geotest.LondonLat, geotest.LondonLon, geotest.FrankfurtLat, geotest.FrankfurtLon, 638},
		{"New York-San Francisco", geotest.NewYorkLat, geotest.NewYorkLon, geotest.SanFranciscoLat, geotest.SanFranciscoLon, 4130},
		{"Singapore-Sydney", geotest.SingaporeLat, geotest.SingaporeLon, geotest.SydneyLat, geotest.SydneyLon, 6300},
		{"Tokyo-San Francisco (across the antimeridian)", geotest.TokyoLat, geotest.TokyoLon, geotest.SanFranciscoLat, geotest.SanFranciscoLon, 8270},
		{"Sao Paulo-Johannesburg", geotest.SaoPauloLat, geotest.SaoPauloLon, geotest.JohannesburgLat, geotest.JohannesburgLon, 7440},
		{"pole to pole", 90, 0, -90, 0, math.Pi * earthRadiusKm},
		{"antipodes", 0, 0, 0, 180, math.Pi * earthRadiusKm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Distance(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
			if math.Abs(got-tt.wantKm) > tt.wantKm*0.01 {
				t.Errorf("Distance = %.0f km, want %.0f km ± 1%%", got, tt.wantKm)
			}
			if back := Distance(tt.lat2, tt.lon2, tt.lat1, tt.lon1); math.Abs(back-got) > 1e-9 {
				t.Errorf("not symmetric: %v vs %v", got, back)
			}
		})
	}
	if d := Distance(geotest.LondonLat, geotest.LondonLon, geotest.LondonLat, geotest.LondonLon); d != 0 {
		t.Errorf("same point: %v km", d)
	}
	// One hundredth of a degree of latitude is about 1.11 km: short
	// distances stay accurate.
	if d := Distance(51.50, -0.12, 51.51, -0.12); math.Abs(d-1.112) > 0.005 {
		t.Errorf("0.01° of latitude = %.4f km, want 1.112", d)
	}
}

func TestDistanceTo(t *testing.T) {
	london := Location{Lat: geotest.LondonLat, Lon: geotest.LondonLon, HasCoords: true}
	if d := london.DistanceTo(geotest.NewYorkLat, geotest.NewYorkLon); math.Abs(d-5570) > 55.7 {
		t.Errorf("DistanceTo = %.0f km, want 5570 ± 1%%", d)
	}
	// Without coordinates a location is nowhere, not at 0°N 0°E.
	if d := (Location{Country: "GB"}).DistanceTo(0, 0); !math.IsInf(d, 1) {
		t.Errorf("DistanceTo without coordinates = %v, want +Inf", d)
	}
}

func BenchmarkDistance(b *testing.B) {
	b.ReportAllocs()
	var sum float64
	for i := 0; b.Loop(); i++ {
		sum += Distance(geotest.LondonLat, geotest.LondonLon, geotest.NewYorkLat+float64(i&7), geotest.NewYorkLon)
	}
	if sum == 0 {
		b.Fatal("no distance")
	}
}
