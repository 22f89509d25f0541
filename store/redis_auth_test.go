package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtm-project/gtm/internal/redistest"
	"github.com/gtm-project/gtm/internal/testpki"
	"github.com/rs/zerolog"
)

// The whole conformance suite over TLS with a private CA and a client
// certificate, as a self-hosted Redis with TLS is usually run.
func TestRedisTLSConformance(t *testing.T) {
	pki := testpki.New(t)
	srv := redistest.StartTLS(t, pki)
	runConformance(t, redisBackend(RedisOptions{
		Addrs: []string{srv.TLSAddr}, TLS: true,
		TLSCAFile: pki.CACert, TLSCertFile: pki.ClientCert, TLSKeyFile: pki.ClientKey,
	}))
}

// Each way TLS can be misconfigured fails with an error that says what.
func TestRedisTLSErrors(t *testing.T) {
	pki := testpki.New(t)
	other := testpki.New(t)
	srv := redistest.StartTLS(t, pki)
	ctx := context.Background()
	good := RedisOptions{Addrs: []string{srv.TLSAddr}, TLS: true,
		TLSCAFile: pki.CACert, TLSCertFile: pki.ClientCert, TLSKeyFile: pki.ClientKey}

	ping := func(o RedisOptions) error { return newTestRedis(t, o).Ping(ctx) }
	if err := ping(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	named := good
	named.TLSServerName = "localhost" // the server certificate holds it too
	if err := ping(named); err != nil {
		t.Fatalf("tls_server_name localhost: %v", err)
	}

	for _, c := range []struct {
		name string
		edit func(*RedisOptions)
		want string // in the Ping error
	}{
		{"system roots do not know a private CA", func(o *RedisOptions) { o.TLSCAFile = "" }, "certificate"},
		{"another CA", func(o *RedisOptions) { o.TLSCAFile = other.CACert }, "certificate"},
		{"server name not in the certificate", func(o *RedisOptions) { o.TLSServerName = "redis.example.net" }, "redis.example.net"},
		{"no client certificate", func(o *RedisOptions) { o.TLSCertFile, o.TLSKeyFile = "", "" }, ""},
		{"plain TCP to the TLS port", func(o *RedisOptions) { o.TLS = false }, ""},
	} {
		o := good
		c.edit(&o)
		err := ping(o)
		if err == nil {
			t.Errorf("%s: Ping succeeded", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to mention %q", c.name, err, c.want)
		}
	}

	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*RedisOptions)
		want string // in the NewRedis error
	}{
		{"missing CA file", func(o *RedisOptions) { o.TLSCAFile = filepath.Join(dir, "none.pem") }, "CA file"},
		{"CA file without PEM", func(o *RedisOptions) { o.TLSCAFile = notPEM }, "no PEM certificate"},
		{"certificate without key", func(o *RedisOptions) { o.TLSKeyFile = "" }, "both a certificate file and a key file"},
		{"key that does not match", func(o *RedisOptions) { o.TLSKeyFile = other.ClientKey }, "client certificate"},
	} {
		o := good
		c.edit(&o)
		_, err := NewRedis(o, zerolog.Nop())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewRedis error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

// Sentinels with their own password: the client authenticates to them
// with the sentinel credentials and to the master with the data ones.
func TestRedisSentinelWithPasswords(t *testing.T) {
	s := redistest.StartSentinelAuth(t, "data-s3cret", "sentinel-s3cret")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	data, sent := write("data", s.Password), write("sentinel", s.SentinelPassword)
	ctx := context.Background()
	good := RedisOptions{Addrs: s.Addrs, MasterName: s.MasterName, PasswordFile: data, SentinelPasswordFile: sent}
	r := newTestRedis(t, good)
	if err := r.Ping(ctx); err != nil {
		t.Fatalf("both passwords: %v", err)
	}
	if _, err := r.PutDoc(ctx, KindZone, "example.com.", []byte("z"), DocMeta{}, 0); err != nil {
		t.Fatalf("write through the master: %v", err)
	}

	noSentinel := good
	noSentinel.SentinelPasswordFile = ""
	if err := newTestRedis(t, noSentinel).Ping(ctx); err == nil {
		t.Error("without the sentinel password: Ping succeeded")
	}
	if _, err := NewRedis(RedisOptions{Addrs: s.Addrs, MasterName: s.MasterName, SentinelPasswordFile: filepath.Join(dir, "none")}, zerolog.Nop()); err == nil ||
		!strings.Contains(err.Error(), "sentinel password") {
		t.Errorf("missing sentinel password file: %v, want an error naming it", err)
	}
}
