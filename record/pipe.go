package record

import (
	"sync/atomic"

	"github.com/replaykit/replaykit/observed"
	"github.com/replaykit/replaykit/signature"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// sign is the signature a row is to get (trace.Exchange.RespSig): its
// writer makes it, on the goroutine that encodes the row (see pipe).
type sign struct {
	key  *signature.Key
	resp *observed.Message // the answer; nil: the row gets none
}

// apply signs e, with the signatures of recent answers in c.
func (s sign) apply(e *trace.Exchange, c *sigCache) {
	if s.resp != nil {
		e.RespSig = c.of(*s.key, s.resp)
	}
}

// Bounds of a pipe's batches: rows are handed over pipeBatchRows at a
// time, or sooner when they hold pipeBatchBytes (bodies), and at most
// pipeBatches batches exist, so the rows in flight between the two
// goroutines hold a few MiB at most.
const (
	pipeBatchRows  = 128
	pipeBatchBytes = 1 << 20
	pipeBatches    = 3
)

// pipe writes a recording's rows into one trace file on a goroutine of its
// own, so that another core signs the answers and encodes and compresses
// the rows while the recorder makes them (which signs too when the pipe
// is behind: handOver; a capture's recorder is on a goroutine of its own
// too, relay): the recorder hands over batches of rows in order, and the
// file gets the same rows in the same order as when one goroutine did it
// all, so the same bytes.
//
// The goroutine is the pipe's: Close or Abort ends it, and one of them
// must be called. A write error is kept: every later Write returns it, as
// does Close (which then removes the unfinished file, as Abort does).
// Not safe for concurrent use: one goroutine writes to it.
type pipe struct {
	w     *tracefile.Writer
	work  chan []pipeRow // batches to write, in order; closed by end
	free  chan []pipeRow // batches written, to fill again
	done  chan struct{}  // closed when the goroutine has returned
	batch []pipeRow      // being filled
	bytes int            // about how many bytes batch holds
	ended bool

	// sigs and ownSigs are the signatures of recent answers of the
	// goroutine and of the side that hands batches over (handOver).
	sigs, ownSigs *sigCache

	// err is the first write error, set by the goroutine; failed says
	// it is set, for the writer side to see without waiting.
	err    error
	failed atomic.Bool
}

type pipeRow struct {
	e    trace.Exchange
	sign sign
}

func newPipe(w *tracefile.Writer) *pipe {
	p := &pipe{w: w, work: make(chan []pipeRow, pipeBatches), free: make(chan []pipeRow, pipeBatches), done: make(chan struct{}),
		sigs: newSigCache(), ownSigs: newSigCache()}
	for i := 0; i < pipeBatches-1; i++ {
		p.free <- make([]pipeRow, 0, pipeBatchRows)
	}
	p.batch = make([]pipeRow, 0, pipeBatchRows)
	go p.run()
	return p
}

// run writes the batches as they come, until work is closed.
func (p *pipe) run() {
	defer close(p.done)
	for b := range p.work {
		for i := range b {
			if p.err != nil {
				break // a failed file takes no more rows
			}
			r := &b[i]
			r.sign.apply(&r.e, p.sigs)
			if err := p.w.Write(&r.e); err != nil {
				p.err = err
				p.failed.Store(true)
			}
		}
		clear(b) // the rows' headers and bodies are not held
		p.free <- b[:0]
	}
}

// Write hands e over to be signed (s) and written; e may be reused.
func (p *pipe) Write(e *trace.Exchange, s sign) error {
	if p.failed.Load() {
		return p.err // set before failed: the atomic orders them
	}
	p.batch = append(p.batch, pipeRow{e: *e, sign: s})
	p.bytes += int(approxRowBytes(e))
	if s.resp != nil {
		p.bytes += len(s.resp.Body)
	}
	if len(p.batch) == cap(p.batch) || p.bytes >= pipeBatchBytes {
		p.handOver()
	}
	return nil
}

// handOver sends the batch being filled to the goroutine and takes an
// empty one, waiting while pipeBatches are in flight. When none is free
// the goroutine is behind, and this side signs the batch itself rather
// than wait (a signature is the same whoever makes it): the signing goes
// to whichever side has time, so neither waits for the other long.
func (p *pipe) handOver() {
	if len(p.batch) == 0 {
		return
	}
	if len(p.free) == 0 {
		for i := range p.batch {
			r := &p.batch[i]
			r.sign.apply(&r.e, p.ownSigs)
			r.sign.resp = nil // signed
		}
	}
	p.work <- p.batch
	p.batch, p.bytes = <-p.free, 0
}

// end hands over what is left and waits for the goroutine to write it.
func (p *pipe) end() error {
	if !p.ended {
		p.ended = true
		if !p.failed.Load() {
			p.handOver()
		}
		close(p.work)
		<-p.done
	}
	return p.err
}

// Close writes the rows handed over and closes the file (see
// tracefile.Writer.Close); after a write error it removes the file and
// returns the error.
func (p *pipe) Close() error {
	if err := p.end(); err != nil {
		p.w.Abort()
		return err
	}
	return p.w.Close()
}

// Abort stops the goroutine and removes the unfinished file.
func (p *pipe) Abort() {
	p.end()
	p.w.Abort()
}

// Path is the final name of the file.
func (p *pipe) Path() string { return p.w.Path() }

// approxRowBytes is about how many bytes of bodies and headers a row
// holds.
func approxRowBytes(e *trace.Exchange) int64 {
	n := int64(len(e.Path) + len(e.ReqBody) + 128)
	for _, h := range e.ReqHeaders {
		n += int64(len(h.Name) + len(h.Value))
	}
	for _, h := range e.RespHeaders {
		n += int64(len(h.Name) + len(h.Value))
	}
	return n
}
