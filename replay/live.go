package replay

import (
	"bufio"
	"bytes"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replaykit/replaykit/results"
)

// Progress is a snapshot of a run, for the live line.
type Progress struct {
	// Elapsed is the time since the start.
	Elapsed time.Duration
	// Users is the number of active virtual users (in flight, open model).
	Users int
	// Requests and Failures count what completed; RPS is the rate over
	// the last second (over the whole run in a Summary).
	Requests, Failures int64
	RPS                float64
	// P95 is the 95th percentile latency over the last second.
	P95 time.Duration
	// Late is the 99th percentile of how late requests left against their
	// schedule over the last second (open model, recorded timeline): when
	// it grows, the generator cannot keep up and the figures are not the
	// server's.
	Late time.Duration
	// Behind is the 99th percentile of how far behind the recorded
	// timeline requests were ready to leave over the last second, having
	// waited for late answers of their sessions: when it grows, the
	// target cannot keep up.
	Behind time.Duration
	// CPU is the share of this machine's cores the process used over the
	// last second (0-1); HostCPU the share every process used.
	CPU, HostCPU float64
	// Overloaded, when set, says why the generator itself was the
	// bottleneck over the last second (OverloadOwnCPU, ...).
	Overloaded string
}

// Why the generator was the bottleneck.
const (
	OverloadOwnCPU  = "replay's own CPU"
	OverloadHostCPU = "the host's CPU (other processes)"
	OverloadLate    = "sends late against the schedule"
)

// The bounds past which the generator is overloaded.
const (
	overloadCPU  = 0.9
	overloadHost = 0.95
	overloadLate = 10 * time.Millisecond
)

// unreachableAfter is how long a run goes on while the target answers
// none of its requests: past it, and with unreachableRequests tried, the
// run stops instead of sending refused connections for its duration.
const (
	unreachableAfter    = 5 * time.Second
	unreachableRequests = 5
)

// meter counts what a run did, for the live line and the summary.
type meter struct {
	start time.Time
	open  bool // users are requests in flight
	late  bool // requests have a schedule to be late against
	// active users (closed model), requests in flight (open model)
	active, inflight atomic.Int32
	abandoned        atomic.Int64

	mu                           sync.Mutex // guards what follows
	window, lateWindow           *hdrhistogram.Histogram
	behindWindow                 *hdrhistogram.Histogram
	requests, failures, answered int64
	tried                        int64            // sent and not answered
	errs                         map[string]int64 // transport errors by label, while nothing was answered
	lastTick                     time.Time
	lastCPU                      time.Duration
	lastHost                     hostCPU
	overload                     map[string]int
}

func newMeter(start time.Time, open, late bool) *meter {
	return &meter{start: start, open: open, late: late, lastTick: start, lastCPU: cpuTime(), lastHost: readHostCPU(),
		window: hdrhistogram.New(1, int64(time.Hour), 3), lateWindow: hdrhistogram.New(1, int64(time.Hour), 3),
		behindWindow: hdrhistogram.New(1, int64(time.Hour), 3),
		errs:         map[string]int64{}, overload: map[string]int{}}
}

func (m *meter) users() int32 {
	if m.open {
		return m.inflight.Load()
	}
	return m.active.Load()
}

