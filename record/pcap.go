package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/replaykit/replaykit/capture"
	"github.com/replaykit/replaykit/httpstream"
	"github.com/replaykit/replaykit/tracefile"
)

// FromPcap records the HTTP exchanges of a pcap or pcapng file. A file that
// ends mid-packet or is damaged part way is read up to the damage: what was
// read is written and the summary says what happened. Cancelling ctx stops
// reading and still writes a complete trace of what was read.
func FromPcap(ctx context.Context, input string, cfg Config) (*Summary, error) {
	cfg.keys()
	start := time.Now()
	in, err := capture.OpenFile(input)
	if err != nil {
		return nil, &BadInput{err}
	}
	defer in.Close()
	out, err := outputPath(cfg.Out, input, cfg.Force)
	if err != nil {
		return nil, err
	}
	w, err := tracefile.Create(out, fileWriter(cfg.Writer))
	if err != nil {
		return nil, err
	}
	sum := &Summary{Input: input, Output: out, InputFormat: in.Format, InputSize: in.Size()}
	// Three goroutines: packets to exchanges on this one, exchanges to
	// rows on the relay's, rows encoded on the pipe's.
	pw := newPipe(w)
	rec := newRecorder(&cfg, pw, sum)
	rel := newRelay(rec)
	x := capture.NewExtractor(capture.Options{
		Ports: cfg.Ports,
		HTTP:  httpstream.Options{MaxBody: cfg.MaxBody, MaxRespBody: respBody(&cfg)},
	}, rel)

	lt := in.LinkType()
	l := newLoop(ctx, &cfg, rec, sum, start)
	l.rel = rel
	l.fill = func(now time.Time) { sum.Capture, sum.InputRead, sum.Elapsed = x.Stats(), in.Offset(), now.Sub(start) }
read:
	for n := 0; ; n++ {
		data, ci, err := in.ReadPacket()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
			case capture.IsTruncation(err):
				sum.Truncated = true
			default:
				sum.Damaged = fmt.Errorf("after packet %d: %w", x.Stats().Packets, err)
			}
			break read
		}
		x.Packet(data, ci, lt)
		if l.full() {
			break
		}
		if n&1023 == 0 {
			if stop, _ := l.check(time.Now()); stop {
				break
			}
		}
	}
	x.Close()
	rel.Close()
	sum.Capture, sum.InputRead = x.Stats(), in.Offset()
	return finishTrace(pw, rec, sum, start)
}

// fileWriter is the writer options of a recording from a file: row
// groups flushed by rows and bytes, never by time (unless asked), so that
// a capture gives the same file however fast the machine reads it. The
// file is renamed into place only at the end: a flush on a timer would
// save nothing of a killed recording.
func fileWriter(o tracefile.WriterOptions) tracefile.WriterOptions {
	if o.FlushInterval == 0 {
		o.FlushInterval = -1
	}
	return o
}

// finishTrace ends the one trace file of a recording from a file: closed
// whole, or removed when a write failed (the recorder's error).
func finishTrace(w *pipe, rec *recorder, sum *Summary, start time.Time) (*Summary, error) {
	if rec.err != nil {
		w.Abort()
		return sum, rec.err
	}
	if err := w.Close(); err != nil {
		return sum, err
	}
	if st, err := os.Stat(w.Path()); err == nil {
		sum.OutputBytes = st.Size()
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}
