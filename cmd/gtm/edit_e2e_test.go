package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/redistest"
)

// TestZoneEditReachesOtherNode: `gtm zone apply` through one node's API is
// answered by another node sharing Redis within 1s; a rollback too.
func TestZoneEditReachesOtherNode(t *testing.T) {
	r := redistest.Start(t)
	w := newWorld(t, fmt.Sprintf("{addrs: [%q]}", r.Addr), "eu", "us")
	eu, us := w.nodes["eu"], w.nodes["us"]
	until(t, us, "api.example.com", all3, 10*time.Second)

	edited := filepath.Join(w.dir, "edited.zone")
	writeFiles(t, w.dir, map[string]string{"edited.zone": serveZone + "new A 192.0.2.99\n"})
	cli := func(args ...string) string {
		var out, errb strings.Builder
		args = append(args, "--api", "http://"+eu.API, "--token", testToken)
		if code := runArgs(args, &out, &errb); code != 0 {
			t.Fatalf("gtm %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	start := time.Now()
	cli("zone", "apply", "-f", edited, "--origin", "example.com.")
	until(t, us, "new.example.com", []string{"192.0.2.99"}, time.Second)
	t.Logf("zone edit on eu answered by us after %s", time.Since(start).Round(time.Millisecond))

	hist := cli("zone", "history", "example.com.")
	if !strings.Contains(hist, "new A 192.0.2.99") && !strings.Contains(hist, "v1") && !strings.Contains(hist, "1") {
		t.Errorf("history:\n%s", hist)
	}
	// A bad edit is refused with its line; the good one keeps serving.
	writeFiles(t, w.dir, map[string]string{"bad.zone": serveZone + "new A 192.0.2.99\nbroken A nope\n"})
	var out, errb strings.Builder
	code := runArgs([]string{"zone", "apply", "-f", filepath.Join(w.dir, "bad.zone"), "--origin", "example.com.",
		"--api", "http://" + eu.API, "--token", testToken}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String()+out.String(), ":8:") {
		t.Errorf("bad edit: exit %d, output:\n%s%s", code, out.String(), errb.String())
	}
	until(t, us, "new.example.com", []string{"192.0.2.99"}, time.Second)

	// Deleting the API copy brings back the files' zone everywhere.
	cli("zone", "delete", "example.com.")
	r2, err := us.Query("new.example.com", 1)
	for deadline := time.Now().Add(time.Second); err == nil && r2.Rcode != 3 && time.Now().Before(deadline); r2, err = us.Query("new.example.com", 1) {
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || r2.Rcode != 3 {
		t.Errorf("after delete: new.example.com on us = %v %v, want NXDOMAIN", r2, err)
	}
}
