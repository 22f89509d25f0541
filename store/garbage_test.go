package store

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/redistest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// TestRedisGarbageSkipped: a document, drain or result that does not
// decode (written by hand, by a bug, by another version) is skipped and
// counted; the rest keeps being read; each is logged once until its value
// changes; junk on the change channel is logged at most every 10 s.
func TestRedisGarbageSkipped(t *testing.T) {
	srv := redistest.Start(t)
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	r, err := NewRedis(RedisOptions{Addrs: []string{srv.Addr}, Prefix: "gtmtest", MinResultTTL: suiteMinTTL, SafetyInterval: time.Second, Registerer: reg},
		zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	ctx := context.Background()
	if _, err := r.PutDoc(ctx, KindZone, "good.example.", []byte("zone"), DocMeta{By: "a"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.SetDrain(ctx, Drain{Kind: DrainRegion, Name: "eu-west"}, true); err != nil {
		t.Fatal(err)
	}
	if err := r.PutResults(ctx, []ProbeResult{result("s.", "e", "p1", true, time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
	defer raw.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(raw.HSet(ctx, r.keys.docs(KindZone), "bad.example.", "{not json").Err())
	must(raw.HSet(ctx, r.keys.drains, "region/junk", "[1,2").Err())
	must(raw.HSet(ctx, r.keys.proberPrefix+"p1", "junk", "99999999999999 {oops").Err())
	must(raw.HSet(ctx, r.keys.proberPrefix+"p1", "noexpiry", "xyz").Err())

	for i := 0; i < 3; i++ { // three syncs' worth of reads
		docs, err := r.Docs(ctx, KindZone)
		if err != nil || len(docs) != 1 || docs[0].Name != "good.example." {
			t.Fatalf("docs beside a bad one: %v %v", docs, err)
		}
		drains, err := r.Drains(ctx)
		if err != nil || len(drains) != 1 {
			t.Fatalf("drains beside a bad one: %v %v", drains, err)
		}
		rs, err := r.Results(ctx)
		if err != nil || len(rs) != 1 {
			t.Fatalf("results beside bad ones: %v %v", rs, err)
		}
	}
	for kind, want := range map[string]float64{garbageDoc: 1, garbageDrain: 1, garbageResult: 1, garbageEntry: 1} {
		if got := testutil.ToFloat64(r.garbage.count.WithLabelValues(kind)); got != want {
			t.Errorf("gtm_store_decode_errors_total{kind=%q} = %v, want %v", kind, got, want)
		}
	}
	if n := strings.Count(logs.String(), "undecodable entry in the store skipped"); n != 4 {
		t.Errorf("%d log lines for 4 bad entries read 3 times, want 4:\n%s", n, logs.String())
	}
	// A changed bad value is told again; a fixed one is forgotten.
	must(raw.HSet(ctx, r.keys.docs(KindZone), "bad.example.", "{still not").Err())
	if _, err := r.Docs(ctx, KindZone); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(r.garbage.count.WithLabelValues(garbageDoc)); got != 2 {
		t.Errorf("a changed bad doc counted %v times, want 2", got)
	}

	// Junk on the change channel: the feed keeps going, one line.
	sub := r.Subscribe(ctx)
	waitChange(t, sub, WhatConfig, 0, 5*time.Second)
	for i := 0; i < 50; i++ {
		must(raw.Publish(ctx, r.keys.channel, "junk").Err())
	}
	must(r.SetDrain(ctx, Drain{Kind: DrainRegion, Name: "us-east"}, true))
	waitChange(t, sub, WhatDrains, 0, 5*time.Second)
	if n := strings.Count(logs.String(), "malformed change message ignored"); n != 1 {
		t.Errorf("%d log lines for 50 junk messages, want 1", n)
	}
	if got := testutil.ToFloat64(r.garbage.count.WithLabelValues(garbageChange)); got != 50 {
		t.Errorf("junk messages counted %v, want 50", got)
	}
}
