// Package correlate finds, at recording time, the values a request reuses
// from an earlier response of its session (an id a create returned, the
// token a login returned, an ETag) and the values its client made up (an
// Idempotency-Key, a UUID in a create body); at replay it carries the live
// values into the requests that use them. Links hold positions only:
// values are compared in memory, by hash, and never written.
package correlate

import (
	"bytes"
	"hash/maphash"
	"strings"

	"github.com/replaykit/replaykit/trace"
)

// Exchange is what Finder reads of one recorded exchange, in the clear
// (before redaction).
type Exchange struct {
	// ID numbers the exchange: one more than the one observed before it
	// that was written (links count back by it).
	ID int64
	// Session is the session its credential or client address gives it;
	// Credential is that credential (an Authorization without its scheme,
	// an API key, a session cookie's value), "" when the session is the
	// client address.
	Session, Credential string
	// Method and Target are the request line's; ReqBody is the request
	// body as sent (content-coded), RespBody the response body's start as
	// sent, RespBodyCut true when it is not all of it.
	Method, Target string
	// Route is Target's (trace.Route), which the recorder has made.
	Route       string
	ReqHeaders  []trace.Header
	ReqBody     []byte
	Status      int
	RespHeaders []trace.Header
	RespBody    []byte
	RespBodyCut bool
}

// Stats count what a Finder did.
type Stats struct {
	// Links counts the links found; Fresh those to made-up values.
	Links, Fresh int64
	// Linked counts the requests with at least one link.
	Linked int64
	// Continued counts sessions that continue the session that received
	// their credential (a login's).
	Continued int64
	// Unscanned counts response bodies not looked into: larger than
	// MaxBody, cut by the capture, with a coding that failed to decode,
	// or held unread while 64 newer JSON answers of their session came
	// (or 4 MiB; 128 MiB for all sessions) with no request that looked
	// for a value.
	Unscanned int64
}

// Options tune a Finder.
type Options struct {
	// Hash is the keyed hash of a value (redact.Redactor.Hash): it names a
	// session that starts with a login ("user:" and the token's hash).
	Hash func(string) string
	// SessionCookie says whether a cookie name is a session cookie: its
	// Set-Cookie starts a user's session.
	SessionCookie func(name string) bool
	// Users and Values bound memory: the sessions followed at once, and
	// the values remembered per session (each kept for at least that many
	// newer ones). Defaults 16384 and 8192.
	Users, Values int
}

// Finder finds links, one exchange at a time, in the order exchanges
// complete. It is not safe for concurrent use: one recorder owns it.
type Finder struct {
	opts  Options
	seed  maphash.Seed
	users gen[string, *user]
	// aliases maps a credential's session to the session that received
	// the credential (itself when none did), fixed when first seen.
	aliases gen[string, string]
	// handed maps credentials handed out by a response to its session.
	handed gen[uint64, string]
	// seen holds the UUIDs and random-looking values any response held:
	// such a value in a request was not made up by its client.
	seen  gen[uint64, struct{}]
	stats Stats
	// heldBytes adds up the answers all sessions hold (maxAllHeld).
	heldBytes int
	// scratch is the request places of link, reused; respScratch the
	// response places of Observe. addReqPlace and addRespPlace append to
	// them: made once, as closures made per call cost an allocation each.
	scratch, respScratch      []place
	addReqPlace, addRespPlace func(place)
	// bodies are the places of recent answers' bodies.
	bodies placeCache
}

// user is what a session's responses handed out, and what its client
// made up.
type user struct {
	session string
	values  gen[uint64, []source]
	made    gen[uint64, source]
	// held are the JSON answers not looked into yet (hold, flush).
	held      []held
	heldBytes int
}

// source is where a response held a value.
type source struct {
	from int64
	src  string
	name string
	part byte
	// prefix is a Location segment's collection; coll the collection the
	// source request was about (the last segment of its route that is
	// not {id}).
	prefix, coll string
}

