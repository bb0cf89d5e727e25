package replay

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/replaykit/replaykit/results"
)

// newBadH2Server is a badServer that speaks HTTP/2 by prior knowledge:
// it reads the client's preface and settings, sends its own, and hands
// each request's stream to behave (nil: the connection is handed over
// before the server sends anything, to do with as it likes).
func newBadH2Server(t *testing.T, behave func(c net.Conn, fr *http2.Framer, stream uint32), raw func(c net.Conn)) *badServer {
	s := &badServer{t: t, conns: map[net.Conn]bool{}}
	s.serve = func(c net.Conn) {
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil || string(preface) != http2.ClientPreface {
			return
		}
		if raw != nil {
			raw(c)
			return
		}
		fr := http2.NewFramer(c, c)
		if fr.WriteSettings() != nil {
			return
		}
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() && fr.WriteSettingsAck() != nil {
					return
				}
			case *http2.PingFrame:
				if !f.IsAck() && fr.WritePing(true, f.Data) != nil {
					return
				}
			case *http2.HeadersFrame:
				behave(c, fr, f.StreamID)
			}
		}
	}
	s.listen("127.0.0.1:0")
	t.Cleanup(s.stop)
	return s
}

// answerH2 answers stream with status and body.
func answerH2(fr *http2.Framer, stream uint32, status int, body string) {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: fmt.Sprint(status)})
	enc.WriteField(hpack.HeaderField{Name: "content-length", Value: fmt.Sprint(len(body))})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: body == ""})
	if body != "" {
		fr.WriteData(stream, true, []byte(body))
	}
}

// The fault suite over HTTP/2: streams reset, connections sent away,
// a server that stops reading, one that answers HTTP/1.1 to the preface;
// each request's row says what happened, in its time, and nothing stays
// behind.
func TestMisbehavingH2Servers(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const duration = 800 * time.Millisecond
	for _, tc := range []struct {
		name   string
		behave func(c net.Conn, fr *http2.Framer, stream uint32)
		raw    func(c net.Conn)
		// timesOut: the case tests the timeout (else 5 s, so that a
		// loaded machine's slow answer is not taken for one).
		timesOut bool
		check    func(r results.Result) string
		// main, when set, is the error at least one row must have.
		main string
	}{
		{name: "resets every stream (RST_STREAM)", behave: func(_ net.Conn, fr *http2.Framer, stream uint32) {
			fr.WriteRSTStream(stream, http2.ErrCodeInternal)
		}, check: wantError("stream reset by the server: INTERNAL_ERROR")},
		{name: "refuses every stream (RST_STREAM REFUSED_STREAM)", behave: func(_ net.Conn, fr *http2.Framer, stream uint32) {
			fr.WriteRSTStream(stream, http2.ErrCodeRefusedStream)
			// The client sends a refused stream again, until its timeout.
		}, timesOut: true, check: wantError("timeout")},
		{name: "sends every connection away (GOAWAY) and closes it", behave: func(c net.Conn, fr *http2.Framer, stream uint32) {
			fr.WriteGoAway(stream, http2.ErrCodeEnhanceYourCalm, []byte("calm down"))
			c.Close()
		}, main: "connection sent away by the server (GOAWAY ENHANCE_YOUR_CALM)",
			// The streams the other users had sent on it meanwhile.
			check: wantError("connection sent away by the server (GOAWAY ENHANCE_YOUR_CALM)", "connection reset", "connection closed before the response ended")},
		{name: "answers one stream, then GOAWAY NO_ERROR", behave: goAwayAfterOne(), check: wantStatus(200, 8)},
		{name: "stops reading", raw: func(c net.Conn) {
			// Its settings sent, it answers nothing and all but stops
			// reading (a byte every 50 ms, to see the close at the end).
			http2.NewFramer(c, c).WriteSettings()
			one := make([]byte, 1)
			for {
				time.Sleep(50 * time.Millisecond)
				if _, err := c.Read(one); err != nil {
					return
				}
			}
		}, timesOut: true, check: wantError("timeout")},
		{name: "answers HTTP/1.1 to the preface", raw: func(c net.Conn) {
			fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		}, main: LabelNoH2C, check: wantError(LabelNoH2C, "HTTP/2 connection could not be established", "connection reset", "connection closed before the response ended")},
		{name: "answers 503 on every stream", behave: func(_ net.Conn, fr *http2.Framer, stream uint32) {
			answerH2(fr, stream, 503, "")
		}, check: func(r results.Result) string {
			if r.Status != 503 || r.Error != "" || !r.Unavailable() || r.Proto != "HTTP/2.0" {
				return fmt.Sprintf("status %d error %q proto %q", r.Status, r.Error, r.Proto)
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			srv := newBadH2Server(t, tc.behave, tc.raw)
			tgt, _ := ParseTarget("http://" + srv.addr)
			tgt.Protocol = ProtocolHTTP2
			timeout := timeout
			if !tc.timesOut {
				timeout = 5 * time.Second
			}
			start := time.Now()
			rows, sum := run(t, "http://"+srv.addr, Plan{Users: 4, Duration: duration, Timeout: timeout, Target: tgt,
				Sessions: faultSessions(), Seed: 1})
			errs := checkFaultRun(t, rows, sum, time.Since(start), duration, timeout, tc.check)
			if tc.main != "" && errs["0 "+tc.main] == 0 {
				t.Errorf("no row has the error %q", tc.main)
			}
			srv.stop()
			if leaked := settledGoroutines(before); leaked > 0 {
				t.Errorf("%d goroutines more than before the run", leaked)
			}
		})
	}
}

// goAwayAfterOne answers the first stream of each connection, then
// sends GOAWAY NO_ERROR naming it the last one served (a server going
// away gracefully, as on a reload): the streams sent after it on that
// connection go unanswered, and the client sends them again on another.
func goAwayAfterOne() func(c net.Conn, fr *http2.Framer, stream uint32) {
	var mu sync.Mutex
	gone := map[net.Conn]bool{}
	return func(c net.Conn, fr *http2.Framer, stream uint32) {
		mu.Lock()
		defer mu.Unlock()
		if gone[c] {
			return
		}
		gone[c] = true
		answerH2(fr, stream, 200, `{"ok":1}`)
		fr.WriteGoAway(stream, http2.ErrCodeNo, nil)
	}
}
