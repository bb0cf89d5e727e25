// Package session reads what replay sends again: the requests of a trace,
// grouped into sessions (one recorded user each) in the order they were
// sent, and a deterministic order in which virtual users take sessions.
package session

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	"github.com/replaykit/replaykit/trace"
)

// Request is the part of a trace row that replay needs: the request and
// what the recording saw come back. Only these columns are read.
type Request struct {
	// ID is the row's id in its trace file.
	ID int64 `parquet:"id"`
	// TS is when the request was first seen.
	TS time.Time `parquet:"ts,timestamp(nanosecond)"`
	// Session is the recorded session key.
	Session string `parquet:"session"`
	// Method, Host and Path are the request as sent; Route its template.
	Method string `parquet:"method"`
	Host   string `parquet:"host"`
	Path   string `parquet:"path"`
	Route  string `parquet:"route"`
	// Headers are the request headers in wire order, secrets redacted.
	Headers []trace.Header `parquet:"req_headers,list"`
	// Body is the recorded body; BodyTruncated says it was cut by --max-body.
	Body          []byte `parquet:"req_body,optional"`
	BodyTruncated bool   `parquet:"req_body_truncated"`
	// Size is the body's full length.
	Size int64 `parquet:"req_size"`
	// Status is what the recording saw come back (0: nothing).
	Status int32 `parquet:"status"`
	// Kind is "read" or "write".
	Kind string `parquet:"kind"`
}

// Session is the requests of one recorded user, in the order sent.
type Session struct {
	// Key is the recorded session key.
	Key string
	// Requests are in TS order.
	Requests []Request
}

// Stats say what Load read.
type Stats struct {
	// Files and Requests count what was read; Sessions what it made.
	Files, Requests, Sessions int
	// Reads and Writes count requests by kind.
	Reads, Writes int
	// Truncated counts requests whose body was cut at recording
	// (--max-body): they are sent with the part that was kept.
	Truncated int
}

// Load reads every trace file matching the globs. The request side of the
// trace is held in memory (the responses are not read): about the size of
// its headers and bodies. Sessions come in the order of their first
// request.
func Load(globs ...string) ([]Session, Stats, error) {
	var st Stats
	var files []string
	for _, g := range globs {
		m, err := filepath.Glob(g)
		if err != nil {
			return nil, st, fmt.Errorf("--trace %q: %w", g, err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	files = slices.Compact(files)
	if len(files) == 0 {
		return nil, st, fmt.Errorf("no trace matches %q: record one first (record --iface, --pcap or --proxy)", globs)
	}
	byKey := map[string]*Session{}
	for _, path := range files {
		f, err := trace.Open(path)
		if err != nil {
			return nil, st, err
		}
		err = trace.Scan(f, func(r *Request) error {
			s := byKey[r.Session]
			if s == nil {
				s = &Session{Key: r.Session}
				byKey[r.Session] = s
			}
			s.Requests = append(s.Requests, *r)
			st.Requests++
			if r.Kind == trace.KindRead {
				st.Reads++
			} else {
				st.Writes++
			}
			if r.BodyTruncated {
				st.Truncated++
			}
			return nil
		})
		f.Close()
		if err != nil {
			return nil, st, err
		}
		st.Files++
	}
	out := make([]Session, 0, len(byKey))
	for _, s := range byKey {
		// Rows are stored in the order exchanges completed: sort by start.
		slices.SortStableFunc(s.Requests, func(a, b Request) int { return a.TS.Compare(b.TS) })
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Session) int {
		return cmp.Or(a.Requests[0].TS.Compare(b.Requests[0].TS), cmp.Compare(a.Key, b.Key))
	})
	st.Sessions = len(out)
	if st.Requests == 0 {
		return nil, st, fmt.Errorf("the traces %q hold no request", files)
	}
	return out, st, nil
}

// Order returns the order in which virtual users take the n sessions: a
// permutation drawn from seed, so that two runs with the same seed send
// the same requests. Virtual user v of u takes order[v], order[v+u], ...
// (wrapping around), whatever the other users do.
func Order(n int, seed uint64) []int {
	return rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc909)).Perm(n)
}

// Nth is the index of the k-th session (from 0) of virtual user v of u.
func Nth(order []int, users, v, k int) int {
	return order[(v+k*users)%len(order)]
}
