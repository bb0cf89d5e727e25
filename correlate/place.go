package correlate

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/replaykit/replaykit/trace"
)

// A place is one value of a request or a response and where it is.
//
// Positions are strings, the same in the trace's links column and here:
//
//	path/N        path segment N of the request target (0: the one after the first "/")
//	query/NAME    the first value of query parameter NAME
//	header/NAME   a header's value; for Authorization and Proxy-Authorization
//	              the credential after the scheme ("Bearer ", "Token ")
//	body/POINTER  a JSON body's string or number at the JSON Pointer (RFC 6901)
//	form/NAME     the first value of NAME in an application/x-www-form-urlencoded body
//	location/N    path segment N of a response's Location (sources only)
//	cookie/NAME   the value a response's Set-Cookie gives NAME (sources only)
//
// NAMEs of query, form and JSON Pointer tokens are escaped as RFC 6901
// says (~0 for "~", ~1 for "/").
type place struct {
	pos string
	// name is what the value is called: the query, form or header name,
	// the JSON key (an "id" under "project" is "project.id"), or, for a
	// path or Location segment, the segment before it.
	name  string
	value string
	part  byte // 'p' path, 'q' query, 'h' header, 'b' JSON body, 'f' form, 'l' Location, 'c' cookie
	// seg is a path or Location segment's index, and prefix the segments
	// before it joined by "/" (the collection it belongs to).
	seg    int
	prefix string
	// traits and hash are what remember asks of a response place, set
	// when its body's places are kept (placeCache); traits 0: not set.
	traits uint8
	hash   uint64
}

// Most values longer than this are documents, not ids or tokens.
const maxValue = 4096

// maxNames bounds the names of a query or a form looked at, and
// maxPlaces the places of a request.
const (
	maxNames  = 256
	maxPlaces = 1024
)

// ignoredHeaders carry no value a server handed out for later use (or are
// handled apart: Cookie by the replay's cookie jar, Set-Cookie and
// Location by their own positions).
var ignoredHeaders = map[string]bool{}

func init() {
	for _, h := range []string{"host", "connection", "keep-alive", "proxy-connection", "content-length", "content-type",
		"content-encoding", "transfer-encoding", "accept", "accept-encoding", "accept-language", "accept-charset",
		"accept-ranges", "user-agent", "date", "server", "vary", "cache-control", "pragma", "expires",
		"last-modified", "age", "via", "referer", "origin", "cookie", "set-cookie", "location", "upgrade", "te",
		"trailer", "expect", "range", "content-range", "content-disposition", "content-language",
		"content-location", "strict-transport-security", "x-content-type-options", "x-frame-options",
		"x-xss-protection", "retry-after", "content-security-policy", "alt-svc", "x-powered-by", "link",
		"referrer-policy", "permissions-policy", "if-modified-since", "if-unmodified-since", "dnt",
		"upgrade-insecure-requests", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
		"x-real-ip", "forwarded", "traceparent", "tracestate", "priority", "x-ratelimit-limit",
		"x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
		"server-timing", "timing-allow-origin", "x-response-time", "nel", "report-to"} {
		ignoredHeaders[h] = true
	}
}

func ignoredHeader(name string) bool {
	var buf [64]byte
	if len(name) > len(buf) {
		return false
	}
	n := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		n[i] = name[i]
		if 'A' <= n[i] && n[i] <= 'Z' {
			n[i] += 'a' - 'A'
		}
	}
	// string(n) in a map index and a comparison does not allocate.
	return ignoredHeaders[string(n)] || (len(n) > 15 && string(n[:15]) == "access-control-") || (len(n) > 4 && string(n[:4]) == "sec-")
}

// isAuthorization says whether a header carries "scheme credential".
func isAuthorization(name string) bool {
	return strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Proxy-Authorization")
}

// credentialOf is an Authorization value without its scheme word.
func credentialOf(v string) string {
	if scheme, cred, ok := strings.Cut(v, " "); ok && scheme != "" && !strings.ContainsAny(scheme, "=,") {
		return strings.TrimLeft(cred, " ")
	}
	return v
}

// requestPlaces visits the values of a request: its path segments, query
// values, headers and body leaves (body decoded: see Decode).
func requestPlaces(target string, headers []trace.Header, body []byte, visit func(p place)) {
	_, pathQuery := trace.SplitTarget(target)
	path, query, _ := strings.Cut(pathQuery, "?")
	segments(path, 'p', visit)
	if query != "" {
		formPlaces(query, "query/", 'q', visit)
	}
	for _, h := range headers {
		if ignoredHeader(h.Name) || h.Value == "" {
			continue
		}
		v := h.Value
		if isAuthorization(h.Name) {
			v = credentialOf(v)
		}
		visit(place{pos: "header/" + h.Name, name: h.Name, value: v, part: 'h'})
	}
	bodyPlaces(headers, body, visit)
}

