// Command gentimeline writes a trace of N recorded sessions spread over
// -span, for the recorded-timeline benchmark (bench/timeline.sh). Session
// starts follow a daily curve: the arrival rate is a sine between
// 1-swing and 1+swing times the mean, busiest at -peak after the trace's
// start, so one slice of the day is busier than another:
//
//	rate
//	1.7 |            .-'''-.
//	1.0 |- - - - - -'- - - -'- - - - - -
//	0.3 |-._                 _.-'
//	    +--+-----+-----+-----+-----+--> time of day
//	       2h    8h   14h   20h
//
// Each session is one client with its own bearer token (its session key,
// as record makes it: "authorization:" and the token's hash), 2-8 requests
// (mean 3.7) with think gaps of 1-30 s (log-uniform, mean 8.5 s) between
// them, mostly GETs of a project-tracker API, some POSTs and PATCHes with
// small JSON bodies; every answer recorded 200. Rows are in the order the
// exchanges completed, as record writes them. Deterministic from -seed.
package main

import (
	"container/heap"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// Day says what trace to make.
type Day struct {
	// Sessions is how many sessions the trace holds.
	Sessions int
	// Span is the time their starts are spread over: one cycle of the
	// daily curve.
	Span time.Duration
	// Peak is when, after Start, sessions start most often.
	Peak time.Duration
	// Swing is how far the start rate goes from its mean, as a share of
	// it (0 <= Swing < 1): from 1-Swing to 1+Swing times the mean.
	Swing float64
	// Start is the trace's start.
	Start time.Time
	// Host is the recorded Host header.
	Host string
	// Seed makes the trace: the same seed, the same file.
	Seed uint64
}

func main() {
	var d Day
	flag.IntVar(&d.Sessions, "sessions", 1_000_000, "sessions to write")
	flag.DurationVar(&d.Span, "span", 24*time.Hour, "time the session starts are spread over (one cycle of the daily curve)")
	flag.DurationVar(&d.Peak, "peak", 14*time.Hour, "when, after the start, sessions start most often")
	flag.Float64Var(&d.Swing, "swing", 0.7, "the start rate goes from 1-swing to 1+swing times its mean (0 to 1)")
	start := flag.String("start", "2026-11-30T00:00:00Z", "RFC3339 time of the trace's start")
	flag.StringVar(&d.Host, "host", "api.example.com", "the recorded Host header")
	flag.Uint64Var(&d.Seed, "seed", 1, "random seed")
	out := flag.String("o", "timeline.parquet", "trace file to write")
	flag.Parse()
	var err error
	if d.Start, err = time.Parse(time.RFC3339, *start); err != nil || d.Sessions < 1 || d.Span <= 0 || d.Swing < 0 || d.Swing >= 1 {
		fmt.Fprintln(os.Stderr, "gentimeline: want -sessions >= 1, -span > 0, 0 <= -swing < 1 and an RFC3339 -start")
		os.Exit(2)
	}
	requests, err := Write(*out, d)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gentimeline:", err)
		os.Exit(1)
	}
	st, err := os.Stat(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gentimeline:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d sessions, %d requests, %s from %s, %.1f MB (%.1f bytes a request)\n", *out, d.Sessions, requests,
		d.Span, d.Start.Format(time.RFC3339), float64(st.Size())/1e6, float64(st.Size())/float64(requests))
}

// Write writes the trace d describes to path and returns how many
// requests it holds.
func Write(path string, d Day) (requests int64, err error) {
	g := generator{rng: rand.New(rand.NewPCG(d.Seed, 1)), seed: d.Seed, host: d.Host}
	w, err := tracefile.Create(path, tracefile.WriterOptions{FlushInterval: -1}) // row groups by rows only: the same file every time
	if err != nil {
		return 0, err
	}
	for i, off := range startTimes(d.Sessions, d.Span, d.Peak, d.Swing, rand.New(rand.NewPCG(d.Seed, 2))) {
		// Every exchange that completed before this session starts is
		// written: later sessions only add later ones.
		at := d.Start.UnixNano() + off
		if err := g.writeUntil(w, at); err != nil {
			w.Abort()
			return 0, err
		}
		requests += int64(g.session(i, at))
	}
	if err := g.writeUntil(w, math.MaxInt64); err != nil {
		w.Abort()
		return 0, err
	}
	return requests, w.Close()
}

