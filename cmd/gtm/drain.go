package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gtm-project/gtm/internal/certpool"
)

// apiFlags are the flags of commands that talk to a node's API.
type apiFlags struct {
	api, token, tokenFile, caFile string
}

func (a *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.api, "api", envOr("GTM_API", "http://127.0.0.1:8053"), "URL of a gtm node's API ($GTM_API)")
	fs.StringVar(&a.token, "token", os.Getenv("GTM_TOKEN"), "bearer token ($GTM_TOKEN)")
	fs.StringVar(&a.tokenFile, "token-file", "", "file whose first word is the bearer token")
	fs.StringVar(&a.caFile, "ca-file", os.Getenv("GTM_CA_FILE"), "PEM CA bundle that verifies an https API ($GTM_CA_FILE; default: the system roots)")
}

// client is the HTTP client for the API: the default one, or one that
// trusts --ca-file (an API serving a certificate from a private CA).
func (a *apiFlags) client() (*http.Client, error) {
	if a.caFile == "" {
		return http.DefaultClient, nil
	}
	pool, _, err := certpool.Load(a.caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (a *apiFlags) bearer() (string, error) {
	if a.token != "" {
		return a.token, nil
	}
	if a.tokenFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(a.tokenFile)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "", fmt.Errorf("%s: empty token file", a.tokenFile)
	}
	return f[0], nil
}

// do sends one API request and returns the body; non-2xx is an error
// carrying the server's message.
func (a *apiFlags) do(ctx context.Context, method, path string) ([]byte, error) {
	tok, err := a.bearer()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.api, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	hc, err := a.client()
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		return body, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func runDrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return drainCmd(ctx, "drain", http.MethodPut, args, stdout, stderr)
}

func runUndrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return drainCmd(ctx, "undrain", http.MethodDelete, args, stdout, stderr)
}

func drainCmd(ctx context.Context, name, method string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gtm %s endpoint|zone|region NAME [flags]\n  (a zone is REGION/ZONE)\n", name)
		fs.PrintDefaults()
	}
	var a apiFlags
	a.register(fs)
	reason := fs.String("reason", "", "why (recorded with the drain)")
	if len(args) < 2 {
		fs.Usage()
		return exitError{2}
	}
	kind, target := args[0], args[1]
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	switch kind {
	case "endpoint", "zone", "region":
	default:
		fs.Usage()
		return exitError{2}
	}
	path := "/api/v1/drains/" + kind + "/" + target
	if *reason != "" {
		path += "?reason=" + url.QueryEscape(*reason)
	}
	if _, err := a.do(ctx, method, path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s %sed\n", kind, target, name)
	return nil
}
