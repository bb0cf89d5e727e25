// Package gor reads GoReplay's capture files (--output-file, .gor, or
// .gor.gz) as observed exchanges.
//
// A file is a list of payloads, each followed by "\n🐵🙈🙉\n". A payload is
// a meta line, "TYPE ID TIMESTAMP LATENCY\n", then one raw HTTP/1 message:
//
//	1 99de46cd7f0000015f68e2e8 1796164106929525888 0
//	GET /health HTTP/1.1\r\n...
//
// TYPE is 1 for a request, 2 for the response the server sent (recorded
// with --input-raw-track-response), 3 for a response to a replay, which is
// not the recording's answer and is left out. ID pairs a request with its
// responses; TIMESTAMP is when the message's first packet was seen, in Unix
// nanoseconds; LATENCY (GoReplay 1.3) is how long the message took from its
// first packet to its last. GoReplay 1.3's ID is the client's port, the
// server's port and the client's IPv4 address (the low 32 bits of an IPv6
// one), then a TCP sequence number: the first two give connections and
// client addresses. Earlier versions' IDs are random, so there each
// exchange is its own connection.
//
// GoReplay writes payloads as it finishes them, so a response may come
// before its request and exchanges out of order by a little: the reader
// holds them in a window and hands them on in request order.
package gor

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"container/heap"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/replaykit/replaykit/httpstream"
	"github.com/replaykit/replaykit/internal/countio"
	"github.com/replaykit/replaykit/observed"
)

// ErrNotGor is wrapped by the error of a file that is not a GoReplay file.
var ErrNotGor = errors.New("not a GoReplay file")

// separator ends every payload.
var separator = []byte("\n🐵🙈🙉\n")

const (
	// maxPayload bounds one payload (GoReplay's --copy-buffer-size is far
	// smaller by default).
	maxPayload = 64 << 20
	// reorder is how long, in capture time, a paired exchange waits for an
	// earlier one that GoReplay wrote later.
	reorder = 2e9
	// answerWait is how long a request waits for its response, and a
	// response for its request, in capture time.
	answerWait = 60e9
	// maxPending and maxPendingBytes bound the messages waiting for their
	// other half or their turn.
	maxPending      = 65536
	maxPendingBytes = 128 << 20
)

// Options say how much of the bodies to keep, as httpstream.Options do.
type Options struct {
	// MaxBody is how many request body bytes a message keeps.
	MaxBody int
	// MaxRespBody is how many bytes of a JSON (or untyped) response body
	// a message keeps.
	MaxRespBody int
}

// Stats count what became of the payloads.
type Stats struct {
	// Payloads counts the payloads read; Requests, Responses and Replayed
	// those of type 1, 2 and 3.
	Payloads, Requests, Responses, Replayed int64
	// Malformed counts payloads without a meta line that GoReplay writes.
	Malformed int64
	// Exchanges counts requests returned with their response; Unanswered
	// those returned without one.
	Exchanges, Unanswered int64
	// Orphans counts responses whose request is not in the file;
	// Duplicates messages whose ID was already used by one of their type.
	Orphans, Duplicates int64
	// Unparsed counts exchanges dropped because a message is not complete
	// HTTP/1 (cut by GoReplay's buffer, or not HTTP).
	Unparsed int64
	// Truncated says the file ends in the middle of a payload.
	Truncated bool
}

// Reader returns the exchanges of a GoReplay file.
type Reader struct {
	sc    *bufio.Scanner
	count *countio.Reader
	opts  httpstream.Options
	st    Stats
	// byID are the exchanges waiting for their other half or for their
	// turn; queue orders them by capture time.
	byID  map[string]*item
	queue queue
	// latest is the largest timestamp read.
	latest int64
	// pendingBytes is the size of the messages in queue.
	pendingBytes int
	// conns numbers the connections by the first half of the ID.
	conns    map[string]int64
	nextConn int64
	ready    []observed.Exchange
	eof      bool
	err      error // why reading stopped early
	streams  *httpstream.Streams
	got      []observed.Exchange // what streams emitted for the current pair
	unparsed int64
}

// item is one exchange being put together.
type item struct {
	id        string
	req, resp *payload
	at        int64 // capture time that orders the queue
	index     int
}

type payload struct {
	ts, latency int64
	data        []byte
}

