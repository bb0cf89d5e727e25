package h2stream

// LooksLikeFrames says whether b, the first bytes seen of one side of a
// connection whose start was not captured, holds HTTP/2 frames: from one
// of its first 4 KiB (the rest of a frame cut by the capture's start may
// come first), a run of plausible frame headers (a known type, a length
// under 1 MiB, a stream id where the type needs one and none where it
// must not) that ends exactly at b's end, or goes on for 8 frames.
// HTTP/1.x does not: text bytes are never under 0x10, which a length
// under 1 MiB starts with, and a start line's first three letters read
// as a length of over 4 MiB.
func LooksLikeFrames(b []byte) bool {
	for i := 0; i < min(len(b), 4096); i++ {
		if b[i] < 0x10 && framesFrom(b[i:]) {
			return true
		}
	}
	return false
}

// framesFrom says whether b begins with a run of plausible frames that
// ends at b's end or is 8 frames long.
func framesFrom(b []byte) bool {
	for frames := 0; frames < 8; frames++ {
		if len(b) == 0 {
			return frames > 0
		}
		if len(b) < 9 {
			return false
		}
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
		if 9+n > len(b) {
			return frames >= 2 // a run cut by the chunk's end
		}
		b = b[9+n:]
	}
	return true
}

// IsPreface says whether a client's first bytes begin HTTP/2's preface
// (at least "PRI ": no HTTP/1.x method is PRI).
func IsPreface(b []byte) bool {
	n := min(len(b), len(Preface))
	return n >= 4 && string(b[:n]) == Preface[:n]
}

// StartsWithSettings says whether b begins with a SETTINGS frame (not an
// acknowledgement): what an HTTP/2 server sends first, often before the
// client's preface has been read.
func StartsWithSettings(b []byte) bool {
	if len(b) < 9 {
		return false
	}
	length := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	stream := (uint32(b[5])<<24 | uint32(b[6])<<16 | uint32(b[7])<<8 | uint32(b[8])) &^ (1 << 31)
	return b[3] == 0x4 && b[4] == 0 && stream == 0 && length%6 == 0 && length <= 6*64
}