// NewFinder makes a Finder.
func NewFinder(opts Options) *Finder {
	if opts.Users <= 0 {
		opts.Users = 16384
	}
	if opts.Values <= 0 {
		opts.Values = 8192
	}
	if opts.SessionCookie == nil {
		opts.SessionCookie = func(string) bool { return false }
	}
	f := &Finder{opts: opts, seed: maphash.MakeSeed(),
		users: newGen[string, *user](opts.Users), aliases: newGen[string, string](4 * opts.Users),
		handed: newGen[uint64, string](4 * opts.Users), seen: newGen[uint64, struct{}](1 << 18)}
	f.users.dropped = func(u *user) { f.heldBytes -= u.heldBytes }
	f.bodies = newPlaceCache()
	f.addReqPlace = f.addRequestPlace
	f.addRespPlace = func(p place) { f.respScratch = append(f.respScratch, p) }
	return f
}

// Stats returns the counters so far.
func (f *Finder) Stats() Stats { return f.stats }

func (f *Finder) hash(v string) uint64 { return maphash.String(f.seed, v) }

// Observe finds the links of e's request, then remembers what its
// response handed out. It returns e's session, which differs from
// e.Session when the request continues a user's session: a credential
// an earlier response handed out, or a login's answer (then "user:" and
// the hash of the credential it hands out).
func (f *Finder) Observe(e *Exchange) (session string, links []trace.Link) {
	ok := e.Status >= 200 && e.Status < 400
	f.respScratch = f.respScratch[:0]
	if ok {
		responsePlaces(e.RespHeaders, nil, f.addRespPlace)
	}
	resp := f.respScratch
	defer func() {
		clear(resp) // its values are not held
		f.respScratch = resp[:0]
	}()
	// A JSON answer is looked into when a later request of its session
	// has a value to look for (hold, flush): most answers feed no request
	// and cost nothing. A login's is looked into now: it says whose
	// session the request starts.
	body := ok && len(e.RespBody) > 0
	if body && e.RespBodyCut {
		f.stats.Unscanned++
		body = false
	}
	if body && e.Credential == "" && e.Method != "GET" && e.Method != "HEAD" && mayHandOut(e.RespHeaders, e.RespBody) {
		resp = f.bodyPlaces(resp, e.RespHeaders, e.RespBody)
		body = false
	}
	session = f.session(e, resp)
	u, found := f.users.get(session)
	if !found {
		u = &user{session: session, values: newGen[uint64, []source](f.opts.Values), made: newGen[uint64, source](f.opts.Values)}
		f.users.put(session, u)
	}
	links = f.link(u, e)
	if len(links) > 0 {
		f.stats.Linked++
		f.stats.Links += int64(len(links))
	}
	var coll string
	if len(resp) > 0 || body {
		coll = collection(e.Route)
	}
	f.remember(u, e.ID, coll, resp)
	if body {
		f.seeUUIDs(e.RespHeaders, e.RespBody)
		f.hold(u, held{id: e.ID, coll: coll, headers: e.RespHeaders, body: e.RespBody})
	}
	return session, links
}

// bodyPlaces appends the places of a response body to resp.
func (f *Finder) bodyPlaces(resp []place, headers []trace.Header, raw []byte) []place {
	return append(resp, f.answerPlaces(headers, raw)...)
}

// answerPlaces are the places of a response body, those of a body seen
// before from f.bodies: shared with it, so read, never changed.
func (f *Finder) answerPlaces(headers []trace.Header, raw []byte) []place {
	cached, h, ok := f.bodies.get(headers, raw)
	if ok {
		return cached[:len(cached):len(cached)]
	}
	body, err := Decode(headers, raw)
	if err != nil {
		f.stats.Unscanned++
		return nil
	}
	var places []place
	bodyPlaces(headers, body, func(p place) {
		p.traits, p.hash = f.traitsOf(&p) // once for every time the answer comes again
		places = append(places, p)
	})
	f.bodies.put(h, headers, raw, places)
	return places[:len(places):len(places)]
}

// held is a JSON answer not looked into yet.
type held struct {
	id      int64
	coll    string
	headers []trace.Header
	body    []byte
}

// Bounds of the answers a session holds: the most recent ones.
const (
	maxHeld      = 64
	maxHeldBytes = 4 << 20
	// maxAllHeld bounds what all sessions hold together.
	maxAllHeld = 128 << 20
)

