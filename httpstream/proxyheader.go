package httpstream

import (
	"errors"
	"net/netip"

	"github.com/replaykit/replaykit/proxyproto"
)

// proxyHeader looks for a PROXY protocol header (proxyproto) at the start
// of a connection's client bytes, as a load balancer in front of the
// server sends it. A header is stripped before HTTP parsing, and the
// client address it carries becomes the connection's Client: the user's,
// not the load balancer's. Senders write a header at once, so it nearly
// always comes whole in the first segment and costs no copy; one that came
// in pieces is held (at most proxyproto.MaxLen bytes) until it is whole.
type proxyHeader struct {
	// done is set once the connection's start is known to hold a header
	// or not.
	done bool
	// held is the start of a header that came in pieces; heldAt the
	// capture time of its first byte.
	held   []byte
	heldAt int64
	// after is the Timeline of the bytes that follow a header in the
	// chunk it ended in: kept here so that handing it on allocates nothing.
	after shiftedTime
}

// shiftedTime is a Timeline for a chunk's bytes from off on.
type shiftedTime struct {
	tl  Timeline
	off int
}

func (s *shiftedTime) At(i int) int64 { return s.tl.At(s.off + i) }

// stripProxyHeader takes the client bytes fed before the start has been
// decided, and returns those the HTTP parser gets, with their Timeline.
func (c *Conn) stripProxyHeader(data []byte, tl Timeline, skip int) ([]byte, Timeline) {
	pp := &c.pp
	if skip != 0 {
		// Bytes lost at the start: whatever was held is given to the parser,
		// which learns of the loss next.
		c.endProxyHeader(false)
		return data, tl
	}
	if len(data) == 0 {
		return data, tl
	}
	buf, old := data, len(pp.held)
	if old > 0 {
		pp.held = append(pp.held, data...)
		buf = pp.held
	}
	h, err := proxyproto.Parse(buf)
	st := &c.s.stats
	switch {
	case errors.Is(err, proxyproto.ErrNeedMore):
		if old == 0 {
			pp.held, pp.heldAt = append([]byte(nil), data...), tl.At(0)
		}
		return nil, tl
	case err == nil || h.Len > 0:
		// A header, or a bad one whose end is known: stripped either way,
		// but only a good one's address is believed.
		if err == nil {
			st.ProxyHeaders++
			if src, ok := h.Source(); ok {
				// An IPv4 client in an IPv6 header is written as IPv4, as
				// the capture writes a connection's own addresses.
				c.Client = netip.AddrPortFrom(src.Addr().Unmap(), src.Port()).String()
			}
		} else {
			st.ProxyBad++
		}
		// Parse needed more at old bytes, so the header ends in data
		// (FuzzParse checks it; max only keeps a slip from panicking).
		off := max(h.Len-old, 0)
		pp.done, pp.held = true, nil
		pp.after = shiftedTime{tl: tl, off: off}
		return data[off:], &pp.after
	default:
		// Not a header, or a bad one of unknown length: the bytes are the
		// HTTP parser's (which skips and counts what is not HTTP).
		if errors.Is(err, proxyproto.ErrBad) {
			st.ProxyBad++
		}
		if old > 0 {
			c.req.feed(pp.held[:old], FixedTime(pp.heldAt))
		}
		pp.done, pp.held = true, nil
		return data, tl
	}
}

// endProxyHeader stops looking for a header: the bytes held go to the
// HTTP parser. atClose says the connection ended with a header's start
// alone, which counts as a bad header.
func (c *Conn) endProxyHeader(atClose bool) {
	pp := &c.pp
	if pp.done {
		return
	}
	if len(pp.held) > 0 {
		// Six bytes are "PROXY " or most of v2's signature: a header cut
		// short. Fewer may be the start of a POST.
		if atClose && len(pp.held) >= 6 {
			c.s.stats.ProxyBad++
		}
		c.req.feed(pp.held, FixedTime(pp.heldAt))
	}
	pp.done, pp.held = true, nil
}
