package h2stream

import (
	"golang.org/x/net/http2/hpack"

	"github.com/replaykit/replaykit/observed"
)

// Frame types and flags (RFC 9113 section 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	framePushPromise  = 0x5
	frameContinuation = 0x9

	flagEndStream  = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

// blockChunk is how many header block bytes wait before they go to the
// decoder. hpack.Decoder parses a field cut between two writes again from
// its start at each write, so a flood of 1-byte CONTINUATION frames fed
// one by one would cost time quadratic in a field's length; fed by 16 KiB
// it costs a few passes at most.
const blockChunk = 16 << 10

// side reads the frames one peer sends.
type side struct {
	c      *Conn
	client bool
	// preface is how many bytes of the client's preface are still to
	// come (the client side only; 0 once seen).
	preface int
	// dead: frame boundaries were lost (or the bytes are not HTTP/2):
	// nothing more of this side is parsed.
	dead bool
	// hpackLost: the decoder's state is not the peer's encoder's any more:
	// later header blocks cannot be decoded, only DATA of known streams.
	hpackLost bool

	hdr  [9]byte // the frame header being read
	nhdr int
	// The frame whose payload is being read (inFrame).
	inFrame     bool
	typ, flags  byte
	id          uint32
	left        int   // payload bytes still to come
	at          int64 // capture time of the frame's first byte
	pre         [6]byte
	preNeed     int  // payload bytes before the content (pad length, priority, promised id)
	npre        int  // of them, seen
	content     int  // content bytes still to come, after pre and before the padding
	payloadLost bool // a hole inside this frame's payload: the rest is not read

	dec *hpack.Decoder
	// The header block being read: its stream, whether it is decoded
	// (decoding: not after hpackLost, not a push's).
	inBlock    bool
	blockID    uint32
	blockPush  bool
	blockEnd   bool // its HEADERS frame had END_STREAM
	blockAt    int64
	blockSize  int // decoded size, as MaxHeaderList counts it
	blockBuf   []byte
	cur        block
	sawRegular bool // a regular field came: no pseudo-header may follow
}

func (sd *side) init(c *Conn, client bool) {
	sd.c, sd.client = c, client
	if client {
		sd.preface = len(Preface)
	}
	sd.dec = hpack.NewDecoder(4096, sd.field)
	sd.dec.SetAllowedMaxDynamicTableSize(maxTable)
	// Strings over MaxHeaderList are decoded (not kept) to keep the table
	// in step, up to four times it: the decoder holds a string cut
	// between two writes whole, so this bounds its memory.
	sd.dec.SetMaxStringLength(4 * c.s.opts.MaxHeaderList)
}

func (sd *side) stats() *Stats { return &sd.c.s.stats }

// feed consumes a chunk of bytes in stream order.
func (sd *side) feed(data []byte, tl Timeline) {
	for off := 0; off < len(data); {
		if sd.dead {
			sd.stats().SkippedBytes += int64(len(data) - off)
			return
		}
		off += sd.step(data[off:], tl, off)
	}
}

// step consumes a prefix of b (the bytes from offset off of the chunk)
// and returns its length, at least 1 unless the side just died.
func (sd *side) step(b []byte, tl Timeline, off int) int {
	if sd.preface > 0 {
		want := Preface[len(Preface)-sd.preface:]
		n := min(len(want), len(b))
		if string(b[:n]) != want[:n] {
			sd.die() // not HTTP/2 after all
			return 0
		}
		sd.preface -= n
		return n
	}
	if !sd.inFrame {
		if sd.nhdr == 0 {
			sd.at = tl.At(off)
		}
		n := copy(sd.hdr[sd.nhdr:], b)
		sd.nhdr += n
		if sd.nhdr == len(sd.hdr) {
			sd.nhdr = 0
			sd.startFrame()
			if sd.inFrame && !sd.dead && sd.left == 0 {
				sd.endFrame(tl.At(off + n - 1))
			}
		}
		return n
	}
	n := min(sd.left, len(b))
	if !sd.payloadLost {
		sd.payload(b[:n])
	}
	sd.left -= n
	if sd.left == 0 {
		sd.endFrame(tl.At(off + n - 1))
	}
	return n
}

