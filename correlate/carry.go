package correlate

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/replaykit/replaykit/trace"
)

// Sources lists what a session's links read, by source row id: the
// responses replay must look into, and where. ids are the requests' row
// ids, links their links.
func Sources(ids []int64, links [][]trace.Link) map[int64][]string {
	var out map[int64][]string
	seen := map[key]bool{}
	for i, ls := range links {
		for _, l := range ls {
			if l.IsFresh() {
				continue
			}
			if out == nil {
				out = map[int64][]string{}
			}
			from := ids[i] - l.Back
			k := key{from, l.Src}
			if !seen[k] {
				seen[k] = true
				out[from] = append(out[from], l.Src)
			}
		}
	}
	return out
}

// NeedsBody says whether any of srcs is in a response body.
func NeedsBody(srcs []string) bool {
	for _, s := range srcs {
		if strings.HasPrefix(s, "body/") {
			return true
		}
	}
	return false
}

// Values are the live values of one replayed session: what its responses
// handed out, what it made up, and its cookies. Safe for concurrent use
// (the open model may have several of a session's requests in flight).
type Values struct {
	mu  sync.Mutex
	got map[key]string
	// jar holds the cookies the target set, sent back as a browser does.
	jar *jar
}

type key struct {
	from int64
	src  string
}

// NewValues makes an empty set; its cookie jar is made with the first
// cookie set.
func NewValues() *Values { return &Values{got: map[key]string{}} }

// HasCookies says whether the target set a cookie in this session: a
// request then needs its URL for the jar (Apply's cookieURL).
func (v *Values) HasCookies() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.jar != nil
}

// Take keeps the values at srcs of the live response to row from, and
// the cookies it sets for u (the URL requested). body is the response
// body as received (content-coded).
func (v *Values) Take(from int64, srcs []string, u *url.URL, resp *http.Response, body []byte) {
	if len(resp.Header["Set-Cookie"]) > 0 {
		v.mu.Lock()
		if v.jar == nil {
			v.jar = newJar()
		}
		j := v.jar
		v.mu.Unlock()
		j.set(u, resp)
	}
	if len(srcs) == 0 {
		return
	}
	var decoded []byte
	var leaves map[string]string
	decodedOK := false
	for _, src := range srcs {
		part, name, _ := strings.Cut(src, "/")
		var val string
		ok := false
		switch part {
		case "header":
			val = resp.Header.Get(name)
			ok = val != ""
		case "location":
			if u, err := url.Parse(resp.Header.Get("Location")); err == nil && u.Path != "" {
				n, err := strconv.Atoi(name)
				segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
				if err == nil && n >= 0 && n < len(segs) {
					val, err = url.PathUnescape(segs[n])
					ok = err == nil && val != ""
				}
			}
		case "cookie":
			for _, c := range resp.Cookies() {
				if c.Name == unescapeToken(name) && c.Value != "" {
					val, ok = c.Value, true
				}
			}
		case "body":
			if !decodedOK {
				decoded, _ = Decode(headersOf(resp.Header), body)
				decodedOK = true
				leaves = leavesAt(decoded, srcs)
			}
			val, ok = leaves[src[len("body"):]]
		}
		if ok {
			v.mu.Lock()
			v.got[key{from, src}] = val
			v.mu.Unlock()
		}
	}
}

// leavesAt is the values of doc at the body positions among srcs, in one
// walk: a source read by many later requests is walked once.
func leavesAt(doc []byte, srcs []string) map[string]string {
	want := map[string]bool{}
	for _, s := range srcs {
		if ptr, ok := strings.CutPrefix(s, "body"); ok {
			want[ptr] = true
		}
	}
	out := map[string]string{}
	walkJSON(doc, func(w *jsonWalker, l leaf) bool {
		if want[string(w.path)] {
			if v, ok := leafText(doc, l); ok {
				out[w.pointer()] = v
			}
		}
		return len(out) < len(want)
	})
	return out
}

func headersOf(h http.Header) []trace.Header {
	var out []trace.Header
	for _, name := range []string{"Content-Encoding", "Content-Type"} {
		if v := h.Get(name); v != "" {
			out = append(out, trace.Header{Name: name, Value: v})
		}
	}
	return out
}

