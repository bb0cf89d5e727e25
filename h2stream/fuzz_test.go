package h2stream

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// FuzzConn feeds arbitrary bytes after the preface on both sides, split
// and holed where the input says. The decoder must not panic or loop, and
// its counters must add up: every stream the client opened is written,
// lost, dropped for a limit, or still counted at the close.
func FuzzConn(f *testing.F) {
	c, s := conversation()
	f.Add(c.buf.Bytes()[len(Preface):], s.buf.Bytes(), uint8(7), uint8(0))
	f.Add(c.buf.Bytes()[len(Preface):], s.buf.Bytes(), uint8(1), uint8(5))
	c, s = newPeer(true), newPeer(false)
	c.headers(1, true, 3, ":method: GET", ":path: /", ":authority: a", "x: "+strings.Repeat("y", 40))
	s.frame(framePushPromise, flagEndHeaders|flagPadded, 1, []byte{1, 0, 0, 0, 2, 0x82, 0})
	s.frame(frameHeaders, flagEndHeaders|flagPriority, 1, []byte{0, 0, 0, 0, 9, 0x88})
	s.frame(frameData, flagEndStream|flagPadded, 1, []byte{2, 'o', 'k', 0, 0})
	f.Add(c.buf.Bytes()[len(Preface):], s.buf.Bytes(), uint8(2), uint8(3))
	f.Fuzz(func(t *testing.T, client, server []byte, split, holes uint8) {
		k := &collected{}
		st := New(Options{MaxBody: 64, MaxRespBody: 64, MaxHeaderList: 256, MaxStreams: 8}, k)
		conn := st.NewConn(1, "c", "s", false)
		step := int(split%16) + 1
		conn.FeedClient([]byte(Preface), FixedTime(0), 0)
		var at int64
		for i, j, n := 0, 0, 0; i < len(client) || j < len(server); n++ {
			skip := 0
			if holes != 0 && n%int(holes|1) == 3 {
				skip = int(holes) - 128 // sometimes unknown (negative)
				if skip < 0 {
					skip = -1
				}
			}
			at++
			if i < len(client) {
				e := min(i+step, len(client))
				conn.FeedClient(client[i:e], FixedTime(at), skip)
				i = e
			}
			if j < len(server) {
				e := min(j+step+1, len(server))
				conn.FeedServer(server[j:e], FixedTime(at), skip)
				j = e
			}
		}
		if holes&2 == 2 {
			conn.ServerClosed()
		}
		conn.Close()
		s := st.Stats()
		if int64(len(k.got)) != s.Exchanges+s.Unanswered {
			t.Fatalf("emitted %d, stats say %d+%d", len(k.got), s.Exchanges, s.Unanswered)
		}
		// Every request is counted once: written, lost, or dropped for a
		// limit.
		if n := s.Exchanges + s.Unanswered + s.Incomplete + s.TooLarge; n != s.Requests {
			t.Fatalf("%d written, %d lost, %d dropped of %d requests", s.Exchanges+s.Unanswered, s.Incomplete, s.TooLarge, s.Requests)
		}
		for _, x := range k.got {
			if x.Req.Method == "" || x.Req.Target == "" || len(x.Req.Body) > 64 || x.Resp != nil && len(x.Resp.Body) > 64 {
				t.Fatalf("a row that should not be: %+v", x.Req)
			}
			for _, h := range x.Req.Headers {
				if strings.HasPrefix(h.Name, ":") {
					t.Fatalf("pseudo-header %q among the headers", h.Name)
				}
			}
		}
	})
}

