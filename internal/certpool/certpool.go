// Package certpool reads PEM CA bundles: the one loader for every private
// CA gtm verifies against (https checks, Redis over TLS, the CLI's API
// client).
package certpool

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load reads a PEM CA bundle; it returns the pool and the file's bytes (to
// tell a changed file on reload). A file without a certificate is an error.
func Load(path string) (*x509.CertPool, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, b, nil
}
