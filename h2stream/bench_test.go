package h2stream

import (
	"fmt"
	"testing"

	"github.com/replaykit/replaykit/observed"
)

// BenchmarkConn decodes connections of 100 streams each (a GET with a
// JSON answer, header blocks that refer to the dynamic table as real
// encoders' do), fed in 1448-byte chunks as a capture's segments.
func BenchmarkConn(b *testing.B) {
	c, s := newPeer(true), newPeer(false)
	for i := range 100 {
		id := uint32(2*i + 1)
		c.headers(id, true, 0, ":method: GET", ":scheme: http", ":authority: api.test", fmt.Sprintf(":path: /api/tasks/%d", i),
			"user-agent: bench/1", "accept: application/json", "x-api-key: k-123")
		s.headers(id, false, 0, ":status: 200", "content-type: application/json", "server: bench")
		s.data(id, true, fmt.Sprintf(`{"id":%d,"title":"a task","done":false}`, i))
	}
	cb, sb := c.buf.Bytes(), s.buf.Bytes()
	b.SetBytes(int64(len(cb) + len(sb)))
	b.ReportAllocs()
	for b.Loop() {
		st := New(Options{MaxBody: 1 << 20, MaxRespBody: 1 << 20}, discard{})
		conn := st.NewConn(0, "c", "s", false)
		feedBoth(conn, cb, sb, 1448)
		conn.Close()
		if st.Stats().Exchanges != 100 {
			b.Fatal(st.Stats())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/exchange")
}

type discard struct{}

func (discard) Exchange(observed.Exchange) {}
