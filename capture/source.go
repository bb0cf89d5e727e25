// Package capture turns packets into HTTP exchanges: it reads pcap and
// pcapng files, decodes link, IP and TCP layers, reassembles TCP streams with
// gopacket's reassembly, and feeds the bytes to httpstream.
package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/replaykit/replaykit/internal/countio"
)

// Source yields packets in capture order.
type Source interface {
	// ReadPacket returns the next packet. data is valid until the next call.
	// It returns io.EOF at the end.
	ReadPacket() (data []byte, ci gopacket.CaptureInfo, err error)
	// LinkType is the link layer of the packets.
	LinkType() layers.LinkType
}

// File is a capture file opened for reading.
type File struct {
	Source
	f    *os.File
	size int64
	cr   *countio.Reader
	// Format is "pcap" or "pcapng".
	Format string
}

// OpenFile opens a pcap or pcapng file (told apart by their magic numbers;
// pcapgo.NewReader alone does not read pcapng).
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open capture: %w", err)
	}
	cr := &countio.Reader{R: f}
	src, format, err := NewReader(cr)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open capture %s: %w", path, err)
	}
	if lt := src.LinkType(); linkOf(lt) == linkUnknown {
		f.Close()
		return nil, fmt.Errorf("open capture %s: %w", path, &LinkTypeError{lt})
	}
	return &File{Source: src, f: f, size: st.Size(), cr: cr, Format: format}, nil
}

// ErrLinkType is what a capture whose link type is not read is (see
// LinkTypeError).
var ErrLinkType = errors.New("link type not read")

// LinkTypeError is a capture's link type that record cannot read: it would
// find no packet in it.
type LinkTypeError struct{ LinkType layers.LinkType }

func (e *LinkTypeError) Error() string {
	return fmt.Sprintf("link type %v (%d) is not one record reads: Ethernet, Linux cooked (tcpdump -i any: SLL, SLL2), BSD loopback, raw IP; capture on an Ethernet interface or with -i any", e.LinkType, int(e.LinkType))
}

// Is makes errors.Is(err, ErrLinkType) true.
func (e *LinkTypeError) Is(target error) bool { return target == ErrLinkType }

// NewReader reads a pcap or pcapng stream (told apart by their magic
// numbers; pcapgo.NewReader alone does not read pcapng). format is "pcap"
// or "pcapng".
func NewReader(r io.Reader) (src Source, format string, err error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, "", errors.New("too short to be a pcap or pcapng file")
	}
	switch binary.LittleEndian.Uint32(magic) {
	case 0x0A0D0D0A:
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, "", fmt.Errorf("bad pcapng header: %w", err)
		}
		return ngSource{r}, "pcapng", nil
	case 0xA1B2C3D4, 0xD4C3B2A1, 0xA1B23C4D, 0x4D3CB2A1:
		r, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("bad pcap header: %w", err)
		}
		return pcapSource{r}, "pcap", nil
	}
	return nil, "", fmt.Errorf("not a pcap or pcapng file (magic %x); write one with tcpdump -w", magic)
}

// Size is the file's length in bytes.
func (f *File) Size() int64 { return f.size }

// Offset is how many bytes of the file were read so far (for progress).
func (f *File) Offset() int64 { return f.cr.N }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

type pcapSource struct{ r *pcapgo.Reader }

func (s pcapSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	return s.r.ZeroCopyReadPacketData()
}
func (s pcapSource) LinkType() layers.LinkType { return s.r.LinkType() }

type ngSource struct{ r *pcapgo.NgReader }

func (s ngSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	return s.r.ZeroCopyReadPacketData()
}
func (s ngSource) LinkType() layers.LinkType { return s.r.LinkType() }

// IsTruncation says whether err from ReadPacket means the file ends in the
// middle of a packet record: a capture cut short, not a bad file.
func IsTruncation(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF)
}