// Request is a request being made ready to send: the parts links change.
type Request struct {
	// Target is the recorded request target (path and query).
	Target string
	// Header is what will be sent (the recorded headers as replay set
	// them); Recorded the recorded ones, for a made-up value's shape and
	// the body's type and coding.
	Header   http.Header
	Recorded []trace.Header
	// Body is the body to send, content-coded as recorded.
	Body []byte
}

// Apply puts the live values of links into r. It returns how many values
// were carried, and how many links could not be: their source did not
// answer as recorded, or the live answer did not hold the value (the
// recorded value is sent).
func (v *Values) Apply(id int64, links []trace.Link, r *Request, cookieURL *url.URL) (carried, missed int) {
	v.mu.Lock()
	j := v.jar
	v.mu.Unlock()
	if cookieURL != nil && j != nil {
		j.apply(cookieURL, r.Header)
	}
	if len(links) == 0 {
		return 0, 0
	}
	if len(links) > maxPlaces {
		// A request has at most maxPlaces places: more links come from a
		// damaged or hostile trace.
		missed += len(links) - maxPlaces
		links = links[:maxPlaces]
	}
	var body map[string]string // JSON pointer or form name -> value
	var bodyKindOf byte
	// The recorded body decoded, once: made-up values' shapes and the
	// substitutions both read it.
	var decoded []byte
	var decodeErr error
	decodedOnce := false
	plain := func() []byte {
		if !decodedOnce {
			decoded, decodeErr = Decode(r.Recorded, r.Body)
			decodedOnce = true
		}
		return decoded
	}
	for _, l := range links {
		val, ok := v.value(id, l, r, plain)
		if !ok {
			missed++
			continue
		}
		part, name, _ := strings.Cut(l.At, "/")
		switch part {
		case "path":
			n, err := strconv.Atoi(name)
			if err != nil || !setSegment(&r.Target, n, val) {
				missed++
				continue
			}
		case "query":
			if !setQuery(&r.Target, unescapeToken(name), val) {
				missed++
				continue
			}
		case "header":
			if strings.ContainsAny(val, "\r\n\x00") {
				missed++ // no header can hold it: the recorded value goes
				continue
			}
			if isAuthorization(name) {
				// The scheme the recording had (the trace keeps it:
				// "Bearer redacted:..."); none when it had none.
				if rec, ok := trace.HeaderValue(r.Recorded, name); ok {
					if scheme, _, found := strings.Cut(rec, " "); found && scheme != "" {
						val = scheme + " " + val
					}
				}
			}
			r.Header.Set(name, val)
		case "body", "form":
			if body == nil {
				if plain(); decodeErr != nil {
					missed++
					continue
				}
				body, bodyKindOf = map[string]string{}, bodyKind(r.Recorded, decoded)
			}
			if part == "body" {
				body[l.At[len("body"):]] = val
			} else {
				body[unescapeToken(name)] = val
			}
		default:
			missed++
			continue
		}
		carried++
	}
	if len(body) > 0 {
		var out []byte
		switch bodyKindOf {
		case 'j':
			out = setJSON(decoded, body)
		case 'f':
			out = []byte(setForm(string(decoded), body))
		}
		if enc, err := Encode(r.Recorded, out); err == nil && out != nil {
			r.Body = enc
		} else {
			missed += len(body)
			carried -= len(body)
		}
	}
	return carried, missed
}

// value is the live value of link l: from the session's table, or, for a
// made-up value seen first now, a new one shaped like the recorded one.
func (v *Values) value(id int64, l trace.Link, r *Request, plain func() []byte) (string, bool) {
	k := key{id - l.Back, l.Src}
	v.mu.Lock()
	defer v.mu.Unlock()
	if val, ok := v.got[k]; ok {
		return val, true
	}
	if !l.IsFresh() {
		return "", false
	}
	// The first use sent is the model (the request that first made it up
	// may not have been sent: a mix left it out).
	rec, ok := recordedValue(l.At, r, plain())
	if !ok {
		return "", false
	}
	val := newLike(rec)
	v.got[k] = val
	return val, true
}

