package replay

import (
	"bytes"
	"context"
	"io"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"net/http"

	"github.com/replaykit/replaykit/correlate"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/session"
	"github.com/replaykit/replaykit/signature"
)

// sender sends one request at a time for either model: it builds the
// request, times it and makes its results row. It is the only place rows
// are made.
type sender struct {
	client *http.Client
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
// means to send when it sends).
func (sn *sender) send(v int, users int32, rq request, scheduled time.Time) {
	r, prep := rq.r, rq.prep
	if rq.err != nil {
		sn.skip(v, users, &rq, scheduled, "cannot replay: "+rq.err.Error())
		return
	}
	res := sn.row(v, users, &rq, scheduled)
	res.URL = prep.URLString()
	res.BehindNanos = int64(rq.behind)
	var first atomic.Int64 // set on the transport's goroutine
	req := prep.Request(httptrace.WithClientTrace(sn.abandon, &httptrace.ClientTrace{
		GotFirstResponseByte: func() { first.Store(time.Now().UnixNano()) },
	}))
	if rq.values != nil {
		// res.URL stays the recorded one: a live token carried into a
		// path or query is written nowhere.
		carried, missed := rq.values.apply(r, prep, req)
		res.Carried, res.NotCarried = int32(carried), int32(missed)
	}
	sent := time.Now()
	resp, err := sn.client.Do(req)
	var body []byte
	cut := false
	if err == nil {
		// The body's start is kept when a later request needs a value in
		// it, or to compare it with the recorded answer (same status).
		carry := rq.values != nil && rq.values.needsBody(r, resp)
		keep := carry || (sn.answers != nil && resp.StatusCode == int(r.Status) && sn.answers.body(r))
		var n int64
		switch {
		case carry:
			body, err = io.ReadAll(io.LimitReader(resp.Body, keptBody+1))
			n = int64(len(body))
		case keep:
			// Only compared: into a buffer used again, not a new one
			// grown for each answer (100 KiB answers at full speed).
			buf := bodies.Get().(*bytes.Buffer)
			defer bodies.Put(buf)
			buf.Reset()
			n, err = buf.ReadFrom(io.LimitReader(resp.Body, keptBody+1))
			body = buf.Bytes()
		}
		if err == nil {
			var rest int64
			rest, err = io.Copy(io.Discard, resp.Body)
			n += rest
			cut = keep && n > keptBody
		}
		resp.Body.Close()
		res.Status, res.RespSize = int32(resp.StatusCode), n
	}
	end := time.Now()
	if err == nil && rq.values != nil {
		rq.values.keep(r, prep, resp, body)
	}
	if err == nil && sn.answers != nil {
		// After the timing: comparing is replay's work, not the target's.
		res.Compared, res.Diff = sn.answers.Compare(r, resp.StatusCode, resp.Header, body[:min(len(body), keptBody)], cut)
	}
	if err != nil {
		res.Status, res.Error = 0, Classify(err)
		if sn.abandon.Err() != nil {
			// Whatever the transport says (the context's error, or its
			// cause), the request was given up, not failed.
			res.Error = results.Abandoned
		}
	}
	res.Sent = sent.UTC()
	from := sent
	if sn.fromSchedule {
		from = scheduled
	} else {
		// sent - scheduled is then zero, and latency minus it is the
		// service time in both models.
		res.Scheduled = res.Sent
	}
	res.LatencyNanos = int64(end.Sub(from))
	if f := first.Load(); f != 0 {
		res.TTFBNanos = f - sent.UnixNano()
	}
	sn.record(&res, true)
}

func (sn *sender) record(res *results.Result, sent bool) {
	sn.live.add(res, sent)
	sn.rows <- *res
}
