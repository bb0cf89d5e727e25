// Package tlsprobe reads the plaintext of TLS connections from the TLS
// library of the processes that hold them: uprobes on OpenSSL's SSL_read
// and SSL_write (and their _ex forms) copy each call's bytes into a BPF
// ring buffer, with the TCP addresses of the socket the call used. No keys
// and no proxy: the bytes are read before encryption and after decryption.
//
// Probe loads and attaches the BPF programs and reads the chunks;
// Assembler turns chunks into the two byte streams of each connection and
// feeds them to the HTTP parser (package httpstream).
package tlsprobe

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
)

// Dir is the direction of a chunk, seen from the traced process.
type Dir uint8

const (
	// Sent bytes were given to SSL_write.
	Sent Dir = 0
	// Received bytes were returned by SSL_read.
	Received Dir = 1
)

// Chunk is the plaintext of one SSL call, or one part of a call larger
// than the BPF program copies in one event (16 KiB).
type Chunk struct {
	// Time is when the call returned (wall clock).
	Time time.Time
	// PID and TID are the process and thread that made the call.
	PID, TID uint32
	// SSL is the address of the call's SSL object in the process: with
	// PID, it names the connection.
	SSL uint64
	// Dir says whether the process sent or received Data.
	Dir Dir
	// Local and Remote are the socket's addresses, seen from the process;
	// invalid when no TCP send or receive was seen during a call on it.
	Local, Remote netip.AddrPort
	// Lost is the number of bytes of this direction lost just before
	// Data (the ring buffer was full, or a call was over 512 KiB).
	Lost int64
	// Data is the plaintext; valid until the next chunk is read.
	Data []byte
	// Freed says the process freed the SSL object (SSL_free): the
	// connection ended, and the address may name another one next.
	Freed bool
}

// The layout of struct event_hdr in bpf/openssl.c.
const (
	hdrSize   = 88
	kindData  = 0
	kindFree  = 1
	afINET    = 2
	afINET6   = 10
	tupleBase = 48
)

var errShort = errors.New("tlsprobe: short event")

// decodeChunk reads one ring buffer record; mono2wall turns the BPF
// program's CLOCK_MONOTONIC nanoseconds into Unix nanoseconds.
func decodeChunk(b []byte, mono2wall int64, c *Chunk) error {
	if len(b) < hdrSize {
		return errShort
	}
	le := binary.LittleEndian
	*c = Chunk{
		Time:  time.Unix(0, int64(le.Uint64(b[0:]))+mono2wall),
		SSL:   le.Uint64(b[8:]),
		PID:   le.Uint32(b[16:]),
		TID:   le.Uint32(b[20:]),
		Dir:   Dir(le.Uint32(b[24:])),
		Freed: le.Uint32(b[28:]) == kindFree,
		Lost:  int64(le.Uint64(b[40:])),
	}
	n := int(le.Uint32(b[32:]))
	if n > len(b)-hdrSize {
		return errShort
	}
	c.Data = b[hdrSize : hdrSize+n]
	t := b[tupleBase:]
	lport, rport := le.Uint16(t[32:]), le.Uint16(t[34:])
	switch le.Uint16(t[36:]) {
	case afINET:
		c.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(t[0:4])), lport)
		c.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(t[16:20])), rport)
	case afINET6:
		c.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(t[0:16])).Unmap(), lport)
		c.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(t[16:32])).Unmap(), rport)
	}
	return nil
}
