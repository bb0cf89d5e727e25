package h2stream

// LooksLikeFrames says whether b, the first bytes seen of one side of a
// connection whose start was not captured, reads as HTTP/2 frames: at
// least two frame headers in a row that are plausible (a known type, a
// length under 1 MiB, a stream id where the type needs one and none where
// it must not), or one whose payload ends exactly at b's end. HTTP/1.x
// bytes do not: a start line's first three letters read as a length of
// over 4 MiB.
func LooksLikeFrames(b []byte) bool {
	frames := 0
	for len(b) >= 9 {
		n := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		typ := b[3]
		id := (uint32(b[5])<<24 | uint32(b[6])<<16 | uint32(b[7])<<8 | uint32(b[8])) & 0x7fffffff
		if n > 1<<20 || typ > frameContinuation {
			return false
		}
		switch typ {
		case 0x4, 0x6, 0x7: // SETTINGS, PING, GOAWAY: the connection's
			if id != 0 {
				return false
			}
		case 0x8: // WINDOW_UPDATE: either
		default:
			if id == 0 {
				return false
			}
		}
		frames++
		if 9+n >= len(b) {
			return frames >= 2 || 9+n == len(b)
		}
		b = b[9+n:]
	}
	return frames >= 2
}
