package replay

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/replaykit/replaykit/correlate"
	"github.com/replaykit/replaykit/session"
)

// sessionValues are one replayed session's live values (package
// correlate) and the responses its links read. nil with --no-correlate:
// every value then goes as recorded.
type sessionValues struct {
	live    *correlate.Values
	sources map[int64][]string
	// shadow are the values the shadow target hands out (replay
	// --shadow): it runs the session as a user of its own.
	shadow *sessionValues
}

// values makes the live values of one replay of s.
func (sn *sender) values(s *session.Session) *sessionValues {
	if !sn.correlate {
		return nil
	}
	v := &sessionValues{live: correlate.NewValues(), sources: sn.target.sources(s)}
	if sn.shadow != nil {
		v.shadow = &sessionValues{live: correlate.NewValues(), sources: v.sources}
	}
	return v
}

// apply puts the session's live values and cookies into req, the request
// p makes of recorded row r (p is shared: it is not changed). It returns
// what correlate.Values.Apply does.
func (v *sessionValues) apply(r *session.Request, p *Prepared, req *http.Request) (carried, missed int) {
	cookies := v.live.HasCookies()
	if len(r.Links) == 0 && !cookies {
		return 0, 0 // the usual request: nothing to do
	}
	var jarURL *url.URL
	if cookies {
		jarURL = p.cookieURL(r.Path)
	}
	cr := correlate.Request{Target: r.Path, Header: req.Header, Recorded: r.Headers, Body: r.Body}
	carried, missed = v.live.Apply(r.ID, r.Links, &cr, jarURL)
	// --header comes first: asked for every request, it is not replaced.
	for name, vs := range p.target.Headers {
		if name = http.CanonicalHeaderKey(name); name != "Host" {
			req.Header[name] = vs
		}
	}
	if cr.Target != r.Path {
		u, _ := p.target.urlOf(originPath(cr.Target))
		req.URL = &u
	}
	if len(cr.Body) > 0 && !bytes.Equal(cr.Body, r.Body) {
		b := cr.Body
		req.ContentLength = int64(len(b))
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return carried, missed
}

// needsBody says whether the body of an answer with status holds values
// later requests need (keep), when it answered as recorded (same status
// class).
func (v *sessionValues) needsBody(r *session.Request, status int) bool {
	return correlate.NeedsBody(v.sources[r.ID]) && status/100 == int(r.Status)/100
}

// keeps says whether an answer to r has anything to keep: values later
// requests read, or cookies (setsCookie). Without, keep does nothing.
func (v *sessionValues) keeps(r *session.Request, setsCookie bool) bool {
	return setsCookie || len(v.sources[r.ID]) > 0
}

// keep takes the values later requests need from an answer with status
// and header (body: what read kept), when it answered as recorded (same
// status class), and the cookies it sets. After the request's timing:
// its work is replay's, not the target's.
func (v *sessionValues) keep(r *session.Request, p *Prepared, status int, header http.Header, body []byte) {
	if !v.keeps(r, len(header["Set-Cookie"]) > 0) {
		return // the usual answer: nothing to keep
	}
	srcs := v.sources[r.ID]
	if status/100 != int(r.Status)/100 {
		srcs = nil // not answered as recorded: its later uses go as recorded
	}
	v.live.Take(r.ID, srcs, p.cookieURL(r.Path), &http.Response{StatusCode: status, Header: header}, body)
}

// cookieURL is the URL the cookie jar files a request under: the target's
// scheme and host, the recorded path.
func (p *Prepared) cookieURL(target string) *url.URL {
	path, _, _ := strings.Cut(originPath(target), "?")
	return &url.URL{Scheme: p.target.Base.Scheme, Host: p.target.Base.Host, Path: p.target.Base.Path + path}
}