// startTimes returns n session starts, as offsets from the trace's start
// in nanoseconds, in order: the arrivals of a Poisson process of rate
// proportional to 1 + swing*sin(2*pi*(x - peak/span + 1/4)) at x = t/span,
// given that there are n of them in the span. The sorted uniform draws
// (exponential spacings, normalized) are mapped through the inverse of
// the rate's integral.
func startTimes(n int, span, peak time.Duration, swing float64, rng *rand.Rand) []int64 {
	u := make([]float64, n)
	sum := 0.0
	for i := range u {
		sum += rng.ExpFloat64()
		u[i] = sum
	}
	sum += rng.ExpFloat64()
	phase := float64(peak)/float64(span) - 0.25
	// cum(x) is the share of the day's arrivals before x (0..1); rate(x)
	// its derivative, at least 1-swing > 0.
	cum := func(x float64) float64 {
		return x - swing/(2*math.Pi)*(math.Cos(2*math.Pi*(x-phase))-math.Cos(2*math.Pi*phase))
	}
	rate := func(x float64) float64 { return 1 + swing*math.Sin(2*math.Pi*(x-phase)) }
	out := make([]int64, n)
	x := 0.0
	for i := range u {
		target := u[i] / sum
		for range 50 { // Newton's method from the previous start: 3-4 steps
			d := (cum(x) - target) / rate(x)
			x = min(max(x-d, 0), 1)
			if math.Abs(d) < 1e-13 {
				break
			}
		}
		out[i] = int64(x * float64(span))
	}
	return out
}

// endpoint is one kind of request the recorded clients make.
type endpoint struct {
	method string
	// path writes the request target of session s.
	path func(b []byte, s *client, rng *rand.Rand) []byte
	// body is the JSON body of a write, nil for a read.
	body func(b []byte, s *client, rng *rand.Rand) []byte
	// weight is how often a session's request after the first is this one.
	weight int
	// respSize is the typical answer's size in bytes; ttfb the typical
	// server time in milliseconds.
	respSize int
	ttfb     float64
}

var words = []string{"release", "invoice", "onboarding", "migration", "roadmap", "budget", "bug", "design", "review", "launch",
	"sprint", "customer", "backlog", "q4", "security", "hiring", "api", "mobile", "report", "retro"}

var endpoints = []endpoint{
	{method: "GET", weight: 14, respSize: 4200, ttfb: 18, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		b = append(b, "/api/v1/projects/"...)
		b = strconv.AppendInt(b, s.project, 10)
		b = append(b, "/tasks?status=open&limit=50&page="...)
		return strconv.AppendInt(b, int64(1+rng.IntN(3)), 10)
	}},
	{method: "GET", weight: 16, respSize: 1100, ttfb: 6, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		s.task = s.project*400 + int64(rng.IntN(400))
		b = append(b, "/api/v1/tasks/"...)
		return strconv.AppendInt(b, s.task, 10)
	}},
	{method: "GET", weight: 8, respSize: 2600, ttfb: 9, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		b = append(b, "/api/v1/tasks/"...)
		b = strconv.AppendInt(b, s.task, 10)
		return append(b, "/comments"...)
	}},
	{method: "GET", weight: 9, respSize: 3800, ttfb: 12, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		return append(b, "/api/v1/projects?limit=20"...)
	}},
	{method: "GET", weight: 8, respSize: 900, ttfb: 5, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		s.project = 1 + int64(rng.IntN(5000))
		b = append(b, "/api/v1/projects/"...)
		return strconv.AppendInt(b, s.project, 10)
	}},
	{method: "GET", weight: 9, respSize: 600, ttfb: 4, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		return append(b, "/api/v1/notifications?unread=true"...)
	}},
	{method: "GET", weight: 5, respSize: 5200, ttfb: 35, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		b = append(b, "/api/v1/search?q="...)
		return append(b, words[rng.IntN(len(words))]...)
	}},
	{method: "GET", weight: 6, respSize: 7400, ttfb: 14, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		b = append(b, "/api/v2/documents/"...)
		return strconv.AppendInt(b, 1+int64(rng.IntN(500_000)), 10)
	}},
	{method: "GET", weight: 4, respSize: 350, ttfb: 3, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		return append(b, "/api/v1/users/me"...)
	}},
	{method: "POST", weight: 6, respSize: 420, ttfb: 22, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		return append(b, "/api/v1/tasks"...)
	}, body: func(b []byte, s *client, rng *rand.Rand) []byte {
		b = append(b, `{"project_id":`...)
		b = strconv.AppendInt(b, s.project, 10)
		b = append(b, `,"title":"`...)
		b = append(b, words[rng.IntN(len(words))]...)
		b = append(b, ' ')
		b = append(b, words[rng.IntN(len(words))]...)
		b = append(b, `","priority":`...)
		b = strconv.AppendInt(b, int64(rng.IntN(4)), 10)
		return append(b, '}')
	}},
	{method: "PATCH", weight: 6, respSize: 430, ttfb: 16, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		b = append(b, "/api/v1/tasks/"...)
		return strconv.AppendInt(b, s.task, 10)
	}, body: func(b []byte, s *client, rng *rand.Rand) []byte {
		b = append(b, `{"status":"`...)
		b = append(b, []string{"open", "in_progress", "review", "done"}[rng.IntN(4)]...)
		return append(b, `"}`...)
	}},
	{method: "POST", weight: 4, respSize: 310, ttfb: 19, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		b = append(b, "/api/v1/tasks/"...)
		b = strconv.AppendInt(b, s.task, 10)
		return append(b, "/comments"...)
	}, body: func(b []byte, s *client, rng *rand.Rand) []byte {
		b = append(b, `{"body":"looks good, see the `...)
		b = append(b, words[rng.IntN(len(words))]...)
		return append(b, ` notes"}`...)
	}},
	{method: "PATCH", weight: 1, respSize: 280, ttfb: 8, path: func(b []byte, s *client, rng *rand.Rand) []byte {
		return append(b, "/api/v1/users/me/preferences"...)
	}, body: func(b []byte, s *client, rng *rand.Rand) []byte {
		return append(b, []string{`{"theme":"dark"}`, `{"theme":"light"}`, `{"digest":"daily"}`}[rng.IntN(3)]...)
	}},
}