// startFrame reads the frame header in hdr.
func (sd *side) startFrame() {
	h := sd.hdr
	sd.left = int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	sd.typ, sd.flags = h[3], h[4]
	sd.id = (uint32(h[5])<<24 | uint32(h[6])<<16 | uint32(h[7])<<8 | uint32(h[8])) & 0x7fffffff
	sd.inFrame, sd.payloadLost, sd.npre, sd.preNeed = true, false, 0, 0
	if sd.inBlock && (sd.typ != frameContinuation || sd.id != sd.blockID) {
		// RFC 9113 section 6.10: nothing may come between a header block's
		// frames. Its peer ends the connection; the block is lost.
		sd.hpackFail()
	}
	switch sd.typ {
	case frameData:
		if sd.flags&flagPadded != 0 {
			sd.preNeed = 1
		}
	case frameHeaders:
		if sd.flags&flagPadded != 0 {
			sd.preNeed = 1
		}
		if sd.flags&flagPriority != 0 {
			sd.preNeed += 5
		}
		sd.startBlock(false)
	case framePushPromise:
		sd.preNeed = 4
		if sd.flags&flagPadded != 0 {
			sd.preNeed = 5
		}
		sd.startBlock(true)
	case frameContinuation:
		if !sd.inBlock {
			sd.hpackFail() // a CONTINUATION of no block
			sd.payloadLost = true
		}
	}
	if sd.preNeed > sd.left {
		sd.die() // a frame too short for its own fields: not HTTP/2
		return
	}
	sd.content = sd.left - sd.preNeed
}

// payload takes payload bytes of the current frame.
func (sd *side) payload(b []byte) {
	if sd.npre < sd.preNeed {
		k := copy(sd.pre[sd.npre:sd.preNeed], b)
		sd.npre += k
		b = b[k:]
		if sd.npre < sd.preNeed {
			return
		}
		if sd.flags&flagPadded != 0 {
			pad := int(sd.pre[0])
			if pad > sd.content {
				sd.die() // more padding than payload: a protocol error
				return
			}
			sd.content -= pad
		}
	}
	k := min(sd.content, len(b))
	b = b[:k]
	sd.content -= k
	if len(b) == 0 {
		return
	}
	switch sd.typ {
	case frameData:
		if sd.id != 0 {
			sd.c.onData(sd.client, sd.id, b)
		}
	case frameHeaders, framePushPromise, frameContinuation:
		sd.fragment(b)
	}
}

// endFrame ends the current frame, whose last byte came at end.
func (sd *side) endFrame(end int64) {
	sd.inFrame = false
	switch sd.typ {
	case frameData:
		if sd.flags&flagEndStream != 0 {
			sd.c.onEnd(sd.client, sd.id, end)
		}
	case frameHeaders, framePushPromise, frameContinuation:
		if sd.inBlock && sd.flags&flagEndHeaders != 0 {
			sd.endBlock(end)
		}
	case frameRSTStream:
		sd.c.onReset(sd.id, end)
	}
}

// startBlock begins a header block (a HEADERS or PUSH_PROMISE frame).
func (sd *side) startBlock(push bool) {
	sd.inBlock, sd.blockID, sd.blockPush = true, sd.id, push
	sd.blockEnd = !push && sd.flags&flagEndStream != 0
	sd.blockAt, sd.blockSize, sd.sawRegular = sd.at, 0, false
	sd.cur = block{}
	sd.dec.SetEmitEnabled(true)
	if push {
		sd.stats().Pushed++
	}
}

// fragment takes bytes of a header block.
func (sd *side) fragment(b []byte) {
	if sd.hpackLost {
		return
	}
	sd.blockBuf = append(sd.blockBuf, b...)
	if len(sd.blockBuf) >= blockChunk {
		sd.decode()
	}
}

// decode gives the decoder the block bytes waiting.
func (sd *side) decode() {
	if len(sd.blockBuf) == 0 {
		return
	}
	_, err := sd.dec.Write(sd.blockBuf)
	sd.blockBuf = sd.blockBuf[:0]
	if cap(sd.blockBuf) > blockChunk*2 {
		sd.blockBuf = nil
	}
	if err != nil {
		sd.hpackFail()
	}
}

