package analysis

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replaykit/replaykit/results"
)

// windows is the time series of all names together: a Window per step
// since the epoch, at most MaxWindows of them from the first to the last
// (past that the step doubles). Rows and merged series go through at,
// so that both keep the same bounds.
type windows struct {
	step   time.Duration // window width now
	byIdx  map[int64]*Window
	lo, hi int64 // window indexes seen
	// last and lastW are the window the previous row fell in: rows
	// mostly come in time order.
	last  int64
	lastW *Window
}

func newWindows(step time.Duration) *windows {
	return &windows{step: step, byIdx: map[int64]*Window{}}
}

func newWindow(start time.Time) *Window {
	return &Window{Start: start, Latency: NewWindowHistogram()}
}

// NewWindowHistogram is an empty histogram of a window's precision.
func NewWindowHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMax, windowDigits) }

// index is the window a time (Unix nanoseconds) falls in.
func (ws *windows) index(ns int64) int64 { return floorDiv(ns, int64(ws.step)) }

// at is the window of index i at the current step, made when new, once
// the series is wide enough to hold it. Widening changes the step: the
// caller's index then no longer holds, and ok is false (at the new step,
// the caller asks again).
func (ws *windows) at(i int64) (w *Window, ok bool) {
	if len(ws.byIdx) == 0 {
		ws.lo, ws.hi = i, i
	}
	lo, hi := min(ws.lo, i), max(ws.hi, i)
	if hi-lo >= MaxWindows {
		ws.widen()
		return nil, false
	}
	ws.lo, ws.hi = lo, hi
	if w = ws.byIdx[i]; w == nil {
		w = newWindow(time.Unix(0, i*int64(ws.step)).UTC())
		ws.byIdx[i] = w
	}
	return w, true
}

// add counts row i of b in its window.
func (ws *windows) add(b *results.Batch, i int, failed bool) {
	sent := b.Sent[i]
	w := ws.lastW
	if j := ws.index(sent); w == nil || j != ws.last {
		for {
			var ok bool
			if w, ok = ws.at(ws.index(sent)); ok {
				break
			}
		}
		ws.last, ws.lastW = ws.index(sent), w
	}
	w.Requests++
	if failed {
		w.Failures++
	}
	w.Users = max(w.Users, b.Users[i])
	w.Bytes += max(b.RespSize[i], 0)
	w.Latency.RecordValue(micros(b.LatencyNanos[i]))
}

// widen doubles the window, merging windows in pairs. Windows are aligned
// on multiples of the step since the epoch, so the result does not depend
// on the order rows came in.
func (ws *windows) widen() {
	ws.step *= 2
	old := ws.byIdx
	ws.byIdx = make(map[int64]*Window, len(old)/2+1)
	for i, w := range old {
		j := floorDiv(i, 2)
		if m := ws.byIdx[j]; m != nil {
			m.merge(w)
		} else {
			w.Start = time.Unix(0, j*int64(ws.step)).UTC()
			ws.byIdx[j] = w
		}
	}
	ws.lo, ws.hi = floorDiv(ws.lo, 2), floorDiv(ws.hi, 2)
	ws.lastW = nil
}

// merge moves o's windows into ws (o is left empty): both at the wider
// step, then each of o's windows added through at.
func (ws *windows) merge(o *windows) {
	if len(o.byIdx) == 0 {
		return
	}
	for ws.step < o.step {
		ws.widen()
	}
	for o.step < ws.step {
		o.widen()
	}
	for len(o.byIdx) > 0 {
		for i, w := range o.byIdx {
			m, ok := ws.at(i)
			if !ok { // ws widened: o must too, and start again
				o.widen()
				break
			}
			m.merge(w)
			delete(o.byIdx, i)
		}
	}
	o.lastW = nil
}

// list is every window from the first to the last, empty ones included
// (copies when copied), and the step.
func (ws *windows) list(copied bool) ([]*Window, time.Duration) {
	if len(ws.byIdx) == 0 {
		return nil, ws.step
	}
	out := make([]*Window, 0, ws.hi-ws.lo+1)
	for i := ws.lo; i <= ws.hi; i++ {
		w := ws.byIdx[i]
		if w == nil {
			out = append(out, newWindow(time.Unix(0, i*int64(ws.step)).UTC()))
			continue
		}
		if copied {
			c := *w
			c.Latency = w.Latency.Clone()
			w = &c
		}
		out = append(out, w)
	}
	return out, ws.step
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