// firstEndpoint is what most sessions start with: who am I.
const firstEndpoint = 8

// routes are the endpoints' routes, made once.
var routes = func() []string {
	rng := rand.New(rand.NewPCG(0, 0))
	r := make([]string, len(endpoints))
	for i, e := range endpoints {
		r[i] = trace.Route(string(e.path(nil, &client{project: 1, task: 1}, rng)))
	}
	return r
}()

// agents are the recorded clients' kinds: a User-Agent and the extra
// headers it sends, chosen by weight.
var agents = []struct {
	weight int
	ua     string
	lang   bool // sends Accept-Language
}{
	{45, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", true},
	{15, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", true},
	{20, "Tracker/4.12.1 (iPhone; iOS 18.1; Scale/3.00)", false},
	{15, "okhttp/4.12.0 Tracker-Android/4.12.1", false},
	{5, "tracker-cli/2.3.0 go1.23", false},
}

// client is one recorded session: its identity and where it is in the API.
type client struct {
	key, auth, addr, ua string
	lang                bool
	conn                int64
	project, task       int64
}

// pending is an exchange made and not yet written: rows go out in the
// order exchanges completed.
type pending struct {
	end int64 // ts + duration, Unix ns
	seq int64 // ties broken in the order made
	ex  trace.Exchange
}

type queue []*pending

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	return q[i].end < q[j].end || (q[i].end == q[j].end && q[i].seq < q[j].seq)
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*pending)) }
func (q *queue) Pop() any {
	old := *q
	p := old[len(old)-1]
	*q = old[:len(old)-1]
	return p
}

type generator struct {
	rng     *rand.Rand
	seed    uint64
	host    string
	queue   queue
	seq     int64
	headers []trace.Header // headers are cut from this slab: rows are copied shallowly
	date    struct {
		sec int64
		s   string
	}
}

// weights sums the endpoints' weights, and sizes the session lengths:
// 2-8 requests, mean 3.7.
var (
	totalWeight = func() (n int) {
		for _, e := range endpoints {
			n += e.weight
		}
		return n
	}()
	lengths = []int{0, 0, 30, 25, 18, 11, 8, 5, 3} // weight of each length, by length
)

func (g *generator) pick(weights func(int) int, n, total int) int {
	r := g.rng.IntN(total)
	for i := range n {
		if r -= weights(i); r < 0 {
			return i
		}
	}
	return n - 1
}

