package replay

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"sync/atomic"
	"time"

	"net/http"

	"github.com/replaykit/replaykit/correlate"
	"github.com/replaykit/replaykit/observed"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/signature"
	"github.com/replaykit/replaykit/trace"
)

// sender sends one request at a time for either model: it builds the
// request, times it and makes its results row. It is the only place rows
// are made.
type sender struct {
	client *http.Client
	// fast, when set, sends to plain http:// targets (replay's own
	// HTTP/1.1 client); client sends the rest.
	fast *fastClient
	// h2 sends the requests that go over HTTP/2 (Prepared.h2).
	h2     *h2Clients
	target *Target
	// abandon is the context requests are sent under: when it ends, those
	// in flight are abandoned, and their rows say so.
	abandon context.Context
	// fromSchedule: latency counts from the scheduled time (open model),
	// else from the send.
	fromSchedule bool
	base         results.Result // the run's columns
	live         *meter
	rows         chan<- results.Result
	// correlate carries live values into requests (package correlate).
	correlate bool
	// answers compares live answers with the recorded ones (nil: not).
	answers *Answers
	// shadow, when set, gets every request too (replay --shadow).
	shadow *Target
	// inflight, when set, counts the requests sent and not yet answered
	// (Metrics).
	inflight *atomic.Int64
}

// keptBody is the most of a live answer's body kept, to carry values
// from (correlate) and compare it (signature): one byte more tells a body
// that was longer.
const keptBody = max(correlate.MaxBody, signature.MaxBody)

// bodies are the buffers of answers kept only to be compared.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// row is the results row of rq, sent by user v.
func (sn *sender) row(v int, users int32, rq *request, scheduled time.Time) results.Result {
	res := sn.base
	r := rq.r
	res.VU, res.Users, res.TraceID, res.Method, res.Name, res.Seq = int32(v), users, r.ID, r.Method, r.Route, int32(rq.seq)
	res.Scheduled, res.ReqSize, res.RecordedStatus = scheduled.UTC(), int64(len(r.Body)), r.Status
	res.GRPCStatus = results.NoGRPCStatus
	if rq.prep != nil {
		res.Proto = protoOf(rq.prep)
	}
	return res
}

// skip records a request that was not sent, and why.
func (sn *sender) skip(v int, users int32, rq *request, scheduled time.Time, why string) {
	res := sn.row(v, users, rq, scheduled)
	res.Sent, res.Error = time.Now().UTC(), why
	if !sn.fromSchedule {
		res.Scheduled = res.Sent
	}
	sn.record(&res, false)
}

// request is request i of s made ready to send: the models take it
// before they wait, so the send itself starts at once.
type request struct {
	r    *session.Request
	seq  int // r's place in its session
	prep *Prepared
	err  error // it cannot be sent
	// values are its session's live values (nil: none carried).
	values *sessionValues
	// behind is how long after its time on the recorded timeline it was
	// ready to leave (the recorded scenario).
	behind time.Duration
}

func (sn *sender) request(s *session.Session, i int, values *sessionValues) request {
	prep, err := sn.target.prepared(s, i)
	return request{r: &s.Requests[i], seq: i, prep: prep, err: err, values: values}
}

// send sends rq for user v and records its row. scheduled is when it was
// meant to leave (the open model's schedule; now for a virtual user, who
// means to send when it sends). With a shadow target, the request goes to
// both at once, and the row waits for both answers.
func (sn *sender) send(v int, users int32, rq request, scheduled time.Time) {
	r, prep := rq.r, rq.prep
	if rq.err != nil {
		sn.skip(v, users, &rq, scheduled, "cannot replay: "+rq.err.Error())
		return
	}
	res := sn.row(v, users, &rq, scheduled)
	res.URL = prep.URLString()
	res.BehindNanos = int64(rq.behind)
	if sn.inflight != nil {
		sn.inflight.Add(1)
	}
	var main, shadow answer
	if sn.shadow != nil {
		main, shadow = sn.exchanges(v, prep, r, rq.values)
	} else {
		// Apart: the shadow's goroutine would move these to the heap.
		main = sn.exchange(v, prep, r, rq.values)
	}
	if sn.inflight != nil {
		sn.inflight.Add(-1)
	}
	defer main.release()
	defer shadow.release()
	res.Carried, res.NotCarried = int32(main.carried), int32(main.missed)
	res.Status, res.RespSize = int32(main.status), main.size
	if main.proto != "" {
		res.Proto = main.proto
	}
	if main.grpc {
		res.GRPCStatus, res.GRPCMessage = main.grpcStatus, main.grpcMessage
	}
	if main.err != nil {
		res.Status, res.Error = 0, sn.classify(main.err)
	}
	res.Sent = main.sent.UTC()
	from := main.sent
	if sn.fromSchedule {
		from = scheduled
	} else {
		// sent - scheduled is then zero, and latency minus it is the
		// service time in both models.
		res.Scheduled = res.Sent
	}
	res.LatencyNanos = int64(main.end.Sub(from))
	res.TTFBNanos = main.ttfb
	if sn.answers != nil {
		// After the timing: comparing is replay's work, not the target's.
		var live trace.Signature
		res.Compared, res.Diff, live = sn.answers.Compare(r, main.status, main.contentType, main.contentEncoding, main.body, main.cut, main.admitted)
		res.BodySkipped = res.Compared && !main.admitted && int32(main.status) == r.Status && sn.answers.body(r)
		if sn.shadow != nil {
			var shadowLive trace.Signature
			_, res.ShadowDiff, shadowLive = sn.answers.Compare(r, shadow.status, shadow.contentType, shadow.contentEncoding, shadow.body, shadow.cut, shadow.admitted)
			if main.err == nil && shadow.err == nil {
				res.TargetsDiff = sn.answers.Between(r, int32(main.status), live, int32(shadow.status), shadowLive)
			}
		}
	}
	if sn.shadow != nil {
		res.ShadowStatus = int32(shadow.status)
		if shadow.err != nil {
			res.ShadowStatus, res.ShadowError = 0, sn.classify(shadow.err)
		}
		if !shadow.sent.IsZero() {
			sfrom := shadow.sent
			if sn.fromSchedule {
				sfrom = scheduled
			}
			res.ShadowLatencyNanos = int64(shadow.end.Sub(sfrom))
		}
	}
	sn.record(&res, true)
}

