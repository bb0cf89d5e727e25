package signature

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/andybalholm/brotli"
	// klauspost's inflate is the standard library's API, faster, and
	// allocates nothing per block.
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/replaykit/replaykit/trace"
)

// decoder removes content codings. It keeps its readers and buffers
// between answers (it lives in a scanner, which lives in a pool): a gzip
// reader alone is some 40 KB to set up.
type decoder struct {
	src  bytes.Reader
	bufs [2][]byte // a coding's output, alternating when there are several
	gz   *gzip.Reader
	zl   io.ReadCloser // zlib, a zlib.Resetter
	fl   io.ReadCloser // raw deflate, a flate.Resetter
	br   *brotli.Reader
	zs   *zstd.Decoder
}

// decode removes the codings of Content-Encoding, in the order listed,
// and returns at most MaxBody bytes of the result; over says there were
// more. ok is false when a coding is unknown or its data corrupt. A
// coded body that ends early gives what it has: the start of a body is
// what a recording keeps of a big one.
func (d *decoder) decode(headers []trace.Header, body []byte, cut bool) (out []byte, over, ok bool) {
	out = body
	ce, _ := trace.HeaderValue(headers, "Content-Encoding")
	for n := 0; ce != ""; {
		var c string
		if i := strings.LastIndexByte(ce, ','); i >= 0 {
			ce, c = ce[:i], ce[i+1:]
		} else {
			ce, c = "", ce
		}
		c = strings.TrimSpace(c)
		if c == "" || strings.EqualFold(c, "identity") {
			continue
		}
		if n == maxCodings {
			return nil, false, false
		}
		r, ok := d.reader(c, out)
		if !ok {
			return nil, false, false
		}
		buf, err := readAtMost(r, d.bufs[n%2][:0], MaxBody+1)
		d.bufs[n%2] = buf
		if err != nil && !cut && !over && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, false, false
		}
		// Past MaxBody, a coding under this one gets only the start of
		// its data: the body is cut.
		over = over || len(buf) > MaxBody
		out = buf
		n++
	}
	if len(out) > MaxBody {
		return out[:MaxBody], true, true
	}
	return out, over, true
}

// maxCodings bounds the codings removed: each may cost MaxBody bytes of
// work, and servers apply one.
const maxCodings = 3

// reader is a reader of b decoded with coding c.
func (d *decoder) reader(c string, b []byte) (io.Reader, bool) {
	d.src.Reset(b)
	switch strings.ToLower(c) {
	case "gzip", "x-gzip":
		if d.gz == nil {
			d.gz = new(gzip.Reader)
		}
		if d.gz.Reset(&d.src) != nil {
			return nil, false
		}
		return d.gz, true
	case "deflate":
		// "deflate" is zlib by the RFC, raw deflate by some servers.
		var err error
		if d.zl == nil {
			d.zl, err = zlib.NewReader(&d.src) // returns its reader even on error
		} else {
			err = d.zl.(zlib.Resetter).Reset(&d.src, nil)
		}
		if err == nil {
			return d.zl, true
		}
		d.src.Reset(b)
		if d.fl == nil {
			d.fl = flate.NewReader(&d.src)
		} else {
			d.fl.(flate.Resetter).Reset(&d.src, nil)
		}
		return d.fl, true
	case "br":
		if d.br == nil {
			d.br = brotli.NewReader(&d.src)
		} else if d.br.Reset(&d.src) != nil {
			return nil, false
		}
		return d.br, true
	case "zstd":
		if d.zs == nil {
			// One goroutine: the decoder decodes in the caller's, and
			// can sit in a pool with nothing running.
			zs, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(4*MaxBody))
			if err != nil {
				return nil, false
			}
			d.zs = zs
		}
		if d.zs.Reset(&d.src) != nil {
			return nil, false
		}
		return d.zs, true
	}
	return nil, false
}

// readAtMost appends up to limit bytes of r to buf.
func readAtMost(r io.Reader, buf []byte, limit int) ([]byte, error) {
	for idle := 0; len(buf) < limit; {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(32<<10, cap(buf)))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		// A reader that returns nothing, again and again, must not hang us.
		if idle++; n > 0 {
			idle = 0
		} else if idle > 100 {
			return buf, io.ErrNoProgress
		}
	}
	return buf, nil
}
