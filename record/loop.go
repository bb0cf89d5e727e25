package record

import (
	"context"
	"time"
)

// loop is what every recording from a source it reads (a capture file, an
// interface, an imported file) checks between its steps: the stop (ctx),
// the duration, the recorder's end (a write error, --max-exchanges), the
// periodic work of the source and the output, and the progress line once
// a second. One place, so that every source stops and reports alike.
type loop struct {
	ctx      context.Context
	cfg      *Config
	rec      *recorder
	sum      *Summary
	deadline time.Time // zero: none
	next     time.Time // of the next progress line
	// tick is the source's and the output's periodic work (flows
	// flushed, parts closed); nil: none. fill brings sum up to date for
	// a progress line; nil: it is.
	tick func(now time.Time) error
	fill func(now time.Time)
	// rel, when set, runs the recorder on a goroutine of its own: the
	// recorder's end is read from it, and it is synced before the
	// summary is read or written.
	rel *relay
}

func newLoop(ctx context.Context, cfg *Config, rec *recorder, sum *Summary, start time.Time) *loop {
	l := &loop{ctx: ctx, cfg: cfg, rec: rec, sum: sum, next: start.Add(time.Second)}
	if cfg.Duration > 0 {
		l.deadline = start.Add(cfg.Duration)
	}
	return l
}

// full says the recorder takes no more: a write failed, or
// --max-exchanges rows are written. Cheap: asked after every exchange.
func (l *loop) full() bool {
	if l.rel != nil {
		return l.rel.stopped.Load()
	}
	return l.rec.err != nil || l.rec.full
}

// check runs between batches of work. It reports whether the recording
// ends (sum.Stopped says why when it was asked to), or the error of the
// periodic work that ends it.
func (l *loop) check(now time.Time) (bool, error) {
	progress := l.cfg.Progress != nil && now.After(l.next)
	stop := l.ctx.Err() != nil || (!l.deadline.IsZero() && now.After(l.deadline))
	if l.rel != nil && (progress || stop) {
		l.rel.sync() // the summary is this goroutine's until more is handed over
	}
	switch {
	case l.full():
		return true, nil
	case l.ctx.Err() != nil:
		l.sum.Stopped = "interrupted"
		return true, nil
	case !l.deadline.IsZero() && now.After(l.deadline):
		l.sum.Stopped = "--duration " + l.cfg.Duration.String() + " reached"
		return true, nil
	}
	if l.tick != nil {
		if err := l.tick(now); err != nil {
			return true, err
		}
	}
	if progress {
		l.next = now.Add(time.Second)
		if l.fill != nil {
			l.fill(now)
		}
		l.cfg.Progress(l.sum)
	}
	return false, nil
}