// exchanges sends r to the target and the shadow at once, and waits for
// both answers.
func (sn *sender) exchanges(v int, prep *Prepared, r *session.Request, values *sessionValues) (main, shadow answer) {
	var both sync.WaitGroup
	both.Go(func() {
		sp, err := sn.shadow.Prepare(r)
		if err != nil {
			shadow.err = err
			return
		}
		var sv *sessionValues
		if values != nil {
			sv = values.shadow
		}
		shadow = sn.exchange(v, sp, r, sv)
	})
	main = sn.exchange(v, prep, r, values)
	both.Wait()
	return main, shadow
}

// classify is the results' error of a failed exchange.
func (sn *sender) classify(err error) string {
	if sn.abandon.Err() != nil {
		// Whatever the transport says (the context's error, or its
		// cause), the request was given up, not failed.
		return results.Abandoned
	}
	return Classify(err)
}

// answer is what one target made of a request.
type answer struct {
	status int
	// contentType and contentEncoding are its headers' (Answers.Compare).
	contentType, contentEncoding string
	size                         int64
	err                          error
	sent, end                    time.Time
	ttfb                         int64  // from sent, ns; 0: no first byte
	body                         []byte // its start, when kept (keptBody at most)
	cut                          bool   // body is not all of it
	carried, missed              int
	buf                          *bytes.Buffer // body's, to give back (release)
	// admitted: its body is to be compared (Answers.Admit).
	admitted bool
	// proto is the protocol the answer came over ("": none came).
	proto string
	// grpc: the answer had a grpc-status, grpcStatus, with grpcMessage.
	grpc        bool
	grpcStatus  int32
	grpcMessage string
}

// release gives the answer's buffer back.
func (a *answer) release() {
	if a.buf != nil {
		bodies.Put(a.buf)
		a.buf = nil
	}
}

// exchange sends the request prep makes of r for user v, with the
// session's live values (nil: none), and reads the answer, keeping the
// body's start when a later request needs a value in it or to compare it
// with the recorded answer (same status).
func (sn *sender) exchange(v int, prep *Prepared, r *session.Request, values *sessionValues) (a answer) {
	client := sn.client
	switch {
	case prep.h2 && sn.h2 != nil:
		client = sn.h2.client(v)
	case sn.fast != nil && prep.target.Base.Scheme == "http":
		return sn.fastExchange(prep, r, values)
	}
	// first is set on the transport's goroutine: ns from sent to the
	// first byte, on the monotonic clock, as the latency (the wall clock
	// moves by tens of µs against it); -1: no first byte.
	var first atomic.Int64
	first.Store(-1)
	var sent time.Time
	req := prep.Request(httptrace.WithClientTrace(sn.abandon, &httptrace.ClientTrace{
		GotFirstResponseByte: func() { first.Store(int64(time.Since(sent))) },
	}))
	if values != nil {
		// The row's URL stays the recorded one: a live token carried into
		// a path or query is written nowhere.
		a.carried, a.missed = values.apply(r, prep, req)
	}
	sent = time.Now()
	a.sent = sent
	resp, err := client.Do(req)
	if err == nil {
		carry := values != nil && values.needsBody(r, resp.StatusCode)
		if sn.answers != nil && resp.StatusCode == int(r.Status) {
			a.admitted = sn.answers.Admit(r, time.Now())
		}
		keep := carry || a.admitted
		switch {
		case carry:
			a.body, err = io.ReadAll(io.LimitReader(resp.Body, keptBody+1))
			a.size = int64(len(a.body))
		case keep:
			// Only compared: into a buffer used again, not a new one
			// grown for each answer (100 KiB answers at full speed).
			a.buf = bodies.Get().(*bytes.Buffer)
			a.buf.Reset()
			a.size, err = a.buf.ReadFrom(io.LimitReader(resp.Body, keptBody+1))
			a.body = a.buf.Bytes()
		}
		if err == nil {
			var rest int64
			rest, err = io.Copy(io.Discard, resp.Body)
			a.size += rest
			a.cut = keep && a.size > keptBody
		}
		resp.Body.Close()
		a.status, a.proto = resp.StatusCode, resp.Proto
		if prep.grpc && err == nil {
			// The trailers are there once the body was read to its end.
			a.grpcStatus, a.grpcMessage, a.grpc = grpcAnswer(resp)
		}
		a.contentType, a.contentEncoding = resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding")
	}
	a.end = time.Now()
	if f := first.Load(); f >= 0 {
		a.ttfb = f
	}
	a.err = err
	if err == nil && values != nil {
		values.keep(r, prep, resp.StatusCode, resp.Header, a.body)
	}
	a.body = a.body[:min(len(a.body), keptBody)]
	return a
}

