package main

import (
	"testing"

	"github.com/rs/zerolog"
)

// TestFitConnCaps: the caps, all full, stay within 3/4 of the open file
// limit (at least 64 descriptors kept for the rest), in the configured
// proportion; a large limit leaves them alone.
func TestFitConnCaps(t *testing.T) {
	want := connCaps{dnsPerListener: 1000, dnsPerClient: 10, api: 256}
	for _, tc := range []struct {
		nofile    uint64
		listeners int
		want      connCaps
	}{
		{1 << 20, 2, want},
		{0, 1, want}, // unknown limit: as configured
		{256, 1, connCaps{dnsPerListener: 152, dnsPerClient: 10, api: 39}},
		{1024, 2, connCaps{dnsPerListener: 340, dnsPerClient: 10, api: 87}},
		{32, 1, connCaps{dnsPerListener: 12, dnsPerClient: 10, api: 3}},
		{16, 1, connCaps{dnsPerListener: 6, dnsPerClient: 6, api: 1}},
	} {
		got := fitConnCaps(zerolog.Nop(), tc.nofile, tc.listeners, want)
		if got != tc.want {
			t.Errorf("limit %d, %d listeners: %+v, want %+v", tc.nofile, tc.listeners, got, tc.want)
		}
		if tc.nofile >= 256 && uint64(got.dnsPerListener*tc.listeners+got.api) > tc.nofile*3/4 {
			t.Errorf("limit %d: caps %+v exceed 3/4 of it", tc.nofile, got)
		}
	}
	if got := fitConnCaps(zerolog.Nop(), 256, 0, connCaps{api: 256}); got.api != 192 {
		t.Errorf("probe (no DNS) under 256: api cap %d, want 192", got.api)
	}
}