// session makes session i's requests, the first at start (Unix ns), and
// queues them; it returns how many.
func (g *generator) session(i int, start int64) int {
	hash := fmt.Sprintf("%012x", mix48(uint64(i)+g.seed*0x9e3779b97f4a7c15))
	a := agents[g.pick(func(j int) int { return agents[j].weight }, len(agents), 100)]
	c := &client{
		key:     "authorization:" + hash,
		auth:    "Bearer redacted:" + hash,
		addr:    fmt.Sprintf("10.%d.%d.%d:%d", g.rng.IntN(256), g.rng.IntN(256), 1+g.rng.IntN(254), 32768+g.rng.IntN(28000)),
		ua:      a.ua,
		lang:    a.lang,
		conn:    int64(i),
		project: 1 + int64(g.rng.IntN(5000)),
	}
	c.task = c.project*400 + int64(g.rng.IntN(400))
	n := g.pick(func(j int) int { return lengths[j] }, len(lengths), 100)
	at := start
	for k := range n {
		if k > 0 {
			at += int64(math.Exp(g.rng.Float64()*math.Log(30)) * 1e9) // 1-30 s, log-uniform
		}
		e := firstEndpoint
		if k > 0 || g.rng.IntN(10) >= 7 {
			e = g.pick(func(j int) int { return endpoints[j].weight }, len(endpoints), totalWeight)
		}
		g.queueExchange(c, e, at)
	}
	return n
}

// mix48 is a bijection of 48-bit numbers that looks random: distinct
// sessions get distinct keys.
func mix48(x uint64) uint64 {
	const m = 1<<48 - 1
	x &= m
	x = (x * 0x5deece66d) & m
	x ^= x >> 23
	x = (x * 0xbf58476d1ce4e5b9) & m
	x ^= x >> 25
	return x
}

func (g *generator) header(name, value string) {
	g.headers = append(g.headers, trace.Header{Name: name, Value: value})
}

func (g *generator) queueExchange(c *client, e int, at int64) {
	ep := &endpoints[e]
	if cap(g.headers)-len(g.headers) < 16 {
		g.headers = make([]trace.Header, 0, 16<<10)
	}
	first := len(g.headers)
	path := string(ep.path(make([]byte, 0, 64), c, g.rng))
	var body []byte
	if ep.body != nil {
		body = ep.body(make([]byte, 0, 96), c, g.rng)
	}
	g.header("Host", g.host)
	g.header("User-Agent", c.ua)
	g.header("Accept", "application/json")
	g.header("Accept-Encoding", "gzip, deflate, br")
	if c.lang {
		g.header("Accept-Language", "en-US,en;q=0.9")
	}
	g.header("Authorization", c.auth)
	if body != nil {
		g.header("Content-Type", "application/json")
		g.header("Content-Length", strconv.Itoa(len(body)))
	}
	req := g.headers[first:len(g.headers):len(g.headers)]

	ttfb := int64(ep.ttfb * math.Exp(g.rng.NormFloat64()*0.5) * 1e6)
	dur := ttfb + int64(50_000+g.rng.IntN(400_000))
	size := max(64, int64(float64(ep.respSize)*(0.6+0.8*g.rng.Float64())))
	first = len(g.headers)
	g.header("Content-Type", "application/json")
	g.header("Content-Length", strconv.FormatInt(size, 10))
	g.header("Date", "") // set as it is written (httpDate)
	resp := g.headers[first:len(g.headers):len(g.headers)]

	g.seq++
	heap.Push(&g.queue, &pending{end: at + dur, seq: g.seq, ex: trace.Exchange{
		TS: time.Unix(0, at).UTC(), Session: c.key, Conn: c.conn, Client: c.addr, Server: "10.0.0.10:443",
		Method: ep.method, Host: g.host, Path: path, Route: routes[e], Proto: "HTTP/1.1",
		ReqHeaders: req, RespHeaders: resp, ReqBody: body, ReqSize: int64(len(body)), RespSize: size,
		Status: 200, TTFBNanos: ttfb, DurationNanos: dur, Kind: trace.KindOf(ep.method),
	}})
}

// httpDate is the Date header of second sec, kept for the next rows of
// the same second (rows are written in time order).
func (g *generator) httpDate(sec int64) string {
	if g.date.sec != sec || g.date.s == "" {
		g.date.sec, g.date.s = sec, time.Unix(sec, 0).UTC().Format(http.TimeFormat)
	}
	return g.date.s
}

// writeUntil writes the queued exchanges that completed before t (Unix ns).
func (g *generator) writeUntil(w *tracefile.Writer, t int64) error {
	for len(g.queue) > 0 && g.queue[0].end < t {
		p := heap.Pop(&g.queue).(*pending)
		date := &p.ex.RespHeaders[len(p.ex.RespHeaders)-1]
		date.Value = g.httpDate((p.ex.TS.UnixNano() + p.ex.TTFBNanos) / 1e9)
		if err := w.Write(&p.ex); err != nil {
			return err
		}
	}
	return nil
}
