package record

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// rowWriter is where a recorder puts rows: one trace file written on a
// goroutine of its own (pipe: a capture or other file), or parts (live
// capture, proxy). Write signs the row (s), then writes it.
type rowWriter interface {
	Write(e *trace.Exchange, s sign) error
}

// parts writes a live recording so that a hard kill loses little: rows go
// to a part file that is closed (footer written, renamed from .tmp) every
// flush interval, so every part on disk is readable. At each rotation and
// at the end, the parts of the period are merged into one file,
// PREFIX_YYYYMMDDTHHMMSSZ.parquet. After a kill -9 the parts stay, named
// PREFIX_...part-NNNN.parquet: readable, and matched by traces/*.parquet.
type parts struct {
	dir, prefix  string
	opts         tracefile.WriterOptions
	flush        time.Duration
	rotateEvery  time.Duration
	rotateBytes  int64
	base         string // this period's path, without .parquet
	periodStart  time.Time
	cur          *tracefile.Writer
	curOpened    time.Time
	done         []string // closed parts of this period
	periodBytes  int64    // their sizes
	written      []string // merged files
	writtenBytes int64
	now          func() time.Time // the clock; tests set it
	lost         int64            // rows of parts that could not be closed
	sigs         *sigCache        // the signatures of recent answers
}

// outDir is where a live or proxy recording writes: Config.Out, or traces/.
func outDir(out string) string {
	if out == "" {
		return "traces/"
	}
	return out
}

// newParts starts the files of a recording in dir; flush defaults to 5s.
func newParts(dir, prefix string, flush, rotateEvery time.Duration, rotateBytes int64, opts tracefile.WriterOptions) (*parts, error) {
	if flush <= 0 {
		flush = 5 * time.Second
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	removeMergedParts(dir)
	// Rows leave memory at least every flush: a part is closed then anyway.
	opts.FlushInterval = -1
	return &parts{dir: dir, prefix: prefix, flush: flush, rotateEvery: rotateEvery, rotateBytes: rotateBytes, opts: opts, now: time.Now,
		sigs: newSigCache()}, nil
}

// removeMergedParts deletes parts whose merged file exists: a stop between
// writing the merged file and deleting its parts left them.
func removeMergedParts(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.part-*.parquet"))
	for _, m := range matches {
		base, _, _ := strings.Cut(m, ".part-")
		if _, err := os.Stat(base + ".parquet"); err == nil {
			os.Remove(m)
		}
	}
}

func (p *parts) Write(e *trace.Exchange, s sign) error {
	s.apply(e, p.sigs)
	if p.cur == nil {
		now := p.now()
		if p.base == "" {
			p.base = p.periodName(now)
			p.periodStart = now
		}
		name := fmt.Sprintf("%s.part-%04d.parquet", p.base, len(p.done)+1)
		w, err := tracefile.Create(name, p.opts)
		if err != nil {
			return err
		}
		p.cur, p.curOpened = w, now
	}
	return p.cur.Write(e)
}

func (p *parts) periodName(now time.Time) string {
	name := filepath.Join(p.dir, p.prefix+"_"+now.UTC().Format("20060102T150405Z"))
	for i := 2; ; i++ { // two periods in one second
		if _, err := os.Stat(name + ".parquet"); os.IsNotExist(err) {
			return name
		}
		name = filepath.Join(p.dir, fmt.Sprintf("%s_%s-%d", p.prefix, now.UTC().Format("20060102T150405Z"), i))
	}
}

// Tick closes the part when the flush interval is up, and rotates when the
// period is long or large enough.
func (p *parts) Tick(now time.Time) error {
	if p.cur != nil && now.Sub(p.curOpened) >= p.flush {
		if err := p.closePart(); err != nil {
			return err
		}
	}
	if p.base != "" && ((p.rotateEvery > 0 && now.Sub(p.periodStart) >= p.rotateEvery) ||
		(p.rotateBytes > 0 && p.periodBytes >= p.rotateBytes)) {
		return p.rotate()
	}
	return nil
}

func (p *parts) closePart() error {
	if p.cur == nil {
		return nil
	}
	w := p.cur
	p.cur = nil
	if err := w.Close(); err != nil {
		w.Abort() // no half-written part is left behind
		p.lost += w.Rows()
		return err
	}
	p.done = append(p.done, w.Path())
	if st, err := os.Stat(w.Path()); err == nil {
		p.periodBytes += st.Size()
	}
	return nil
}

// rotate ends the period: its parts become one file.
func (p *parts) rotate() error {
	if err := p.closePart(); err != nil {
		return err
	}
	defer func() { p.base, p.done, p.periodBytes = "", nil, 0 }()
	if len(p.done) == 0 {
		return nil
	}
	final := p.base + ".parquet"
	if len(p.done) == 1 {
		if err := os.Rename(p.done[0], final); err != nil {
			return fmt.Errorf("finish trace %s: %w", final, err)
		}
	} else if err := mergeTraces(final, p.done, p.opts); err != nil {
		// The parts are complete traces: they stay, and say so.
		p.written = append(p.written, p.done...)
		p.writtenBytes += p.periodBytes
		return fmt.Errorf("%w; the %d parts stay, each a complete trace (%s.part-*.parquet; replay --trace reads them)", err, len(p.done), p.base)
	}
	p.written = append(p.written, final)
	if st, err := os.Stat(final); err == nil {
		p.writtenBytes += st.Size()
	}
	return nil
}

// Close ends the recording: the last period is merged.
func (p *parts) Close() error { return p.rotate() }

// Abort gives up the part being written (the closed parts stay as they
// are): after a write error, nothing more is written. It returns how many
// rows the part held: they are lost.
func (p *parts) Abort() (lost int64) {
	lost, p.lost = p.lost, 0
	if p.cur != nil {
		lost += p.cur.Rows()
		p.cur.Abort()
		p.cur = nil
	}
	p.written = append(p.written, p.done...)
	p.writtenBytes += p.periodBytes
	p.done, p.periodBytes = nil, 0
	return lost
}

// Describe says which files are on disk, for messages.
func (p *parts) Describe() string {
	files := append(append([]string(nil), p.written...), p.done...)
	switch len(files) {
	case 0:
		return "none was closed"
	case 1:
		return files[0]
	}
	return fmt.Sprintf("%d files in %s", len(files), p.dir)
}

// Bytes is what is on disk so far.
func (p *parts) Bytes() int64 { return p.writtenBytes + p.periodBytes }

// Files are the merged trace files, in order.
func (p *parts) Files() []string { return p.written }

// mergeTraces streams the rows of files, in the order given, into out, then
// deletes them. Memory holds one batch, not a file. The ids are renumbered.
func mergeTraces(out string, files []string, opts tracefile.WriterOptions) error {
	w, err := tracefile.Create(out, opts)
	if err != nil {
		return err
	}
	for _, f := range files {
		t, err := tracefile.Open(f)
		if err != nil {
			w.Abort()
			return err
		}
		err = tracefile.Scan(t, func(e *trace.Exchange) error { return w.Write(e) })
		t.Close()
		if err != nil {
			w.Abort()
			return fmt.Errorf("merge %s into %s: %w", f, out, err)
		}
	}
	if err := w.Close(); err != nil {
		w.Abort()
		return err
	}
	for _, f := range files {
		os.Remove(f)
	}
	return nil
}