// hold keeps an answer for flush. Beyond the bounds the oldest goes
// unread (counted in Unscanned): no request of its session looked for a
// value in it while 64 newer JSON answers (or 4 MiB) came.
func (f *Finder) hold(u *user, h held) {
	u.held = append(u.held, h)
	u.heldBytes += len(h.body)
	f.heldBytes += len(h.body)
	for len(u.held) > 0 && (len(u.held) > maxHeld || u.heldBytes > maxHeldBytes || f.heldBytes > maxAllHeld) {
		n := len(u.held[0].body)
		u.heldBytes, f.heldBytes = u.heldBytes-n, f.heldBytes-n
		u.held[0] = held{}
		u.held = u.held[1:]
		f.stats.Unscanned++
	}
}

// flush looks into every answer u holds, oldest first: what a request
// looks for is then in u.values as if each had been read on arrival.
func (f *Finder) flush(u *user) {
	for _, h := range u.held {
		f.remember(u, h.id, h.coll, f.answerPlaces(h.headers, h.body))
	}
	clear(u.held)
	f.heldBytes -= u.heldBytes
	u.held, u.heldBytes = u.held[:0], 0
}

// mayHandOut says whether an answer's body may hold a credential (see
// credential): a cheap look for the words, so that an answer with none
// is not parsed now.
func mayHandOut(headers []trace.Header, body []byte) bool {
	if ce, ok := trace.HeaderValue(headers, "Content-Encoding"); ok && ce != "" && !strings.EqualFold(ce, "identity") {
		return true // coded: cannot tell without decoding
	}
	return containsHint(body)
}

// credentialHints are parts of the words a credential's name holds
// (token, Token, jwt, session, sid, apiKey, api_key, auth, Auth), found
// with bytes.Index: fast on the bodies that hold none.
var credentialHints = [][]byte{[]byte("oken"), []byte("jwt"), []byte("JWT"), []byte("ession"), []byte("sid"),
	[]byte("SID"), []byte("pikey"), []byte("piKey"), []byte("pi_key"), []byte("uth")}

func containsHint(b []byte) bool {
	for _, h := range credentialHints {
		if bytes.Contains(b, h) {
			return true
		}
	}
	return false
}

// seeUUIDs notes the UUIDs an answer's body holds (seen), without
// parsing it: a UUID a request sends later was not made up by its client.
func (f *Finder) seeUUIDs(headers []trace.Header, body []byte) {
	if ce, ok := trace.HeaderValue(headers, "Content-Encoding"); ok && ce != "" && !strings.EqualFold(ce, "identity") {
		decoded, err := Decode(headers, body)
		if err != nil {
			return
		}
		body = decoded
	}
	for i := 8; i+28 <= len(body); i++ {
		// From one '-' to the next (IndexByte is vectorized).
		j := bytes.IndexByte(body[i:len(body)-27], '-')
		if j < 0 {
			return
		}
		if i += j; body[i+5] != '-' {
			continue
		}
		if v := string(body[i-8 : i+28]); uuidLike.MatchString(v) {
			f.seen.put(f.hash(v), struct{}{})
			i += 27
		}
	}
}

// session is the session e belongs to (see Observe).
func (f *Finder) session(e *Exchange, resp []place) string {
	if e.Credential != "" {
		if s, ok := f.aliases.get(e.Session); ok {
			return s
		}
		s := e.Session
		if owner, ok := f.handed.get(f.hash(e.Credential)); ok && owner != s {
			s = owner
			f.stats.Continued++
		}
		f.aliases.put(e.Session, s)
		return s
	}
	for i := range resp {
		if f.credential(&resp[i]) && f.opts.Hash != nil {
			return "user:" + f.opts.Hash(resp[i].value)
		}
	}
	return e.Session
}

// credential says whether a response value looks like a credential its
// client will send back: a session cookie, or a long value under a name
// that says token, session or key.
func (f *Finder) credential(p *place) bool {
	if len(p.value) < 16 || strings.ContainsAny(p.value, " \t") {
		return false
	}
	switch p.part {
	case 'c':
		return f.opts.SessionCookie(p.name)
	case 'b', 'h':
		n := strings.ToLower(p.name)
		for _, w := range []string{"token", "jwt", "session", "sid", "apikey", "api_key", "auth"} {
			if strings.Contains(n, w) {
				return true
			}
		}
	}
	return false
}

