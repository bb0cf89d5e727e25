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
	if s, _, ok := k.credential(hs, r); ok {
		return s
	}
	return ipSession(client)
}

// ipSession is the session of a client known by its address only.
func ipSession(client string) string { return "ip:" + clientIP(client) }

// credential returns the session named by a credential or cookie, and
// the credential (an Authorization without its scheme word), or false when
// the request has none and its client IP is the session.
func (k SessionKey) credential(hs []trace.Header, r *redact.Redactor) (session, cred string, ok bool) {
	switch k.kind {
	case "header":
		if v, ok := trace.HeaderValue(hs, k.name); ok {
			return strings.ToLower(k.name) + ":" + r.Hash(v), credentialValue(k.name, v), true
		}
	case "cookie":
		if v, ok := cookie(hs, k.name); ok {
			return "cookie:" + k.name + ":" + r.Hash(v), v, true
		}
	case "auto", "": // the zero SessionKey is auto
		// One pass: the first credential header in credentialHeaders'
		// order wins, then the first session cookie in sessionCookies'.
		best, bestRank, hasCookie := "", len(credentialHeaders), false
		for _, h := range hs {
			if h.Value == "" {
				continue
			}
			if i := credentialRank(h.Name); i < bestRank {
				best, bestRank = h.Value, i
			} else if len(h.Name) == 6 && strings.EqualFold(h.Name, "Cookie") {
				hasCookie = true
			}
		}
		if bestRank < len(credentialHeaders) {
			name := credentialHeaders[bestRank]
			return strings.ToLower(name) + ":" + r.Hash(best), credentialValue(name, best), true
		}
		if hasCookie {
			if name, v, ok := sessionCookie(hs); ok {
				return "cookie:" + name + ":" + r.Hash(v), v, true
			}
		}
	}
	return "", "", false
}

// credentialValue is a credential header's secret: an Authorization's
// without its scheme word ("Bearer "), which is what a login hands out.
func credentialValue(name, v string) string {
	if strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Proxy-Authorization") {
		if _, cred, ok := strings.Cut(v, " "); ok {
			return strings.TrimLeft(cred, " ")
		}
	}
	return v
}

// isSessionCookie says whether a cookie name is one "auto" takes as a
// session's.
func isSessionCookie(name string) bool {
	for _, c := range sessionCookies {
		if name == c {
			return true
		}
	}
	return false
}

// credentialRank is the index of name in credentialHeaders, or its length.
func credentialRank(name string) int {
	switch len(name) {
	case 9, 12, 13, 19: // X-API-Key, X-Auth-Token, Authorization, Proxy-Authorization
		for i, c := range credentialHeaders {
			if strings.EqualFold(name, c) {
				return i
			}
		}
	}
	return len(credentialHeaders)
}

// sessionCookie finds the first of sessionCookies present in the request.
func sessionCookie(hs []trace.Header) (name, value string, ok bool) {
	rank := len(sessionCookies)
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "Cookie") {
			continue
		}
		for part := range strings.SplitSeq(h.Value, ";") {
			k, v, found := strings.Cut(strings.TrimSpace(part), "=")
			if !found || v == "" {
				continue
			}
			for i, c := range sessionCookies[:rank] {
				if k == c {
					name, value, rank, ok = c, v, i, true
					break
				}
			}
		}
	}
	return name, value, ok
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