// NewReader checks that r holds a GoReplay file (gzipped or not).
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	cr := &countio.Reader{R: r}
	br := bufio.NewReader(cr)
	var in io.Reader = br
	if b, _ := br.Peek(2); len(b) == 2 && b[0] == 0x1f && b[1] == 0x8b {
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: bad gzip: %v", ErrNotGor, err)
		}
		in = z
	}
	zb := bufio.NewReader(in)
	b, err := zb.Peek(2)
	if err != nil && !(errors.Is(err, io.EOF) && len(b) == 0) {
		if errors.Is(err, io.EOF) {
			err = errors.New("too short")
		}
		return nil, fmt.Errorf("%w: %v", ErrNotGor, err)
	}
	if len(b) == 2 && (b[0] < '1' || b[0] > '3' || b[1] != ' ') {
		return nil, fmt.Errorf("%w: it does not begin with a payload's meta line (\"1 ID TIMESTAMP LATENCY\")", ErrNotGor)
	}
	g := &Reader{count: cr, byID: map[string]*item{}, conns: map[string]int64{}}
	g.opts = httpstream.Options{MaxBody: opts.MaxBody, MaxRespBody: opts.MaxRespBody}
	g.streams = httpstream.New(g.opts, sink{g})
	g.sc = bufio.NewScanner(zb)
	g.sc.Buffer(make([]byte, 0, 64<<10), maxPayload+len(separator))
	g.sc.Split(g.split)
	return g, nil
}

type sink struct{ g *Reader }

func (s sink) Exchange(x observed.Exchange) { s.g.got = append(s.g.got, x) }

// split cuts the file at each separator.
func (g *Reader) split(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.Index(data, separator); i >= 0 {
		return i + len(separator), data[:i], nil
	}
	if atEOF && len(data) > 0 {
		if len(bytes.TrimSpace(data)) > 0 {
			g.st.Truncated = true
		}
		return len(data), data, nil
	}
	return 0, nil, nil
}

// Stats returns the counters so far.
func (g *Reader) Stats() Stats {
	st := g.st
	st.Unparsed = g.unparsed
	return st
}

// Offset is how many bytes of the file have been read.
func (g *Reader) Offset() int64 { return g.count.N }

// Next returns the next exchange in request order, io.EOF after the last,
// or another error when the file cannot be read further (after the
// exchanges read before it).
func (g *Reader) Next() (observed.Exchange, error) {
	for len(g.ready) == 0 {
		if g.eof {
			if g.queue.Len() == 0 {
				if g.err != nil {
					return observed.Exchange{}, g.err
				}
				return observed.Exchange{}, io.EOF
			}
			g.pop()
			continue
		}
		if !g.sc.Scan() {
			g.eof = true
			if err := g.sc.Err(); err != nil {
				if errors.Is(err, bufio.ErrTooLong) {
					err = fmt.Errorf("a payload is over %d MiB", maxPayload>>20)
				}
				g.err = fmt.Errorf("after payload %d: %w", g.st.Payloads, err)
			}
			continue
		}
		g.add(g.sc.Bytes())
		g.flush()
	}
	x := g.ready[0]
	g.ready[0] = observed.Exchange{}
	g.ready = g.ready[1:]
	return x, nil
}

// add files one payload under its ID.
func (g *Reader) add(b []byte) {
	g.st.Payloads++
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		g.st.Malformed++
		return
	}
	typ, id, ts, latency, ok := parseMeta(b[:nl])
	if !ok {
		g.st.Malformed++
		return
	}
	switch typ {
	case '1':
		g.st.Requests++
	case '2':
		g.st.Responses++
	default:
		g.st.Replayed++ // a replay's answer, not the recording's
		return
	}
	// The scanner reuses its buffer.
	p := &payload{ts: ts, latency: latency, data: bytes.Clone(b[nl+1:])}
	g.pendingBytes += len(p.data)
	g.latest = max(g.latest, ts)
	it := g.byID[id]
	if it != nil && ((typ == '1' && it.req != nil) || (typ == '2' && it.resp != nil)) {
		g.st.Duplicates++
		heap.Remove(&g.queue, it.index)
		g.finish(it)
		it = nil
	}
	if it == nil {
		it = &item{id: id, at: ts}
		g.byID[id] = it
		heap.Push(&g.queue, it)
	}
	if typ == '1' {
		it.req = p
		it.at = ts // requests order the exchanges
		heap.Fix(&g.queue, it.index)
	} else {
		it.resp = p
	}
}