func (f *Finder) link(u *user, e *Exchange) []trace.Link {
	body, err := Decode(e.ReqHeaders, e.ReqBody)
	if err != nil {
		body = nil
	}
	write := trace.KindOf(e.Method) == trace.KindWrite
	f.scratch = f.scratch[:0]
	requestPlaces(e.Target, e.ReqHeaders, body, f.addReqPlace)
	places := f.scratch
	defer func() {
		clear(places)
		f.scratch = places[:0]
	}()
	if len(u.held) > 0 {
		// A value may be in an answer held unread (and the most recent
		// answer that holds it wins).
		for i := range places {
			if mayBind(&places[i]) {
				f.flush(u)
				break
			}
		}
	}
	var links []trace.Link
	for i := range places {
		p := &places[i]
		if s, ok := f.bound(u, p); ok {
			links = append(links, trace.Link{At: p.pos, Back: e.ID - s.from, Src: s.src})
			continue
		}
		h := f.hash(p.value)
		if m, ok := u.made.get(h); ok && (distinctive(p.value) || madeUpShape(p.value)) {
			links = append(links, trace.Link{At: p.pos, Back: e.ID - m.from, Src: m.src})
			f.stats.Fresh++
			continue
		}
		if madeUp(p, write) {
			if _, ok := f.seen.get(h); ok {
				continue // a response held it: not made up here
			}
			s := source{from: e.ID, src: trace.FreshPrefix + p.pos}
			u.made.put(h, s)
			links = append(links, trace.Link{At: p.pos, Src: s.src})
			f.stats.Fresh++
		}
	}
	return links
}

// addRequestPlace adds a request place to f.scratch: not a trivial
// value, not one at a position already there, and at most maxPlaces.
func (f *Finder) addRequestPlace(p place) {
	if trivial(p.value) || len(p.value) > maxValue || len(f.scratch) == maxPlaces {
		return
	}
	for i := range f.scratch {
		if f.scratch[i].pos == p.pos {
			return
		}
	}
	f.scratch = append(f.scratch, p)
}

// mayBind says whether a request place could take a remembered value
// (binds): if not, no held answer is read for it.
func mayBind(p *place) bool {
	return p.part == 'p' || distinctive(p.value) || idLike(p.name) ||
		(p.part == 'h' && (strings.EqualFold(p.name, "If-Match") || strings.EqualFold(p.name, "If-None-Match")))
}

// bound is the remembered place a request place takes its value from.
func (f *Finder) bound(u *user, p *place) (source, bool) {
	srcs, ok := u.values.get(f.hash(p.value))
	if !ok {
		return source{}, false
	}
	distinct := distinctive(p.value)
	for _, s := range srcs {
		if binds(&s, p, distinct) {
			return s, true
		}
	}
	return source{}, false
}

// remember keeps the values of a response for the requests that follow.
// The most recent response holding a value wins; within one, the first
// place in order (Location, Set-Cookie and headers in wire order, then
// the body in document order), up to four places a value.
func (f *Finder) remember(u *user, id int64, coll string, resp []place) {
	for i := range resp {
		p := &resp[i]
		t, h := p.traits, p.hash
		if t == 0 {
			t, h = f.traitsOf(p)
		}
		if t&traitIgnored != 0 {
			continue
		}
		if t&traitCredential != 0 {
			f.handed.put(h, u.session)
		}
		if t&traitMadeUpShape != 0 {
			f.seen.put(h, struct{}{})
		}
		if t&traitKept == 0 {
			continue
		}
		s := source{from: id, src: p.pos, name: p.name, part: p.part, prefix: p.prefix, coll: coll}
		cur, old := u.values.cur[h], u.values.old[h]
		if len(cur) == 0 && len(old) == 0 {
			u.values.put(h, []source{s})
			continue
		}
		var tmp [maxSources]source
		out := newestFirst(tmp[:0], s, cur, old)
		if cap(cur) >= len(out) {
			u.values.cur[h] = append(cur[:0], out...) // in place: no allocation
			continue
		}
		u.values.put(h, append(make([]source, 0, maxSources), out...))
	}
}

// What remember asks of a response place, which depends on the place
// alone (and the Finder's options): traitsOf.
const (
	traitKnown       = 1 << iota // the traits are set (0: not yet)
	traitIgnored                 // trivial or too long: nothing to remember
	traitCredential              // f.credential
	traitMadeUpShape             // madeUpShape
	traitKept                    // distinctive, named like an id, a Location segment or an ETag
)

