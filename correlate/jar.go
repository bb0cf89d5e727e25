package correlate

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// jar is a replayed session's cookie jar: what the target's Set-Cookie
// headers set is sent back on the requests they apply to (path, expiry,
// Secure), as a browser or Locust's HttpUser does. The recorded Cookie
// header is redacted and cannot be sent; the jar's cookies replace it.
type jar struct {
	j *cookiejar.Jar
}

func newJar() *jar {
	j, _ := cookiejar.New(nil) // no error without options
	return &jar{j: j}
}

// set takes the cookies a response to u sets.
func (j *jar) set(u *url.URL, resp *http.Response) {
	if cs := resp.Cookies(); len(cs) > 0 && u != nil {
		j.j.SetCookies(u, cs)
	}
}

// apply puts the jar's cookies for u into h's Cookie header, replacing
// those of the same names.
func (j *jar) apply(u *url.URL, h http.Header) {
	cs := j.j.Cookies(u)
	if len(cs) == 0 {
		return
	}
	names := map[string]bool{}
	var parts []string
	for _, c := range cs {
		names[c.Name] = true
		parts = append(parts, c.Name+"="+c.Value)
	}
	for _, line := range h.Values("Cookie") {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part != "" && !names[name] {
				parts = append(parts, part)
			}
		}
	}
	h.Set("Cookie", strings.Join(parts, "; "))
}
