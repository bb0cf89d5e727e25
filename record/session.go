package record

import (
	"fmt"
	"hash/fnv"
	"net"
	"strings"

	"github.com/replaykit/replaykit/redact"
	"github.com/replaykit/replaykit/trace"
)

// SessionKey says what makes requests one virtual user's session. The zero
// value is "auto".
type SessionKey struct {
	kind string // "auto", "header", "cookie" or "client-ip"
	name string // header or cookie name
}

// credentialHeaders are tried in order by the "auto" session key.
var credentialHeaders = []string{"Authorization", "X-API-Key", "X-Auth-Token", "Proxy-Authorization"}

// sessionCookies are the usual session cookie names tried by "auto".
var sessionCookies = []string{"session", "sessionid", "session_id", "sid", "JSESSIONID", "PHPSESSID", "connect.sid", "_session_id", "ASP.NET_SessionId", "laravel_session"}

// ParseSessionKey reads --session-key: "auto" (or empty), "header:NAME",
// "cookie:NAME" or "client-ip".
func ParseSessionKey(s string) (SessionKey, error) {
	switch {
	case s == "" || s == "auto":
		return SessionKey{kind: "auto"}, nil
	case s == "client-ip":
		return SessionKey{kind: "client-ip"}, nil
	case strings.HasPrefix(s, "header:") && len(s) > len("header:"):
		return SessionKey{kind: "header", name: s[len("header:"):]}, nil
	case strings.HasPrefix(s, "cookie:") && len(s) > len("cookie:"):
		return SessionKey{kind: "cookie", name: s[len("cookie:"):]}, nil
	}
	return SessionKey{}, fmt.Errorf("bad --session-key %q: want header:NAME, cookie:NAME, client-ip or auto", s)
}

// String is the flag form of k.
func (k SessionKey) String() string {
	if k.name != "" {
		return k.kind + ":" + k.name
	}
	return k.kind
}

// Of returns the session of a request from its unredacted headers and its
// client address. Credentials appear only as keyed hashes, the same ones
// the redacted header values carry.
func (k SessionKey) Of(hs []trace.Header, client string, r *redact.Redactor) string {
	switch k.kind {
	case "header":
		if v, ok := trace.HeaderValue(hs, k.name); ok {
			return strings.ToLower(k.name) + ":" + r.Hash(v)
		}
	case "cookie":
		if v, ok := cookie(hs, k.name); ok {
			return "cookie:" + k.name + ":" + r.Hash(v)
		}
	case "auto", "": // the zero SessionKey is auto
		for _, h := range credentialHeaders {
			if v, ok := trace.HeaderValue(hs, h); ok && v != "" {
				return strings.ToLower(h) + ":" + r.Hash(v)
			}
		}
		for _, c := range sessionCookies {
			if v, ok := cookie(hs, c); ok && v != "" {
				return "cookie:" + c + ":" + r.Hash(v)
			}
		}
	}
	return "ip:" + clientIP(client)
}

// cookie finds a cookie's value in the Cookie headers.
func cookie(hs []trace.Header, name string) (string, bool) {
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "Cookie") {
			continue
		}
		for part := range strings.SplitSeq(h.Value, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				return v, true
			}
		}
	}
	return "", false
}

func clientIP(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// sampled says whether a session is kept by --sample: the decision depends
// on the session alone, so a session is kept whole or not at all.
func sampled(session string, fraction float64) bool {
	if fraction >= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(session))
	return float64(h.Sum64()>>11)/float64(1<<53) < fraction
}
