package record

import (
	"sync/atomic"

	"github.com/replaykit/replaykit/observed"
)

// relay runs a recorder on a goroutine of its own: a capture file's
// packets are read, reassembled and parsed on the caller's goroutine,
// sessions, links and redaction are made on this one, and the rows are
// encoded on the pipe's (pipe), so that three stages share the cores
// there are. The exchanges are handed over in batches, in order: the
// recorder sees the same exchanges in the same order as when it was
// called directly, so it writes the same rows.
//
// The goroutine owns the recorder and the summary's counters of rows
// until Close, which ends it (and must be called); sync waits until it
// has done what was handed over, so that the caller may read and write
// the summary. Not safe for concurrent use: one goroutine feeds it.
type relay struct {
	rec    *recorder
	work   chan []relayed // batches, in order; an empty one asks for synced
	free   chan []relayed // batches done, to fill again
	done   chan struct{}  // closed when the goroutine has returned
	synced chan struct{}
	batch  []relayed
	bytes  int
	ended  bool
	// stopped says the recorder takes no more (a write error, or
	// --max-exchanges reached): the caller stops reading.
	stopped atomic.Bool
}

// relayed is an exchange handed over, with its connection copied: the
// parser's stays its own.
type relayed struct {
	conn        observed.Conn
	req, resp   *observed.Message
	proxyAnswer bool
}

func newRelay(rec *recorder) *relay {
	r := &relay{rec: rec, work: make(chan []relayed, pipeBatches), free: make(chan []relayed, pipeBatches),
		done: make(chan struct{}), synced: make(chan struct{})}
	for i := 0; i < pipeBatches-1; i++ {
		r.free <- make([]relayed, 0, pipeBatchRows)
	}
	r.batch = make([]relayed, 0, pipeBatchRows)
	go r.run()
	return r
}

func (r *relay) run() {
	defer close(r.done)
	for b := range r.work {
		if len(b) == 0 {
			r.synced <- struct{}{}
			continue
		}
		for i := range b {
			x := &b[i]
			r.rec.Exchange(observed.Exchange{Conn: &x.conn, Req: x.req, Resp: x.resp, ProxyAnswer: x.proxyAnswer})
		}
		if r.rec.err != nil || r.rec.full {
			r.stopped.Store(true)
		}
		clear(b) // the messages are not held
		r.free <- b[:0]
	}
}

// Exchange hands x over (observed.Sink).
func (r *relay) Exchange(x observed.Exchange) {
	r.batch = append(r.batch, relayed{conn: *x.Conn, req: x.Req, resp: x.Resp, proxyAnswer: x.ProxyAnswer})
	r.bytes += len(x.Req.Body)
	if x.Resp != nil {
		r.bytes += len(x.Resp.Body)
	}
	if len(r.batch) == cap(r.batch) || r.bytes >= pipeBatchBytes {
		r.handOver()
	}
}

func (r *relay) handOver() {
	if len(r.batch) == 0 {
		return
	}
	r.work <- r.batch
	r.batch, r.bytes = <-r.free, 0
}

// sync hands over what there is and waits until the recorder has done
// it: the summary is the caller's until the next Exchange.
func (r *relay) sync() {
	if r.ended {
		return
	}
	r.handOver()
	r.work <- nil
	<-r.synced
}

// Close hands over what is left and waits for the goroutine to end.
func (r *relay) Close() {
	if r.ended {
		return
	}
	r.ended = true
	r.handOver()
	close(r.work)
	<-r.done
}