// recordedValue is the value at a request position, as recorded (body:
// r.Body decoded).
func recordedValue(at string, r *Request, body []byte) (string, bool) {
	var found string
	ok := false
	requestPlaces(r.Target, r.Recorded, body, func(p place) {
		if !ok && p.pos == at {
			found, ok = p.value, true
		}
	})
	return found, ok
}

// newLike makes a fresh value shaped like v: a random UUID (version 4) for
// a UUID, else random characters of the same classes (digit, lower,
// upper) in the same places, others kept.
func newLike(v string) string {
	var b [16]byte
	rand.Read(b[:])
	if uuidLike.MatchString(v) {
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		h := hex.EncodeToString(b[:])
		u := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
		if strings.ToUpper(v) == v {
			u = strings.ToUpper(u)
		}
		if strings.HasPrefix(v, "{") {
			u = "{" + u + "}"
		}
		return u
	}
	out := []byte(v)
	rnd := make([]byte, len(out))
	rand.Read(rnd)
	for i, c := range out {
		switch {
		case '0' <= c && c <= '9':
			out[i] = '0' + rnd[i]%10
		case 'a' <= c && c <= 'z':
			out[i] = 'a' + rnd[i]%26
		case 'A' <= c && c <= 'Z':
			out[i] = 'A' + rnd[i]%26
		}
	}
	return string(out)
}

// setSegment replaces path segment n of a target.
func setSegment(target *string, n int, val string) bool {
	authority, pathQuery := trace.SplitTarget(*target)
	path, query, hasQuery := strings.Cut(pathQuery, "?")
	lead := strings.HasPrefix(path, "/")
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if n < 0 || n >= len(segs) {
		return false
	}
	segs[n] = url.PathEscape(val)
	path = strings.Join(segs, "/")
	if lead {
		path = "/" + path
	}
	if hasQuery {
		path += "?" + query
	}
	if authority != "" {
		// Keep the absolute form's scheme and authority as recorded.
		i := strings.Index(*target, "://") + 3
		if i < 3 {
			i = 0
		}
		*target = (*target)[:i+len(authority)] + path
	} else {
		*target = path
	}
	return true
}

// setQuery replaces the first value of a query parameter.
func setQuery(target *string, name, val string) bool {
	before, query, ok := strings.Cut(*target, "?")
	if !ok {
		return false
	}
	out, done := replaceFirst(query, map[string]string{name: val})
	*target = before + "?" + out
	return done[name]
}

func setForm(form string, vals map[string]string) string {
	out, _ := replaceFirst(form, vals)
	return out
}

// replaceFirst replaces the first value of each name in a urlencoded
// string, keeping the order and the other pairs as they were.
func replaceFirst(form string, vals map[string]string) (string, map[string]bool) {
	done := map[string]bool{}
	pairs := strings.Split(form, "&")
	for i, pair := range pairs {
		k, _, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		if val, ok := vals[name]; ok && !done[name] {
			pairs[i] = k + "=" + url.QueryEscape(val)
			done[name] = true
		}
	}
	return strings.Join(pairs, "&"), done
}

// setJSON replaces the leaves at the given pointers, keeping every other
// byte of the document: a string stays a string; a number takes the new
// value as a number when it is one, else as a string.
func setJSON(doc []byte, vals map[string]string) []byte {
	type splice struct {
		start, end int
		text       []byte
	}
	var splices []splice
	walkJSON(doc, func(w *jsonWalker, l leaf) bool {
		if val, ok := vals[string(w.path)]; ok { // string(bytes) in an index: no copy
			var text []byte
			if !l.str && json.Valid([]byte(val)) && isNumber(val) {
				text = []byte(val)
			} else {
				text, _ = json.Marshal(val)
			}
			splices = append(splices, splice{l.start, l.end, text})
		}
		return len(splices) < len(vals)
	})
	if len(splices) == 0 {
		return doc
	}
	out := make([]byte, 0, len(doc)+32)
	at := 0
	for _, s := range splices {
		out = append(out, doc[at:s.start]...)
		out = append(out, s.text...)
		at = s.end
	}
	return append(out, doc[at:]...)
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil && s != "" && s[0] != '+' && !strings.ContainsAny(s, "xXnN")
}
