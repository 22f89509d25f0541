package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/gtm-project/gtm/internal/redistest"
	"github.com/gtm-project/gtm/internal/testpki"
)

// tlsNodeConfig: state in a TLS-only Redis, with the CA and the client
// certificate given relative to the config file.
const tlsNodeConfig = `
node: {region: eu, id: node-eu}
dns: {listen: ["127.0.0.1:0"]}
api: {listen: "127.0.0.1:0"}
state:
  backend: redis
  redis:
    addrs: [%q]
    tls: true
    tls_ca_file: ca.pem
    tls_cert_file: client.pem
    tls_key_file: client-key.pem
regions:
  eu: {lat: 50, lon: 8}
zones:
  - {origin: example.com., file: example.com.zone}
`

// gtm serve keeps its state in a Redis reached over TLS with a private CA
// and a client certificate; a file it cannot read stops it at start with
// the config key named.
func TestServeRedisOverTLS(t *testing.T) {
	pki := testpki.New(t)
	r := redistest.StartTLS(t, pki)
	dir := t.TempDir()
	files := map[string]string{"example.com.zone": serveZone, "gtm.yaml": fmt.Sprintf(tlsNodeConfig, r.TLSAddr)}
	for name, src := range map[string]string{"ca.pem": pki.CACert, "client.pem": pki.ClientCert, "client-key.pem": pki.ClientKey} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	writeFiles(t, dir, files)

	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	eventuallyT(t, 10*time.Second, "/readyz shows the store up with the epoch written", func() error {
		_, body, err := p.Get("/readyz")
		if err != nil || !strings.Contains(body, `"store_up":true`) || strings.Contains(body, `"config_version":0`) {
			return fmt.Errorf("%s (%v)", body, err)
		}
		return nil
	})
	if _, m, err := p.Get("/metrics"); err != nil || !regexpLine(m, `^gtm_state_sync_seconds_count [1-9]`) {
		t.Errorf("no sync counted in gtm_state_sync_seconds (%v)", err)
	}
	if err := p.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}

	if err := os.Remove(filepath.Join(dir, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gtmtest.Binary(t), "serve", "--config", filepath.Join(dir, "gtm.yaml")).CombinedOutput()
	if err == nil {
		t.Fatalf("gtm serve started without its CA file:\n%s", out)
	}
	if !strings.Contains(string(out), "state.redis.tls_ca_file") || !strings.Contains(string(out), "ca.pem") {
		t.Errorf("the error does not name the key and the file:\n%s", out)
	}
}

// The API commands verify an https API against --ca-file (a private CA),
// and refuse it without.
func TestCLIVerifiesAPIWithCAFile(t *testing.T) {
	pki := testpki.New(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"example.com.zone": serveZone,
		"tokens":           testToken + " rw ops\n",
		"gtm.yaml": fmt.Sprintf(`
node: {region: eu, id: node-eu}
dns: {listen: ["127.0.0.1:0"]}
api: {listen: "127.0.0.1:0", token_file: tokens, tls_cert_file: %q, tls_key_file: %q}
regions:
  eu: {lat: 50, lon: 8}
zones:
  - {origin: example.com., file: example.com.zone}
`, pki.ServerCert, pki.ServerKey),
	})
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	run := func(args ...string) (string, error) {
		args = append(args, "--api", "https://"+p.API, "--token", testToken)
		out, err := exec.Command(gtmtest.Binary(t), args...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("drain", "region", "eu", "--ca-file", pki.CACert); err != nil {
		t.Fatalf("drain with --ca-file: %v\n%s", err, out)
	}
	cmd := exec.Command(gtmtest.Binary(t), "undrain", "region", "eu", "--api", "https://"+p.API, "--token", testToken)
	cmd.Env = append(os.Environ(), "GTM_CA_FILE="+pki.CACert)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("undrain with $GTM_CA_FILE: %v\n%s", err, out)
	}
	out, err := run("drain", "region", "eu")
	if err == nil || !strings.Contains(out, "certificate") {
		t.Fatalf("drain without the CA: %v, want a certificate error:\n%s", err, out)
	}
	out, err = run("zone", "list", "--ca-file", filepath.Join(dir, "tokens"))
	if err == nil || !strings.Contains(out, "no PEM certificate") {
		t.Fatalf("zone list with a file that is no CA: %v\n%s", err, out)
	}
}
