package record

import (
	"cmp"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"time"

	"github.com/replaykit/replaykit/capture"
	"github.com/replaykit/replaykit/httpstream"
	"golang.org/x/net/bpf"
)

// LiveSource says where a live recording captures.
type LiveSource struct {
	// Iface is the network interface.
	Iface string
	// Filter, when set, replaces the port filter (see capture.CompileFilter).
	Filter []bpf.RawInstruction
}

// Live records from a network interface until ctx ends, cfg.Duration
// passes or cfg.MaxExchanges are written. Files go to the directory
// cfg.Out as IFACE_YYYYMMDDTHHMMSSZ.parquet; see parts for what a hard kill
// leaves.
func Live(ctx context.Context, src LiveSource, cfg Config) (*Summary, error) {
	cfg.keys()
	start := time.Now()
	dir := outDir(cfg.Out)
	if strings.HasSuffix(dir, ".parquet") {
		return nil, errors.New("live capture writes a directory of files (-o traces/), not one file: files are closed every --flush and at each --rotate")
	}
	live, err := capture.OpenLive(capture.LiveOptions{Iface: src.Iface, Ports: cfg.Ports, Filter: src.Filter})
	if err != nil {
		return nil, err
	}
	defer live.Close()
	out, err := newParts(dir, src.Iface, cfg.Flush, cfg.RotateEvery, cfg.RotateBytes, cfg.Writer)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Input: "interface " + src.Iface, InputFormat: "live", Output: filepath.Clean(dir) + "/"}
	rec := newRecorder(&cfg, out, sum)
	x := capture.NewExtractor(capture.Options{Ports: cfg.Ports, HTTP: httpstream.Options{MaxBody: cfg.MaxBody, MaxRespBody: respBody(&cfg)}}, rec)
	if cfg.Ready != nil {
		cfg.Ready(src.Iface)
	}
	l := newLoop(ctx, &cfg, rec, sum, start)
	l.tick = func(now time.Time) error {
		x.Tick(now)
		return out.Tick(now)
	}
	l.fill = func(time.Time) { sum.fill(x, live, out, start) }
	lt := live.LinkType()
	var loopErr error
	for n := 0; ; n++ {
		data, ci, err := live.ReadPacket()
		switch {
		case errors.Is(err, capture.ErrNoPacket):
		case err != nil:
			loopErr = err
		default:
			x.Packet(data, ci, lt)
		}
		if loopErr != nil || l.full() {
			break
		}
		if err == nil && n&255 != 0 {
			continue
		}
		// Every 256 packets, and whenever the line is quiet.
		var stop bool
		if stop, loopErr = l.check(time.Now()); stop {
			break
		}
	}
	x.Close() // what is still in flight is written: requests without responses too
	closeErr := out.Close()
	sum.fill(x, live, out, start)
	sum.Files = out.Files()
	return sum, cmp.Or(loopErr, rec.err, closeErr) // the first to go wrong
}

func (s *Summary) fill(x *capture.Extractor, live *capture.Live, out *parts, start time.Time) {
	s.Capture = x.Stats()
	if k, err := live.Stats(); err == nil {
		s.Kernel = &k
	}
	s.OutputBytes = out.Bytes()
	s.Elapsed = time.Since(start)
}
