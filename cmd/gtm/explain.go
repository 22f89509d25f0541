package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gtm-project/gtm/routing"
)

// runExplain asks a node why it answers a question the way it does:
//
//	gtm explain NAME [--type A] [--client IP] [--ecs PREFIX] [--api URL] [--json]
//
// It calls GET /api/v1/explain and prints the client, its location, each
// candidate region with distance, measured RTT and health, the choice and
// the ECS scope: what `dig @node NAME +subnet=PREFIX` gets, and why.
func runExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gtm explain NAME [flags]")
		fs.PrintDefaults()
	}
	var a apiFlags
	a.register(fs)
	qtype := fs.String("type", "A", "query type")
	client := fs.String("client", "", "the resolver's address the query comes from (default: this machine's, as the node sees it)")
	ecs := fs.String("ecs", "", "EDNS Client Subnet the query carries, e.g. 198.51.100.0/24")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		fs.Usage()
		return exitError{2}
	}
	params := url.Values{"name": {name}, "type": {*qtype}}
	if *client != "" {
		params.Set("client", *client)
	}
	if *ecs != "" {
		params.Set("ecs", *ecs)
	}
	body, err := a.do(ctx, http.MethodGet, "/api/v1/explain?"+params.Encode())
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var ex routing.Explanation
	if err := json.Unmarshal(body, &ex); err != nil {
		return fmt.Errorf("reading the explanation from %s: %w", a.api, err)
	}
	fmt.Fprintf(stdout, "node         %s (snapshot %d)\n", a.api, ex.SnapshotVersion)
	return ex.WriteText(stdout)
}
