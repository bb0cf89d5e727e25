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
// report. Hint says what to do about the certificate ones and HTTP/2 refused.
const (
	LabelTLSUnknownAuthority = "tls: unknown certificate authority"
	LabelTLSWrongHost        = "tls: certificate not valid for this host"
	LabelTLSExpired          = "tls: certificate expired or not yet valid"
	LabelTLSInvalid          = "tls: invalid certificate"
	LabelTLSNotTLS           = "tls: the server did not answer TLS (an http:// port?)"
	LabelTLSAlert            = "tls: the server refused the handshake"
	LabelTLSFailed           = "tls: handshake failed"
)

// LabelNoH2C is the error of a request sent over HTTP/2 by prior
// knowledge (h2c) to a server that answered something else (an HTTP/1.x
// answer to the preface): it speaks no HTTP/2 without TLS.
const LabelNoH2C = "the target does not speak HTTP/2 without TLS (h2c): its answer was not HTTP/2"

// LabelH2Unusable is the error of a request that waited for an HTTP/2
// connection whose setup failed: net/http keeps the reason for the
// request that met it, and a target that speaks no HTTP/2 is the usual
// one.
const LabelH2Unusable = "HTTP/2 connection could not be established"

// LabelNoH2TLS is the error of a request sent over HTTP/2 to a TLS target
// that did not choose h2 by ALPN at the handshake.
const LabelNoH2TLS = "the target does not speak HTTP/2 over TLS: it chose no h2 by ALPN"

// Hint is what to try for a TLS failure label, or for LabelNoH2C; "".
func Hint(label string) string {
	switch label {
	case LabelNoH2C, LabelNoH2TLS, LabelH2Unusable:
		return "give --http1 to send the requests recorded over HTTP/2 over HTTP/1.1, or point --host at the target's HTTP/2 port"
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
	if errors.Is(err, errNoALPNH2) {
		return LabelNoH2TLS
	}
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
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		// EPIPE: a write after the server closed (an HTTP/2 connection's
		// frames sent while its GOAWAY and close were on the way).
		return "connection reset"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "connection closed before the response ended"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	msg := err.Error()
	if label := classifyH2(msg); label != "" {
		return label
	}
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
	// 120: no_application_protocol, a server refusing our ALPN: only the
	// HTTP/2 clients offer one (h2), the HTTP/1.1 ones none.
	const noApplicationProtocol = tls.AlertError(120)
	switch {
	case errors.As(err, &alert) && alert == noApplicationProtocol,
		errors.As(err, &op) && op.Op == "remote error" && op.Err != nil && strings.HasSuffix(op.Err.Error(), noApplicationProtocol.Error()):
		return LabelNoH2TLS
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

// classifyH2 labels net/http's HTTP/2 errors, which are of unexported
// types: by their text, the stream or connection's error code kept (a
// few labels, nothing from the server's debug data).
func classifyH2(msg string) string {
	switch {
	case strings.Contains(msg, "stream error: ") && strings.Contains(msg, "received from peer"):
		// "stream error: stream ID 3; INTERNAL_ERROR; received from peer"
		return "stream reset by the server: " + h2Code(msg[strings.Index(msg, "stream error: "):], "; ", ";")
	case strings.Contains(msg, "stream error: "):
		// One the client found ("...; PROTOCOL_ERROR; invalid header
		// field value for \"X-Foo\""): its code, not the server's text.
		return "HTTP/2 stream error: " + h2Code(msg[strings.Index(msg, "stream error: "):], "; ", ";")
	case strings.Contains(msg, "server sent GOAWAY"):
		// "http2: server sent GOAWAY and closed the connection;
		// LastStreamID=1, ErrCode=ENHANCE_YOUR_CALM, debug=..."
		return "connection sent away by the server (GOAWAY " + h2Code(msg, "ErrCode=", ",") + ")"
	case strings.Contains(msg, "looked like an HTTP/1.1 header"), strings.HasSuffix(msg, "http2: frame too large"):
		// net/http names an HTTP/1.1 answer; an HTTP/1.0 one (Python's
		// http.server) reads as a frame too large: no HTTP/2 server
		// sends one larger than the client's settings allow.
		return LabelNoH2C
	case strings.Contains(msg, "client connection force closed"):
		// The connection the stream was on went down under it.
		return "connection closed before the response ended"
	case strings.Contains(msg, "client conn could not be established"):
		// A request that waited for a connection whose setup failed
		// (the first request's error says why).
		return LabelH2Unusable
	}
	return ""
}

// h2Code is the error code in msg between the first after and the end
// that follows: an upper-case name such as INTERNAL_ERROR, or "unknown
// code".
func h2Code(msg, after, end string) string {
	_, msg, _ = strings.Cut(msg, after)
	code, _, _ := strings.Cut(msg, end)
	for _, c := range code {
		if (c < 'A' || c > 'Z') && c != '_' {
			return "unknown code"
		}
	}
	if code == "" {
		return "unknown code"
	}
	return code
}