// traitsOf is what remember asks of p, and the hash of its value.
func (f *Finder) traitsOf(p *place) (uint8, uint64) {
	t := uint8(traitKnown)
	if trivial(p.value) || len(p.value) > maxValue {
		return t | traitIgnored, 0
	}
	if f.credential(p) {
		t |= traitCredential
	}
	if madeUpShape(p.value) {
		t |= traitMadeUpShape
	}
	if distinctive(p.value) || idLike(p.name) || p.part == 'l' || isETag(p) {
		t |= traitKept
	}
	return t, f.hash(p.value)
}

// maxSources bounds the places remembered for one value.
const maxSources = 4

// newestFirst puts s before the places known for its value (cur, then
// old): after the other places of its own response, before those of older
// responses. A value an older response held under a name that binds (the
// "id" of a task) is not lost to a newer one that held it under one that
// does not (a project's "id" equal to it).
func newestFirst(out []source, s source, cur, old []source) []source {
	i := 0
	for ; i < len(cur) && cur[i].from == s.from; i++ {
		out = append(out, cur[i])
	}
	out = append(out, s)
	for _, k := range append(cur[i:len(cur):len(cur)], old...) {
		if len(out) == maxSources {
			break
		}
		if k.from != s.from {
			out = append(out, k)
		}
	}
	return out[:min(len(out), maxSources)]
}

// binds says whether a request place takes a remembered value. A
// distinctive value (8 characters or more, no space, not a date) binds
// wherever it recurs. A short one binds only where the names agree:
//
//   - a path segment after /tasks/ takes a Location segment after
//     /tasks/, an "id" of a response about tasks, or a "task_id" (taskId,
//     task.id) anywhere;
//   - a query, form, JSON or header value takes the value of a response
//     key of the same name that names an id (id, *_id, *Id, uuid, key,
//     token, version, etag), or the "id" of a response about the
//     collection its name says (project_id: an id a /projects response
//     held);
//   - If-Match and If-None-Match take an ETag.
func binds(s *source, p *place, distinct bool) bool {
	if p.part == 'h' && (strings.EqualFold(p.name, "If-Match") || strings.EqualFold(p.name, "If-None-Match")) {
		return s.part == 'h' && strings.EqualFold(s.name, "ETag")
	}
	if distinct {
		return true
	}
	sn := norm(s.name)
	if p.part == 'p' {
		coll := lastSegment(p.prefix)
		switch {
		case s.part == 'l':
			return s.prefix == p.prefix
		case sn == "id" || sn == "uuid":
			return s.coll != "" && s.coll == coll
		default:
			return idLike(s.name) && (sn == singular(coll)+"id" || sn == singular(coll)+"uuid")
		}
	}
	if p.part == 'l' || p.part == 'c' {
		return false
	}
	pn := norm(p.name)
	if idLike(s.name) && sn == pn {
		return true
	}
	return (sn == "id" || sn == "uuid") && s.coll != "" && (pn == singular(s.coll)+sn)
}

func isETag(p *place) bool { return p.part == 'h' && strings.EqualFold(p.name, "ETag") }

// collection is what a request is about: the last segment of its route
// that is not an id ("tasks" for /api/v1/tasks/{id}).
func collection(route string) string {
	route = strings.Trim(route, "/")
	for route != "" {
		i := strings.LastIndexByte(route, '/')
		seg := route[i+1:]
		if seg != "{id}" {
			return seg
		}
		if i < 0 {
			return ""
		}
		route = route[:i]
	}
	return ""
}

func lastSegment(path string) string { return path[strings.LastIndexByte(path, '/')+1:] }

// singular is a collection's name for one of it: tasks task, entries entry.
func singular(s string) string {
	s = strings.ToLower(s)
	switch {
	case strings.HasSuffix(s, "ies") && len(s) > 3:
		return s[:len(s)-3] + "y"
	case strings.HasSuffix(s, "ses") && len(s) > 3:
		return s[:len(s)-2]
	case strings.HasSuffix(s, "s") && len(s) > 1:
		return s[:len(s)-1]
	}
	return s
}

// norm is a name compared loosely: lower case, no separators (task_id,
// taskId and task.id are one name).
func norm(n string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.':
			return -1
		}
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, n)
}