// responsePlaces visits the values of a response: Location's segments,
// Set-Cookie values, headers, then the JSON body's leaves in document
// order (body decoded).
func responsePlaces(headers []trace.Header, body []byte, visit func(p place)) {
	for _, h := range headers {
		switch {
		case strings.EqualFold(h.Name, "Location"):
			u, err := url.Parse(h.Value)
			if err == nil {
				segments(u.EscapedPath(), 'l', visit)
			}
		case strings.EqualFold(h.Name, "Set-Cookie"):
			if name, v, ok := setCookie(h.Value); ok {
				visit(place{pos: "cookie/" + escapeToken(name), name: name, value: v, part: 'c'})
			}
		case !ignoredHeader(h.Name) && h.Value != "":
			visit(place{pos: "header/" + h.Name, name: h.Name, value: h.Value, part: 'h'})
		}
	}
	bodyPlaces(headers, body, visit)
}

// setCookie is the name and value a Set-Cookie line sets.
func setCookie(line string) (name, value string, ok bool) {
	first, _, _ := strings.Cut(line, ";")
	name, value, ok = strings.Cut(strings.TrimSpace(first), "=")
	name, value = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(value), `"`)
	return name, value, ok && name != "" && value != ""
}

func segments(path string, part byte, visit func(p place)) {
	path = strings.TrimPrefix(path, "/")
	if path == "" {
		return
	}
	kind := "path/"
	if part == 'l' {
		kind = "location/"
	}
	prev, start := "", 0
	for i := 0; ; i++ {
		end := strings.IndexByte(path[start:], '/')
		seg := path[start:]
		if end >= 0 {
			seg = path[start : start+end]
		}
		// Only ids (what a route shows as {id}) are values: the other
		// segments are the API's own words ("api", "v1", "tasks").
		v, err := url.PathUnescape(seg)
		if err == nil && v != "" && (trace.IsID(seg) || randomLooking(v)) {
			prefix := ""
			if start > 0 {
				prefix = path[:start-1]
			}
			visit(place{pos: kind + strconv.Itoa(i), name: prev, value: v, part: part, seg: i, prefix: prefix})
		}
		prev = seg
		if end < 0 {
			return
		}
		start += end + 1
	}
}

// formPlaces visits the first value of each name of a urlencoded form.
func formPlaces(form, kind string, part byte, visit func(p place)) {
	var seen []string // names are few: a slice beats a map
	for pair := range strings.SplitSeq(form, "&") {
		if len(seen) == maxNames {
			return // a hostile form's 100,000 names cost no more than 256
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || k == "" || slices.Contains(seen, k) {
			continue
		}
		// The first value of a name is its value (replay replaces that
		// one), even when it is one that binds nothing.
		seen = append(seen, k)
		if err2 != nil || v == "" || trivial(v) {
			continue
		}
		visit(place{pos: kind + escapeToken(k), name: k, value: v, part: part})
	}
}

// bodyPlaces visits a JSON or urlencoded body's values.
func bodyPlaces(headers []trace.Header, body []byte, visit func(p place)) {
	if len(body) == 0 {
		return
	}
	switch bodyKind(headers, body) {
	case 'j':
		walkJSON(body, func(w *jsonWalker, l leaf) bool {
			v, ok := leafText(body, l)
			if ok && v != "" && len(v) <= maxValue {
				visit(place{pos: w.pointerAfter("body"), name: w.name(), value: v, part: 'b'})
			}
			return true
		})
	case 'f':
		formPlaces(string(body), "form/", 'f', visit)
	}
}

// bodyKind is 'j' for a JSON body, 'f' for a urlencoded form, 0 else.
func bodyKind(headers []trace.Header, body []byte) byte {
	ct, _ := trace.HeaderValue(headers, "Content-Type")
	ct = strings.ToLower(ct)
	switch {
	case strings.Contains(ct, "json"):
		return 'j'
	case strings.Contains(ct, "x-www-form-urlencoded"):
		return 'f'
	case ct == "" || strings.HasPrefix(ct, "text/plain"):
		// Many clients send JSON without saying so.
		if t := strings.TrimLeft(string(body[:min(len(body), 64)]), " \t\r\n"); t != "" && (t[0] == '{' || t[0] == '[') {
			return 'j'
		}
	}
	return 0
}
