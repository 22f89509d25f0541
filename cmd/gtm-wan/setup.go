package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ipCmd runs `ip ARGS...` and returns its error with its output.
func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// configureSite brings up lo and the TUN in the site's namespace, gives
// the TUN the site's addresses and routes the WAN range through it, with
// the first address as source. Nothing is changed outside the namespace.
func configureSite(ctx context.Context, s *Site, tun string, rng string) error {
	ns := s.Netns
	cmds := [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
	}
	for _, a := range s.addrs {
		cmds = append(cmds, []string{"-n", ns, "addr", "add", a.String() + "/32", "dev", tun})
	}
	cmds = append(cmds,
		[]string{"-n", ns, "link", "set", tun, "up"},
		[]string{"-n", ns, "route", "replace", rng, "dev", tun, "src", s.addrs[0].String()},
	)
	for _, c := range cmds {
		if err := ipCmd(ctx, c...); err != nil {
			return fmt.Errorf("site %s: %w", s.Name, err)
		}
	}
	return nil
}

// createNetns adds the namespaces of the sites that do not exist yet and
// returns the names it added, for deleteNetns.
func createNetns(ctx context.Context, sites []Site) ([]string, error) {
	var made []string
	for _, s := range sites {
		if _, err := os.Stat(netnsPath(s.Netns)); err == nil {
			continue
		}
		if err := ipCmd(ctx, "netns", "add", s.Netns); err != nil {
			return made, err
		}
		made = append(made, s.Netns)
	}
	return made, nil
}

// deleteNetns removes namespaces created by createNetns.
func deleteNetns(names []string) error {
	var errs []error
	for _, n := range names {
		errs = append(errs, ipCmd(context.Background(), "netns", "del", n))
	}
	return errors.Join(errs...)
}
