package replay

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// ClientOptions say how replay connects to the target. A run and
// --check-only build their client from the same options, so the check
// tries what the run will do.
type ClientOptions struct {
	// Timeout bounds each request, body included (0: 30s). Connecting is
	// bounded by the smaller of it and 10s.
	Timeout time.Duration
	// Users sizes the pool of idle connections kept per host: at least
	// 100, or one per virtual user.
	Users int
	// CACert is a PEM file of certificates trusted for a TLS target
	// (--ca-cert), added to the system's roots; empty: the system's only.
	CACert string
	// Insecure skips the verification of the target's certificate
	// (--insecure): anyone on the path can then read and change the load.
	Insecure bool
	// ServerName is the name a TLS target is asked for and its
	// certificate checked against (Target.TLSServerName); empty: --host's.
	ServerName string
	// Client is what sends to a plain http:// target (Config.Client;
	// Check sends with it): ClientNetHTTP the client NewClient makes,
	// else replay's own HTTP/1.1 one.
	Client string
}

// NewClient is the HTTP client replay sends with: HTTP/1.1 only (the
// requests recorded over HTTP/2 go by clients made from it: h2Clients),
// connections kept alive, no proxy from the environment (replay
// goes where --host says), bodies not decompressed (they are measured as
// they come), redirects not followed (the recorded client's next request
// is in the trace). An unreadable CACert is an error: nothing is sent.
func NewClient(o ClientOptions) (*http.Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: min(o.Timeout, 10*time.Second)}).DialContext,
		TLSHandshakeTimeout: min(o.Timeout, 10*time.Second),
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: max(o.Users, 100),
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		// A non-nil empty map keeps HTTP/2 off for TLS targets too.
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: o.Insecure, ServerName: o.ServerName},
	}
	if o.CACert != "" {
		pool, err := certPool(o.CACert)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{
		Timeout:       o.Timeout,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// certPool is the system's roots and the certificates of the PEM file.
func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA certificates %s: %w", file, errNoPEM)
	}
	return pool, nil
}

var errNoPEM = errors.New("no PEM certificate in it (want -----BEGIN CERTIFICATE-----)")
