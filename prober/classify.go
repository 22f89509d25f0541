package prober

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/gtm-project/gtm/store"
)

// classify sorts a probe error into the classes health and operators
// reason with. ctx is the probe's context: once its deadline passed, the
// failure is a timeout whatever error the layer below made of it.
func classify(ctx context.Context, err error) store.ErrClass {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return store.ErrTimeout
	}
	if err == nil {
		return store.ErrOther
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return store.ErrRefused
	}
	if isTLSError(err) {
		return store.ErrTLS
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return store.ErrTimeout
	}
	return store.ErrOther
}

func isTLSError(err error) bool {
	var (
		rh   tls.RecordHeaderError
		alt  tls.AlertError
		cve  *tls.CertificateVerificationError
		ech  *tls.ECHRejectionError
		ua   x509.UnknownAuthorityError
		he   x509.HostnameError
		ci   x509.CertificateInvalidError
		ctls x509.ConstraintViolationError
	)
	switch {
	case errors.Is(err, http.ErrSchemeMismatch), // a plain HTTP server on a TLS port
		errors.As(err, &rh), errors.As(err, &alt), errors.As(err, &cve), errors.As(err, &ech),
		errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci), errors.As(err, &ctls):
		return true
	}
	// crypto/tls returns many handshake failures as plain errors whose text
	// starts "tls: " (e.g. "tls: handshake failure", a protocol mismatch).
	return strings.Contains(err.Error(), "tls: ")
}
