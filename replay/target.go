// Package replay re-issues recorded sessions against a target as virtual
// users (the closed model) or on a fixed schedule (the open model), and
// streams one results row per request.
package replay

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/replaykit/replaykit/redact"
	"github.com/replaykit/replaykit/session"
)

// Target is where replayed requests go, and what replaces the recorded
// credentials.
type Target struct {
	// Base is the scheme, host and optional path prefix to send to.
	Base *url.URL
	// APIKey, when set, replaces every recorded credential: X-API-Key, and
	// Authorization as a bearer token. Recorded credentials are redacted
	// hashes, so without it the target sees "redacted:..." values.
	APIKey string
	// Headers are added to every request, replacing recorded ones.
	Headers http.Header
}

// ParseTarget reads --host.
func ParseTarget(host string) (*Target, error) {
	u, err := url.Parse(host)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--host %q: want a URL such as http://localhost:8000", host)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Target{Base: u, Headers: http.Header{}}, nil
}

// hopByHop are headers of one connection, not of the request: the client
// sets its own. Content-Length comes from the body sent; Expect would make
// every upload wait for a 100 Continue.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Content-Length": true, "Host": true, "Expect": true,
	"Proxy-Authorization": true,
}

// NewRequest builds the request to send for a recorded one.
func (t *Target) NewRequest(ctx context.Context, r *session.Request) (*http.Request, error) {
	path := r.Path
	if i := strings.Index(path, "://"); i >= 0 { // absolute form, recorded from a proxy client
		rest := path[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			path = rest[j:]
		} else {
			path = "/"
		}
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := *t.Base
	raw := t.Base.Path + path
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		u.Path, u.RawQuery = "", raw[i+1:]
		raw = raw[:i]
	} else {
		u.RawQuery = ""
	}
	u.Path = ""
	u.RawPath = ""
	u.Opaque = "//" + t.Base.Host + raw // the path as recorded, not re-escaped
	var body *bytes.Reader
	if len(r.Body) > 0 {
		body = bytes.NewReader(r.Body)
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	} else {
		req, err = http.NewRequestWithContext(ctx, r.Method, u.String(), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("trace row %d: %w", r.ID, err)
	}
	req.URL.Opaque = u.Opaque
	for _, h := range r.Headers {
		name := http.CanonicalHeaderKey(h.Name)
		switch {
		case hopByHop[name]:
		case name == "Cookie" && strings.HasPrefix(h.Value, redact.Prefix):
			// A redacted cookie cannot be sent again: leave it out.
		case t.APIKey != "" && name == "X-Api-Key":
			req.Header.Set(name, t.APIKey)
		case t.APIKey != "" && name == "Authorization":
			req.Header.Set(name, "Bearer "+t.APIKey)
		default:
			req.Header.Add(name, h.Value)
		}
	}
	for name, vs := range t.Headers {
		req.Header[http.CanonicalHeaderKey(name)] = vs
	}
	return req, nil
}
