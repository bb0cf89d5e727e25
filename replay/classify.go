package replay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// Labels of TLS failures: one per kind, whatever the path or host, so a
// run against a misconfigured TLS target has one row in the failures
// report. TLSHint says what to do about the certificate ones.
const (
	LabelTLSUnknownAuthority = "tls: unknown certificate authority"
	LabelTLSWrongHost        = "tls: certificate not valid for this host"
	LabelTLSExpired          = "tls: certificate expired or not yet valid"
	LabelTLSInvalid          = "tls: invalid certificate"
	LabelTLSNotTLS           = "tls: the server did not answer TLS (an http:// port?)"
	LabelTLSAlert            = "tls: the server refused the handshake"
	LabelTLSFailed           = "tls: handshake failed"
)

// TLSHint is what to try for a TLS failure label, or "".
func TLSHint(label string) string {
	switch label {
	case LabelTLSUnknownAuthority:
		return "pass the CA that signed the target's certificate with --ca-cert FILE, or --insecure to skip verification"
	case LabelTLSWrongHost:
		return "use the host name the certificate names in --host (with --header 'Host: ...' if the name does not resolve here), or --insecure"
	case LabelTLSExpired:
		return "renew the target's certificate, check this machine's clock, or --insecure"
	case LabelTLSInvalid, LabelTLSFailed:
		return "check the target's certificate, or --insecure"
	case LabelTLSNotTLS:
		return "the port speaks plain HTTP: use http:// in --host"
	}
	if strings.HasPrefix(label, LabelTLSAlert) {
		return "the server may want a client certificate or another TLS version"
	}
	return ""
}

// Classify turns a transport error into a short, stable label for the
// results' error column and the failures report.
func Classify(err error) string {
	if label := classifyTLS(err); label != "" {
		return label
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "connection closed before the response ended"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	msg := err.Error()
	if strings.Contains(msg, "malformed HTTP") {
		// The server's bytes stay out of the label: one label, not one
		// per kind of garbage, and nothing from the wire in reports.
		return "malformed HTTP response"
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 && len(msg)-i < 80 {
		msg = msg[i+2:]
	}
	return msg
}

// classifyTLS is the label of a TLS failure, or "". The x509 errors name
// hosts and certificates; the labels do not.
func classifyTLS(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
		op       *net.OpError
	)
	switch {
	case errors.As(err, &unknown):
		return LabelTLSUnknownAuthority
	case errors.As(err, &hostname):
		return LabelTLSWrongHost
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return LabelTLSExpired
	case errors.As(err, &invalid), errors.As(err, &verify):
		return LabelTLSInvalid
	case errors.As(err, &record):
		return LabelTLSNotTLS
	case errors.As(err, &alert):
		return LabelTLSAlert + ": " + strings.TrimPrefix(alert.Error(), "tls: ")
	case errors.As(err, &op) && op.Op == "remote error" && op.Err != nil:
		// An alert the server sent ("remote error: tls: bad certificate"):
		// its description is one of a few dozen, and says what went wrong.
		return LabelTLSAlert + ": " + strings.TrimPrefix(op.Err.Error(), "tls: ")
	}
	switch msg := err.Error(); {
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		// net/http's own words for the RecordHeaderError of an HTTP answer.
		return LabelTLSNotTLS
	case strings.Contains(msg, "tls: ") && !isTimeout(err):
		return LabelTLSFailed
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
