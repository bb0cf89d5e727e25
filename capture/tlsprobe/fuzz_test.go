package tlsprobe

import (
	"testing"

	"github.com/replaykit/replaykit/httpstream"
)

// Ring buffer records come from the kernel, but their bytes are a traced
// process's: any record decodes or fails, and any chunks assemble,
// without a panic.
func FuzzChunks(f *testing.F) {
	f.Add(make([]byte, hdrSize), []byte(req), []byte(resp), uint8(0))
	f.Add([]byte{1, 2, 3}, []byte("GET / HTTP/1.1\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"), uint8(3))
	f.Fuzz(func(t *testing.T, record, a, b []byte, flags uint8) {
		var c Chunk
		_ = decodeChunk(record, 0, &c)
		var got rows
		asm := NewAssembler(httpstream.Options{MaxBody: 64}, 0, &got)
		for i, data := range [][]byte{a, b, a, b} {
			ch := chunk(1+uint32(flags&1), 10, Dir(i&1), client, server, string(data))
			if flags&2 != 0 {
				ch.Local, ch.Remote = ch.Remote, ch.Local
			}
			if flags&4 != 0 && i == 2 {
				ch.Lost = int64(len(data))
			}
			asm.Chunk(ch)
		}
		if flags&8 != 0 {
			asm.Chunk(&Chunk{PID: 1, SSL: 10, Freed: true})
		}
		asm.Close()
	})
}