func (sn *sender) record(res *results.Result, sent bool) {
	sn.live.add(res, sent)
	sn.rows <- *res
}

// fastExchange is exchange by replay's own HTTP/1.1 client (fastClient):
// the request's wire bytes made once, or at this send when live values
// go into it; the same answer, timings and errors as exchange's.
func (sn *sender) fastExchange(prep *Prepared, r *session.Request, values *sessionValues) (a answer) {
	w := prep.wire
	if values != nil && (len(r.Links) > 0 || values.live.HasCookies()) || w == nil {
		// Made now, into a buffer used again: values carried in (which
		// apply puts into the request net/http would send), or a request
		// prepared without its wire form (a shadow's).
		req := prep.Request(sn.abandon)
		if values != nil {
			a.carried, a.missed = values.apply(r, prep, req)
		}
		buf := wires.Get().(*bytes.Buffer)
		buf.Reset()
		defer wires.Put(buf)
		made := wireOf(buf, prep, req, math.MaxInt)
		w = &made
	}
	a.sent = time.Now()
	if w.err != nil {
		a.end, a.err = a.sent, urlError(prep.method, prep.urlString, w.err)
		return a
	}
	c, first, err := sn.fast.roundTrip(prep.method, w, a.sent.Add(sn.fast.timeout))
	var header http.Header // for carry, made only when needed
	if err == nil {
		rd := c.rd
		a.status = rd.Status()
		carry := values != nil && values.needsBody(r, a.status)
		if sn.answers != nil && a.status == int(r.Status) {
			a.admitted = sn.answers.Admit(r, time.Now())
		}
		switch {
		case carry:
			a.body, a.size, err = rd.ReadBody(nil, keptBody+1)
		case a.admitted:
			// Only compared: into a buffer used again.
			a.buf = bodies.Get().(*bytes.Buffer)
			a.buf.Reset()
			var body []byte
			body, a.size, err = rd.ReadBody(a.buf.AvailableBuffer(), keptBody+1)
			a.buf.Write(body) // in place, unless it grew
			a.body = a.buf.Bytes()
		default:
			_, a.size, err = rd.ReadBody(nil, 0)
		}
		a.cut = (carry || a.admitted) && a.size > keptBody
		if sn.answers != nil {
			a.contentType, a.contentEncoding = rd.Header("Content-Type"), rd.Header("Content-Encoding")
		}
		if err == nil && values != nil && values.keeps(r, rd.Header("Set-Cookie") != "") {
			header = headerOf(rd.Headers())
		}
		first, a.proto = c.first, "HTTP/1.1"
		sn.fast.done(c, err == nil, w.closes)
	}
	a.end = time.Now()
	if !first.IsZero() {
		a.ttfb = int64(first.Sub(a.sent))
	}
	if err != nil {
		a.err = urlError(prep.method, prep.urlString, err)
	}
	if err == nil && values != nil {
		values.keep(r, prep, a.status, header, a.body)
	}
	a.body = a.body[:min(len(a.body), keptBody)]
	return a
}

// protoOf is the protocol p is sent over, for its row.
func protoOf(p *Prepared) string {
	if p.h2 {
		return "HTTP/2.0"
	}
	return "HTTP/1.1"
}

// headerOf is an answer's header fields as net/http gives them.
func headerOf(hs []observed.Header) http.Header {
	h := make(http.Header, len(hs))
	for _, f := range hs {
		k := textproto.CanonicalMIMEHeaderKey(f.Name)
		h[k] = append(h[k], f.Value)
	}
	return h
}
