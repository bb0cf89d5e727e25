package tlsprobe

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// An event as bpf/openssl.c lays it out reads back as the chunk it holds.
func TestDecodeChunk(t *testing.T) {
	le := binary.LittleEndian
	b := make([]byte, hdrSize+5)
	le.PutUint64(b[0:], 1000)          // ts
	le.PutUint64(b[8:], 0xabc)         // ssl
	le.PutUint32(b[16:], 12)           // tgid
	le.PutUint32(b[20:], 13)           // tid
	le.PutUint32(b[24:], uint32(Sent)) // dir
	le.PutUint32(b[32:], 5)            // len
	le.PutUint64(b[40:], 7)            // lost
	copy(b[tupleBase:], []byte{127, 0, 0, 1})
	copy(b[tupleBase+16:], []byte{127, 0, 0, 2})
	le.PutUint16(b[tupleBase+32:], 40000)
	le.PutUint16(b[tupleBase+34:], 443)
	le.PutUint16(b[tupleBase+36:], afINET)
	copy(b[hdrSize:], "GET /")
	var c Chunk
	if err := decodeChunk(b, 5, &c); err != nil {
		t.Fatal(err)
	}
	if c.Time.UnixNano() != 1005 || c.SSL != 0xabc || c.PID != 12 || c.TID != 13 || c.Dir != Sent || c.Lost != 7 || c.Freed ||
		string(c.Data) != "GET /" || c.Local != netip.MustParseAddrPort("127.0.0.1:40000") || c.Remote != netip.MustParseAddrPort("127.0.0.2:443") {
		t.Fatalf("decoded %+v", c)
	}
	if err := decodeChunk(b[:hdrSize+4], 0, &c); err == nil {
		t.Fatal("a record shorter than its length decoded")
	}
	if err := decodeChunk(b[:10], 0, &c); err == nil {
		t.Fatal("a record shorter than the header decoded")
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]Target{
		"/usr/lib/x86_64-linux-gnu/libssl.so.3": {Lib: "/usr/lib/x86_64-linux-gnu/libssl.so.3"},
		"pid:1234":                              {PID: 1234},
		"exe:/usr/sbin/nginx":                   {Exe: "/usr/sbin/nginx"},
	} {
		if got, err := ParseTarget(in); err != nil || got != want || got.String() != in {
			t.Errorf("ParseTarget(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "pid:", "pid:x", "pid:-1", "exe:nginx"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) took it", bad)
		}
	}
}