// add counts a row; sent says the request went out (rows of requests
// the generator could not send say nothing of the target).
func (m *meter) add(res *results.Result, sent bool) {
	if res.Error == results.Abandoned {
		m.abandoned.Add(1)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if res.Failed() {
		m.failures++
	}
	switch {
	case res.Status > 0:
		m.answered++
	case sent:
		m.tried++
		if m.answered == 0 {
			m.errs[res.Error]++
		}
	}
	m.window.RecordValue(max(res.LatencyNanos, 1))
	if m.late {
		m.lateWindow.RecordValue(max(int64(res.Sent.Sub(res.Scheduled)), 0))
		m.behindWindow.RecordValue(res.BehindNanos)
	}
}

// tick ends a one-second window and says what it saw.
func (m *meter) tick() Progress {
	// Read outside the lock: senders record rows under it.
	now, cpu, host := time.Now(), cpuTime(), readHostCPU()
	m.mu.Lock()
	defer m.mu.Unlock()
	p := Progress{Elapsed: now.Sub(m.start), Users: int(m.users()), Requests: m.requests, Failures: m.failures}
	if wall := now.Sub(m.lastTick); wall > 0 {
		p.CPU = float64(cpu-m.lastCPU) / float64(wall) / float64(runtime.NumCPU())
	}
	p.HostCPU = host.busySince(m.lastHost)
	m.lastTick, m.lastCPU, m.lastHost = now, cpu, host
	p.RPS = float64(m.window.TotalCount())
	p.P95 = time.Duration(m.window.ValueAtQuantile(95))
	p.Late = time.Duration(m.lateWindow.ValueAtQuantile(99))
	p.Behind = time.Duration(m.behindWindow.ValueAtQuantile(99))
	switch {
	case p.CPU > overloadCPU:
		p.Overloaded = OverloadOwnCPU
	case p.HostCPU > overloadHost:
		p.Overloaded = OverloadHostCPU
	case p.Late > overloadLate:
		p.Overloaded = OverloadLate
	}
	if p.Overloaded != "" {
		m.overload[p.Overloaded]++
	}
	m.window.Reset()
	m.lateWindow.Reset()
	m.behindWindow.Reset()
	return p
}

// total is the whole run so far.
func (m *meter) total() Progress {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := Progress{Elapsed: time.Since(m.start), Users: int(m.users()), Requests: m.requests, Failures: m.failures}
	if secs := p.Elapsed.Seconds(); secs > 0 {
		p.RPS = float64(m.requests) / secs
	}
	return p
}

// unreachable says, once the target has answered none of enough requests
// for long enough, what went wrong; else "".
func (m *meter) unreachable() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.answered > 0 || m.tried < unreachableRequests || time.Since(m.start) < unreachableAfter {
		return ""
	}
	labels := make([]string, 0, len(m.errs))
	for l := range m.errs {
		labels = append(labels, l)
	}
	slices.SortFunc(labels, func(a, b string) int { return int(m.errs[b] - m.errs[a]) })
	parts := make([]string, 0, 3)
	for _, l := range labels[:min(len(labels), 3)] {
		parts = append(parts, strconv.FormatInt(m.errs[l], 10)+" × "+l)
	}
	hint := "is the server running, and is --host right?"
	if len(labels) > 0 && Hint(labels[0]) != "" {
		hint = Hint(labels[0]) // a certificate refused, no h2c: what to give
	}
	return "none of the " + strconv.FormatInt(m.tried, 10) + " requests of the first " +
		time.Since(m.start).Round(time.Second).String() + " got an answer (" + strings.Join(parts, ", ") +
		"): " + hint
}

// overloadSeconds are the seconds the generator was overloaded, by cause,
// and in all.
func (m *meter) overloadSeconds() (map[string]int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.overload {
		n += s
	}
	return maps.Clone(m.overload), n
}

// cpuTime is the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// hostCPU is the machine's CPU time, busy and in all, from /proc/stat
// (zero where there is none).
type hostCPU struct{ busy, total uint64 }

func readHostCPU() hostCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	sc := bufio.NewScanner(bytes.NewReader(line))
	sc.Split(bufio.ScanWords)
	var h hostCPU
	for i := -1; sc.Scan(); i++ {
		if i < 0 {
			continue // "cpu"
		}
		if i >= 8 {
			break // guest time is counted in user time already
		}
		v, _ := strconv.ParseUint(sc.Text(), 10, 64)
		h.total += v
		if i != 3 && i != 4 { // idle, iowait
			h.busy += v
		}
	}
	return h
}

func (h hostCPU) busySince(old hostCPU) float64 {
	if h.total <= old.total {
		return 0
	}
	return float64(h.busy-old.busy) / float64(h.total-old.total)
}