// endBlock decodes the rest of the block and hands it to its stream.
func (sd *side) endBlock(end int64) {
	sd.inBlock = false
	if sd.hpackLost {
		sd.lostBlock()
		return
	}
	sd.decode()
	if sd.hpackLost {
		sd.lostBlock()
		return
	}
	if err := sd.dec.Close(); err != nil {
		sd.hpackFail()
		sd.lostBlock()
		return
	}
	if sd.blockPush {
		return
	}
	b := &sd.cur
	b.at, b.end, b.endStream = sd.blockAt, end, sd.blockEnd
	if sd.client {
		sd.c.onClientBlock(sd.blockID, b)
	} else {
		sd.c.onServerBlock(sd.blockID, b)
	}
	sd.cur = block{}
}

// lostBlock handles a header block that could not be decoded: its stream
// is lost; a new stream the client opened with it is counted.
func (sd *side) lostBlock() {
	if sd.blockPush {
		return
	}
	c := sd.c
	s := c.streams[sd.blockID]
	switch {
	case s != nil:
		s.lost = true
		if sd.client && s.req == nil && c.countRequest(sd.blockID) {
			// The request of an answer that came first.
			s.req = &observed.Message{}
		}
		if sd.blockEnd {
			if sd.client {
				s.reqDone = true
			} else {
				s.respDone = true
			}
			c.settle(s)
		}
	case sd.client && sd.blockID%2 == 1 && c.countRequest(sd.blockID):
		// A request we cannot read: counted once, and its frames ignored.
		if s = c.open(sd.blockID); s == nil {
			c.s.stats.TooLarge++
			c.dropped[sd.blockID] = true
			break
		}
		s.lost = true
		s.req = &observed.Message{}
		if sd.blockEnd {
			s.reqDone = true
		}
	}
	sd.cur = block{}
}

// field takes one decoded header field (the decoder's emit function).
func (sd *side) field(f hpack.HeaderField) {
	b := &sd.cur
	sd.blockSize += len(f.Name) + len(f.Value) + 32
	if sd.blockSize > sd.c.s.opts.MaxHeaderList {
		b.over = true
		b.headers = nil
		sd.dec.SetEmitEnabled(false) // decoded still, to keep the table, not kept
		return
	}
	if len(f.Name) > 0 && f.Name[0] == ':' {
		if sd.sawRegular {
			b.bad = true
		}
		switch f.Name {
		case ":method":
			b.method = f.Value
		case ":path":
			b.path = f.Value
		case ":authority":
			b.authority = f.Value
		case ":status":
			b.status = f.Value
		}
		return
	}
	sd.sawRegular = true
	b.headers = append(b.headers, observed.Header{Name: f.Name, Value: f.Value})
}

// gap handles bytes lost just before the next ones: skip of them, or an
// unknown number (-1).
func (sd *side) gap(skip int) {
	st := sd.stats()
	st.Gaps++
	if skip > 0 {
		st.LostBytes += int64(skip)
	}
	if sd.dead {
		return
	}
	if skip < 0 || !sd.inFrame || skip > sd.left || sd.preface > 0 {
		// Frames may have begun and ended in the hole: where the next one
		// starts is not known.
		sd.die()
		return
	}
	// The hole is inside this frame's payload: what it held is lost, but
	// the next frame starts where the frame header said.
	sd.left -= skip
	sd.payloadLost = true
	switch sd.typ {
	case frameData:
		if s := sd.c.streams[sd.id]; s != nil {
			s.lost = true
		}
	case frameHeaders, framePushPromise, frameContinuation:
		sd.hpackFail()
	}
	if sd.left == 0 {
		sd.endFrame(0)
	}
}

// hpackFail stops the decoding of this side's header blocks: its decoder
// no longer has its peer's table.
func (sd *side) hpackFail() {
	if !sd.hpackLost {
		sd.hpackLost = true
		sd.stats().HPACKErrors++
	}
	sd.blockBuf = nil
	if sd.inBlock {
		sd.inBlock = false
		sd.lostBlock()
	}
}

// die stops the parsing of this side: its frame boundaries are lost.
func (sd *side) die() {
	if sd.dead {
		return
	}
	sd.dead = true
	sd.stats().Desyncs++
	sd.inBlock, sd.blockBuf, sd.cur = false, nil, block{}
	sd.c.lose(sd.client)
}
