package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// TestHandleExplain: the parameters reach the explain function parsed,
// the client defaults to the caller, errors map to 400 and 503.
func TestHandleExplain(t *testing.T) {
	s := New("127.0.0.1:0", prometheus.NewRegistry(), nil, zerolog.Nop())
	var got ExplainRequest
	s.HandleExplain(func(r ExplainRequest) (any, error) {
		got = r
		switch r.Name {
		case "bad.":
			return nil, fmt.Errorf("unknown type: %w", ErrBadRequest)
		case "down.":
			return nil, fmt.Errorf("no snapshot yet")
		}
		return map[string]string{"chosen": "eu-west"}, nil
	})
	hs := httptest.NewServer(s.Mux)
	defer hs.Close()
	get := func(params url.Values) (int, map[string]string) {
		t.Helper()
		resp, err := http.Get(hs.URL + "/api/v1/explain?" + params.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	code, body := get(url.Values{"name": {"api.example.com."}, "type": {"AAAA"}, "client": {"192.0.2.53"}, "ecs": {"198.51.100.0/24"}})
	if code != http.StatusOK || body["chosen"] != "eu-west" {
		t.Fatalf("%d %v", code, body)
	}
	want := ExplainRequest{Name: "api.example.com.", Type: "AAAA", Client: netip.MustParseAddr("192.0.2.53"), ECS: netip.MustParsePrefix("198.51.100.0/24")}
	if got != want {
		t.Errorf("request %+v, want %+v", got, want)
	}
	if code, _ := get(url.Values{"name": {"api.example.com."}, "ecs": {"2001:db8::1"}}); code != http.StatusOK ||
		got.Type != "A" || got.Client != netip.MustParseAddr("127.0.0.1") || got.ECS != netip.MustParsePrefix("2001:db8::1/128") {
		t.Errorf("defaults: %d %+v, want type A, the caller's address, a /128", code, got)
	}
	for _, tc := range []struct {
		params url.Values
		code   int
	}{
		{url.Values{}, http.StatusBadRequest},
		{url.Values{"name": {"x."}, "client": {"nope"}}, http.StatusBadRequest},
		{url.Values{"name": {"x."}, "ecs": {"192.0.2.0/99"}}, http.StatusBadRequest},
		{url.Values{"name": {"bad."}}, http.StatusBadRequest},
		{url.Values{"name": {"down."}}, http.StatusServiceUnavailable},
	} {
		if code, body := get(tc.params); code != tc.code || body["error"] == "" {
			t.Errorf("%v: %d %v, want %d with an error", tc.params, code, body, tc.code)
		}
	}
}
