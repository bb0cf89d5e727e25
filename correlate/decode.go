package correlate

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/replaykit/replaykit/trace"
)

// MaxBody bounds the decoded bytes of a body looked into, at recording and
// at replay: values past it are not found (and counted).
const MaxBody = 1 << 20

// ErrTooLarge says a body decodes to more than MaxBody bytes.
var ErrTooLarge = errors.New("body larger than 1 MiB decoded")

// Decode removes a body's content codings (gzip, deflate, br, zstd, in
// the order the Content-Encoding header lists them), keeping at most
// MaxBody bytes. A body with no coding is returned as is.
func Decode(headers []trace.Header, body []byte) ([]byte, error) {
	ce, _ := trace.HeaderValue(headers, "Content-Encoding")
	if c := strings.TrimSpace(ce); c == "" || strings.EqualFold(c, "identity") {
		if len(body) > MaxBody {
			return nil, ErrTooLarge
		}
		return body, nil // no coding: nothing to split
	}
	codings := strings.Split(ce, ",")
	out := body
	for i := len(codings) - 1; i >= 0; i-- {
		c := strings.ToLower(strings.TrimSpace(codings[i]))
		if c == "" || c == "identity" {
			continue
		}
		var err error
		if out, err = decode(c, out); err != nil {
			return nil, err
		}
	}
	if len(out) > MaxBody {
		return nil, ErrTooLarge
	}
	return out, nil
}

func decode(coding string, b []byte) ([]byte, error) {
	var r io.Reader
	var err error
	switch coding {
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		// "deflate" is zlib by the RFC, raw deflate by some servers.
		if r, err = zlib.NewReader(bytes.NewReader(b)); err != nil {
			r, err = flate.NewReader(bytes.NewReader(b)), nil
		}
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "zstd":
		var d *zstd.Decoder
		if d, err = zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(4*MaxBody)); err == nil {
			defer d.Close()
			r = d
		}
	default:
		return nil, fmt.Errorf("content coding %q unknown", coding)
	}
	if err != nil {
		return nil, fmt.Errorf("%s body: %w", coding, err)
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%s body: %w", coding, err)
	}
	if len(out) > MaxBody {
		return nil, ErrTooLarge
	}
	return out, nil // a cut body (the capture kept its start) gives what it has
}

// Encode puts the content codings back on a body Decode decoded, for a
// request whose body values were replaced.
func Encode(headers []trace.Header, body []byte) ([]byte, error) {
	ce, _ := trace.HeaderValue(headers, "Content-Encoding")
	out := body
	for c := range strings.SplitSeq(ce, ",") {
		var buf bytes.Buffer
		var w io.WriteCloser
		switch strings.ToLower(strings.TrimSpace(c)) {
		case "", "identity":
			continue
		case "gzip", "x-gzip":
			w = gzip.NewWriter(&buf)
		case "deflate":
			w = zlib.NewWriter(&buf)
		case "br":
			w = brotli.NewWriter(&buf)
		case "zstd":
			zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			w = zw
		default:
			return nil, fmt.Errorf("content coding %q unknown", c)
		}
		w.Write(out)
		if err := w.Close(); err != nil {
			return nil, err
		}
		out = buf.Bytes()
	}
	return out, nil
}
