// Command gtm is a global traffic manager: an authoritative DNS server that
// answers gateway hostnames with the nearest healthy regional endpoint.
//
//	gtm serve --config FILE     DNS, API and metrics (and a prober)
//	gtm check --config FILE     validate config and zones
//	gtm version                 print the version
//	gtm help                    list subcommands
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "serve DNS, the API and metrics (and probe, unless disabled)", runServe},
		{"probe", "run a prober alone for node.region, writing to the state store", runProbe},
		{"check", "validate the config and zone files; print every error", runCheck},
		{"zone", "edit zones through the API: list, get, apply, delete, history, rollback", runZone},
		{"service", "edit services through the API: list, get, apply, delete, history, rollback", runService},
		{"explain", "show how a node decides the answer for a client", runExplain},
		{"demo", "a self-contained tour on loopback: three regions, GeoIP, failover", runDemo},
		{"drain", "take an endpoint, zone (REGION/ZONE) or region out of answers", runDrain},
		{"undrain", "put a drained endpoint, zone or region back", runUndrain},
		{"version", "print the version", runVersion},
		{"help", "list subcommands", nil},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries an exit code other than 1.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] || c.run == nil {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ee exitError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ee):
			return ee.code
		default:
			fmt.Fprintf(stderr, "gtm %s: %v\n", args[0], err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "gtm: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "gtm: a global traffic manager (authoritative DNS with health-checked, latency-steered answers)")
	fmt.Fprintln(w, "\nUsage: gtm <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'gtm <command> -h' for a command's flags.")
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev-" + s.Value[:12]
			}
		}
	}
	fmt.Fprintf(stdout, "gtm %s\n", v)
	return nil
}
