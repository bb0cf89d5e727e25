package record

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/replaykit/replaykit/capture/tlsprobe"
	"github.com/replaykit/replaykit/httpstream"
)

// TLSSource says whose TLS plaintext a recording reads.
type TLSSource struct {
	// Targets are the libraries, processes or executables to trace.
	Targets []tlsprobe.Target
	// Idle closes connections with no data for this long (default 2m).
	Idle time.Duration
}

// TLSStats count what the TLS probes saw besides the rows written.
type TLSStats struct {
	// Probe holds the ring buffer's counters and what was attached.
	Probe tlsprobe.Stats
	// Conns holds the connections' counters.
	Conns tlsprobe.AssemblerStats
	// OtherPorts counts chunks of connections on no --port, or (with
	// --port) whose socket is not known.
	OtherPorts int64
}

// TLS records the plaintext that traced processes give to and get from
// OpenSSL (package tlsprobe) until ctx ends, cfg.Duration passes or
// cfg.MaxExchanges are written. Files go to the directory cfg.Out as
// tls_YYYYMMDDTHHMMSSZ.parquet, closed every cfg.Flush as for a live
// capture.
func TLS(ctx context.Context, src TLSSource, cfg Config) (*Summary, error) {
	cfg.keys()
	start := time.Now()
	dir := outDir(cfg.Out)
	if strings.HasSuffix(dir, ".parquet") {
		return nil, errors.New("--tls writes a directory of files (-o traces/), not one file: files are closed every --flush and at each --rotate")
	}
	probe, err := tlsprobe.Open(src.Targets)
	if err != nil {
		return nil, err
	}
	defer probe.Close()
	out, err := newParts(dir, "tls", cfg.Flush, cfg.RotateEvery, cfg.RotateBytes, cfg.Writer)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(src.Targets))
	for i, t := range src.Targets {
		names[i] = t.String()
	}
	sum := &Summary{Input: "tls " + strings.Join(names, ", "), InputFormat: "tls", Output: filepath.Clean(dir) + "/", TLS: &TLSStats{}}
	rec := newRecorder(&cfg, out, sum)
	asm := tlsprobe.NewAssembler(httpstream.Options{MaxBody: cfg.MaxBody, MaxRespBody: respBody(&cfg)}, src.Idle, rec)
	if cfg.Warn != nil {
		for _, f := range probe.Stats().Failures {
			cfg.Warn("--tls: not attached: " + f)
		}
	}
	if cfg.Ready != nil {
		cfg.Ready(strings.Join(probe.Stats().Attached, ", "))
	}
	l := newLoop(ctx, &cfg, rec, sum, start)
	l.tick = func(now time.Time) error {
		asm.Tick(now)
		return out.Tick(now)
	}
	l.fill = func(time.Time) { sum.fillTLS(probe, asm, out, start) }
	var c tlsprobe.Chunk
	var loopErr error
	for n := 0; ; n++ {
		err := probe.Read(&c)
		switch {
		case errors.Is(err, tlsprobe.ErrNoChunk):
		case err != nil:
			loopErr = err
		case !onPorts(cfg.Ports, &c):
			sum.TLS.OtherPorts++
		default:
			asm.Chunk(&c)
		}
		if loopErr != nil || l.full() {
			break
		}
		if err == nil && n&255 != 0 {
			continue
		}
		// Every 256 chunks, and whenever the processes are quiet.
		var stop bool
		if stop, loopErr = l.check(time.Now()); stop {
			break
		}
	}
	asm.Close() // what is still in flight is written: requests without responses too
	closeErr := out.Close()
	sum.fillTLS(probe, asm, out, start)
	sum.Files = out.Files()
	return sum, cmp.Or(loopErr, rec.err, closeErr) // the first to go wrong
}

// onPorts says whether a chunk's connection is on one of ports (all when
// none are given). With ports, a chunk whose socket is not known is left
// out: it cannot be told to be on one.
func onPorts(ports []uint16, c *tlsprobe.Chunk) bool {
	if len(ports) == 0 || c.Freed {
		return true
	}
	if !c.Local.IsValid() {
		return false
	}
	return slices.Contains(ports, c.Local.Port()) || slices.Contains(ports, c.Remote.Port())
}

func (s *Summary) fillTLS(p *tlsprobe.Probe, a *tlsprobe.Assembler, out *parts, start time.Time) {
	s.TLS.Probe = p.Stats()
	s.TLS.Conns, s.Capture.HTTP, s.Capture.HTTP2 = a.Stats()
	s.Capture.Connections = s.TLS.Conns.Connections
	s.OutputBytes = out.Bytes()
	s.Elapsed = time.Since(start)
}

// printTLS writes the lines of a --tls recording: what was attached,
// what the ring buffer lost, the connections and the HTTP parsing.
func (s *Summary) printTLS(w io.Writer) {
	t := s.TLS
	p, c := t.Probe, t.Conns
	for _, a := range p.Attached {
		fmt.Fprintf(w, "  attached     %s\n", a)
	}
	for _, f := range p.Failures {
		fmt.Fprintf(w, "  not attached %s\n", f)
	}
	fmt.Fprintf(w, "  plaintext    %d chunks (%s); ring buffer full: %d events lost (%s); %s of calls over 512 KiB not copied; %d calls not followed (16,384 at once)\n",
		p.Chunks, bytesIEC(p.Bytes), p.LostEvents, bytesIEC(p.LostBytes), bytesIEC(p.TooLong), p.Busy)
	if p.Malformed > 0 {
		fmt.Fprintf(w, "  malformed    %d ring buffer records skipped (shorter than their header or length)\n", p.Malformed)
	}
	if p.OtherProcesses > 0 || t.OtherPorts > 0 {
		fmt.Fprintf(w, "  left out     %d chunks of other executables, %d of connections on no --port (or of unknown socket)\n", p.OtherProcesses, t.OtherPorts)
	}
	fmt.Fprintf(w, "  connections  %d: %d first seen mid-message, %d without socket addresses, %d seen from both ends (recorded once), %d closed idle\n",
		c.Connections, c.MissedStart, c.NoAddress, c.OtherEnd, c.Idle)
	s.printParsed(w, "bytes lost", "the streams")
}