// The known HTTP/2 attacks on a header decoder cost bounded memory and
// time: a CONTINUATION flood (CVE-2024-27316 and kin: one header block
// without end, in 1-byte frames), a header list far over the limit, a
// value longer than the decoder takes, and dynamic table size changes
// over the bound.
func TestHostileHeaderBlocks(t *testing.T) {
	type attack struct {
		name  string
		bytes func() []byte
		want  func(t *testing.T, st Stats)
	}
	block := func(fields ...hpack.HeaderField) []byte {
		var b bytes.Buffer
		e := hpack.NewEncoder(&b)
		for _, f := range fields {
			e.WriteField(f)
		}
		return b.Bytes()
	}
	for _, a := range []attack{
		{"CONTINUATION flood", func() []byte {
			p := newPeer(true)
			blk := block(hpack.HeaderField{Name: ":method", Value: "GET"}, hpack.HeaderField{Name: ":path", Value: "/"},
				hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("f", 200<<10)})
			p.frame(frameHeaders, flagEndStream, 1, blk[:10])
			for _, b := range blk[10:] {
				p.frame(frameContinuation, 0, 1, []byte{b}) // never END_HEADERS
			}
			for range 200000 {
				p.frame(frameContinuation, 0, 1, []byte{0x82}) // :method GET, again and again
			}
			return p.buf.Bytes()
		}, func(t *testing.T, st Stats) {
			if st.Exchanges+st.Unanswered != 0 {
				t.Errorf("a row from a block without end: %+v", st)
			}
		}},
		{"header list over the limit", func() []byte {
			p := newPeer(true)
			var fs []hpack.HeaderField
			fs = append(fs, hpack.HeaderField{Name: ":method", Value: "GET"}, hpack.HeaderField{Name: ":path", Value: "/"})
			for i := range 20000 {
				fs = append(fs, hpack.HeaderField{Name: "x-many", Value: strings.Repeat("v", i%50)})
			}
			p.frame(frameHeaders, flagEndHeaders|flagEndStream, 1, block(fs...))
			p.headers(3, true, 0, ":method: GET", ":path: /after", ":authority: a")
			return p.buf.Bytes()
		}, func(t *testing.T, st Stats) {
			if st.TooLarge != 1 || st.Requests != 2 || st.HPACKErrors != 0 {
				t.Errorf("stats %+v: want the big one dropped, the next one read", st)
			}
		}},
		{"a value longer than the decoder takes", func() []byte {
			p := newPeer(true)
			p.frame(frameHeaders, flagEndHeaders|flagEndStream, 1, block(hpack.HeaderField{Name: ":method", Value: "GET"},
				hpack.HeaderField{Name: "x-long", Value: strings.Repeat("l", 1<<20)}))
			p.headers(3, true, 0, ":method: GET", ":path: /after", ":authority: a")
			return p.buf.Bytes()
		}, func(t *testing.T, st Stats) {
			if st.HPACKErrors != 1 || st.Exchanges+st.Unanswered != 0 {
				t.Errorf("stats %+v: want the side's decoding stopped", st)
			}
		}},
		{"table size changes", func() []byte {
			p := newPeer(true)
			for i := range 2000 {
				// A size update to the bound, to 0 and back, then fields
				// indexed into the table.
				blk := []byte{0x3f, 0xe1, 0xff, 0x03, 0x20, 0x3f, 0xe1, 0x1f}
				blk = append(blk, block(hpack.HeaderField{Name: ":method", Value: "GET"}, hpack.HeaderField{Name: ":path", Value: "/t"},
					hpack.HeaderField{Name: "x-fill", Value: strings.Repeat("z", 3000)})...)
				p.frame(frameHeaders, flagEndHeaders|flagEndStream, uint32(2*i+1), blk)
			}
			p.frame(frameHeaders, flagEndHeaders|flagEndStream, 5001, []byte{0x3f, 0xe1, 0xff, 0xff, 0x0f}) // far over the bound
			return p.buf.Bytes()
		}, func(t *testing.T, st Stats) {
			if st.Requests != 2001 || st.HPACKErrors != 1 {
				t.Errorf("stats %+v: want 2000 blocks read, the one over the bound lost", st)
			}
		}},
	} {
		t.Run(a.name, func(t *testing.T) {
			b := a.bytes()
			st := New(Options{MaxStreams: 4096}, &collected{})
			conn := st.NewConn(0, "c", "s", false)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			for i := 0; i < len(b); i += 1 << 16 {
				conn.FeedClient(b[i:min(i+1<<16, len(b))], FixedTime(i), 0)
			}
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			conn.Close()
			// Linear time: well under a second for a few MB even with the
			// race detector on a loaded machine; memory: the header limit
			// and the decoder's string bound, not the input.
			if took > 5*time.Second {
				t.Errorf("%d bytes took %v", len(b), took)
			}
			if held := int64(after.HeapInuse) - int64(before.HeapInuse); held > 16<<20 {
				t.Errorf("%d bytes left %d MB in use", len(b), held>>20)
			}
			a.want(t, st.Stats())
		})
	}
}