// parseMeta reads "TYPE ID TIMESTAMP [LATENCY]" (GoReplay before 1.3 wrote
// no latency for requests).
func parseMeta(line []byte) (typ byte, id string, ts, latency int64, ok bool) {
	f := bytes.Fields(line)
	if len(f) < 3 || len(f) > 4 || len(f[0]) != 1 || f[0][0] < '1' || f[0][0] > '3' {
		return 0, "", 0, 0, false
	}
	ts, err := strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil || ts < 0 {
		return 0, "", 0, 0, false
	}
	if len(f) == 4 {
		if latency, err = strconv.ParseInt(string(f[3]), 10, 64); err != nil {
			return 0, "", 0, 0, false
		}
		latency = max(latency, 0)
	}
	return f[0][0], string(f[1]), ts, latency, true
}

// flush hands on the exchanges that nothing read later can come before:
// complete ones older than the reorder window, halves whose other half is
// overdue, and the oldest when too many wait.
func (g *Reader) flush() {
	for g.queue.Len() > 0 {
		top := g.queue[0]
		complete := top.req != nil && top.resp != nil
		if !(complete && top.at < g.latest-reorder) && top.at >= g.latest-answerWait &&
			g.queue.Len() <= maxPending && g.pendingBytes <= maxPendingBytes {
			return
		}
		g.pop()
	}
}

// pop hands on the oldest exchange in the queue.
func (g *Reader) pop() {
	it := heap.Pop(&g.queue).(*item)
	g.finish(it)
}

func (g *Reader) finish(it *item) {
	if g.byID[it.id] == it {
		delete(g.byID, it.id)
	}
	for _, p := range []*payload{it.req, it.resp} {
		if p != nil {
			g.pendingBytes -= len(p.data)
		}
	}
	if it.req == nil {
		g.st.Orphans++
		return
	}
	if x, ok := g.parse(it); ok {
		if x.Resp != nil {
			g.st.Exchanges++
		} else {
			g.st.Unanswered++
		}
		g.ready = append(g.ready, x)
	}
}

// parse reads the two messages of an exchange with httpstream, as if they
// were one connection's two directions, and gives them GoReplay's times.
func (g *Reader) parse(it *item) (observed.Exchange, bool) {
	id, client, server := g.conn(it.id)
	c := g.streams.NewConn(id, client, server, false)
	g.got = g.got[:0]
	c.FeedClient(it.req.data, httpstream.FixedTime(it.req.ts), 0)
	if it.resp != nil {
		c.FeedServer(it.resp.data, httpstream.FixedTime(it.resp.ts), 0)
		c.ServerClosed()
	}
	c.Close()
	if len(g.got) == 0 {
		g.unparsed++
		return observed.Exchange{}, false
	}
	if len(g.got) > 1 {
		g.unparsed += int64(len(g.got) - 1) // GoReplay writes one message a payload
	}
	x := g.got[0]
	x.Req.Start, x.Req.End = it.req.ts, it.req.ts+it.req.latency
	if x.Resp != nil {
		x.Resp.Start, x.Resp.End = it.resp.ts, it.resp.ts+it.resp.latency
	}
	return x, true
}

// conn returns the connection of an ID: GoReplay 1.3's IDs begin with the
// client port, the server port and the client's IPv4 address.
func (g *Reader) conn(id string) (n int64, client, server string) {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 12 {
		n = g.nextConn // an ID of another form: its own connection
		g.nextConn++
		return n, "", ""
	}
	key := id[:16]
	n, ok := g.conns[key]
	if !ok {
		if len(g.conns) >= maxPending {
			clear(g.conns) // bounded; numbers go on from nextConn
		}
		n = g.nextConn
		g.nextConn++
		g.conns[key] = n
	}
	ip := net.IPv4(b[4], b[5], b[6], b[7]).String()
	cport := int(b[0])<<8 | int(b[1])
	sport := int(b[2])<<8 | int(b[3])
	return n, net.JoinHostPort(ip, strconv.Itoa(cport)), ":" + strconv.Itoa(sport)
}

// queue is a min-heap of items by capture time.
type queue []*item

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *queue) Push(x any) {
	it := x.(*item)
	it.index = len(*q)
	*q = append(*q, it)
}
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return it
}