// idLike says whether a name names an identifier or a version.
func idLike(n string) bool {
	switch norm(n) {
	case "id", "uuid", "guid", "key", "token", "etag", "version", "rev", "ref", "slug", "code":
		return true
	}
	l := strings.ToLower(n)
	return strings.HasSuffix(n, "Id") || strings.HasSuffix(n, "ID") || strings.HasSuffix(n, "Uuid") ||
		strings.HasSuffix(n, "UUID") || strings.HasSuffix(n, "Key") || strings.HasSuffix(n, "Token") ||
		hasSuffixAfterSep(l, "id") || hasSuffixAfterSep(l, "uuid") || hasSuffixAfterSep(l, "key") ||
		hasSuffixAfterSep(l, "token") || hasSuffixAfterSep(l, "ref")
}

func hasSuffixAfterSep(l, word string) bool {
	if !strings.HasSuffix(l, word) || len(l) == len(word) {
		return false
	}
	c := l[len(l)-len(word)-1]
	return c == '_' || c == '-' || c == '.'
}

// trivial values bind nothing: they recur everywhere.
func trivial(v string) bool {
	switch v {
	case "", "0", "1", "-1", "true", "false", "null", "none", "None", "yes", "no":
		return true
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ' ', '\t', '\r', '\n':
			return true
		}
	}
	return false
}

// distinctive values are unlikely to recur by chance.
func distinctive(v string) bool {
	return len(v) >= 8 && !trivial(v) && !dateLike(v)
}

// dateLike says v starts as a date (2026-12-01) or a time (10:30) does.
func dateLike(v string) bool {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	return (len(v) >= 10 && digits(v[:4]) && v[4] == '-' && digits(v[5:7]) && v[7] == '-' && digits(v[8:10])) ||
		(len(v) >= 5 && digits(v[:2]) && v[2] == ':' && digits(v[3:5]))
}

// uuidShape is a UUID's: 8-4-4-4-12 hex digits, maybe in braces.
type uuidShape struct{}

// MatchString says whether v is a UUID.
func (uuidShape) MatchString(v string) bool {
	if len(v) == 38 && v[0] == '{' && v[37] == '}' {
		v = v[1:37]
	}
	if len(v) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := v[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

var uuidLike uuidShape

// randomLooking values are long runs of letters and digits mixed, as
// generated ids are.
func randomLooking(v string) bool {
	if len(v) < 16 || len(v) > 128 {
		return false
	}
	var letters, digits bool
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case '0' <= c && c <= '9':
			digits = true
		case ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
			letters = true
		case c == '-' || c == '_':
		default:
			return false
		}
	}
	return letters && digits
}

// madeUpShape says a value has the shape of one a client makes up.
func madeUpShape(v string) bool { return uuidLike.MatchString(v) || randomLooking(v) }

// freshHeaders carry a value the client makes up for each request.
var freshHeaders = map[string]bool{"idempotency-key": true, "x-idempotency-key": true, "x-request-id": true,
	"request-id": true, "x-correlation-id": true, "correlation-id": true}

// madeUp says whether a request value was made up by its client (when no
// response held it): an id-making header's value, a UUID in a header or in
// a write request, or a random-looking id under an id's name in a write's
// body.
func madeUp(p *place, write bool) bool {
	if p.part == 'h' {
		return freshHeaders[strings.ToLower(p.name)] || uuidLike.MatchString(p.value)
	}
	if !write {
		return false
	}
	if uuidLike.MatchString(p.value) {
		return true
	}
	return (p.part == 'b' || p.part == 'f') && (idLike(p.name) || strings.Contains(strings.ToLower(p.name), "nonce")) && randomLooking(p.value)
}

// gen is a map bounded by generations: when the current one holds max
// entries it becomes the old one (the one before is dropped), so an entry
// lives for at least max newer ones.
type gen[K comparable, V any] struct {
	cur, old map[K]V
	max      int
	// dropped, when set, is told of each entry a rotation drops.
	dropped func(V)
}

func newGen[K comparable, V any](max int) gen[K, V] {
	return gen[K, V]{cur: map[K]V{}, max: max}
}

func (g *gen[K, V]) get(k K) (V, bool) {
	if v, ok := g.cur[k]; ok {
		return v, true
	}
	v, ok := g.old[k]
	return v, ok
}

func (g *gen[K, V]) put(k K, v V) {
	if _, ok := g.cur[k]; !ok && len(g.cur) >= g.max {
		if g.dropped != nil {
			for _, v := range g.old {
				g.dropped(v)
			}
		}
		g.old, g.cur = g.cur, make(map[K]V, g.max/4)
	}
	g.cur[k] = v
}
