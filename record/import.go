package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/replaykit/replaykit/gor"
	"github.com/replaykit/replaykit/har"
	"github.com/replaykit/replaykit/observed"
	"github.com/replaykit/replaykit/tracefile"
)

// ImportStats count what a HAR or GoReplay file held and what became of it.
type ImportStats struct {
	// Unit is what the file is made of: "entries" (HAR) or "payloads".
	Unit string
	// Read counts the entries or payloads read.
	Read int64
	// Answered and Unanswered count the exchanges handed to the recorder
	// with and without a response.
	Answered, Unanswered int64
	// Skipped counts what was left out, by reason.
	Skipped map[string]int64
}

// exchangeSource is a file of exchanges.
type exchangeSource interface {
	// Next returns the next exchange, io.EOF at the end, or the damage
	// that stopped reading.
	Next() (observed.Exchange, error)
	// Offset is how many bytes of the file were read.
	Offset() int64
}

// FromHAR records the entries of a HAR 1.2 file (browser devtools,
// mitmproxy, Charles, Postman). Entries that are not HTTP exchanges are
// counted and skipped; a file damaged part way is recorded up to the
// damage. Cancelling ctx stops reading and still writes a complete trace.
func FromHAR(ctx context.Context, input string, cfg Config) (*Summary, error) {
	var r *har.Reader
	return fromFile(ctx, input, "har", cfg, func(f io.Reader) (exchangeSource, error) {
		var err error
		r, err = har.NewReader(f, har.Options{MaxBody: cfg.MaxBody, MaxRespBody: respBody(&cfg), Ports: cfg.Ports})
		if err != nil {
			return nil, fmt.Errorf("%s: %w (want a HAR 1.2 file: devtools' \"Save all as HAR\", mitmproxy's hardump)", input, err)
		}
		return r, nil
	}, func(s *ImportStats) {
		st := r.Stats()
		s.Unit, s.Read, s.Answered, s.Unanswered = "entries", st.Entries, st.Exchanges, st.Unanswered
		for k, v := range st.Skipped {
			s.Skipped[k] = v
		}
	})
}

// FromGor records a GoReplay capture file (--output-file; .gor or
// .gor.gz): requests with their original responses, when GoReplay ran
// with --input-raw-track-response. Responses to replays (type 3) are not
// the recording's answers and are left out.
func FromGor(ctx context.Context, input string, cfg Config) (*Summary, error) {
	var r *gor.Reader
	return fromFile(ctx, input, "gor", cfg, func(f io.Reader) (exchangeSource, error) {
		var err error
		r, err = gor.NewReader(f, gor.Options{MaxBody: cfg.MaxBody, MaxRespBody: respBody(&cfg)})
		if err != nil {
			return nil, fmt.Errorf("%s: %w (want a file GoReplay wrote with --output-file)", input, err)
		}
		return r, nil
	}, func(s *ImportStats) {
		st := r.Stats()
		s.Unit, s.Read, s.Answered, s.Unanswered = "payloads", st.Payloads, st.Exchanges, st.Unanswered
		for k, v := range map[string]int64{
			"replayed responses (type 3, not the recording's)":       st.Replayed,
			"payloads without GoReplay's meta line":                  st.Malformed,
			"responses whose request is not in the file":             st.Orphans,
			"messages whose ID came twice (the first kept)":          st.Duplicates,
			"exchanges that are not whole HTTP/1 (cut by GoReplay?)": st.Unparsed,
		} {
			if v > 0 {
				s.Skipped[k] = v
			}
		}
		if st.Truncated {
			s.Skipped["payload cut short at the end of the file"] = 1
		}
	})
}

// fromFile is the loop of the file importers: open, read every exchange
// into the recorder, write one trace file.
func fromFile(ctx context.Context, input, format string, cfg Config,
	open func(io.Reader) (exchangeSource, error), fill func(*ImportStats)) (*Summary, error) {
	cfg.keys()
	start := time.Now()
	f, err := os.Open(input)
	if err != nil {
		return nil, &BadInput{err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &BadInput{err}
	}
	if st.IsDir() {
		return nil, &BadInput{fmt.Errorf("%s is a directory: give one %s file", input, strings.ToUpper(format))}
	}
	src, err := open(f)
	if err != nil {
		return nil, &BadInput{err}
	}
	// requests_0.gor.gz is named as requests_0.gor is.
	out, err := outputPath(cfg.Out, strings.TrimSuffix(input, ".gz"), cfg.Force)
	if err != nil {
		return nil, err
	}
	w, err := tracefile.Create(out, fileWriter(cfg.Writer))
	if err != nil {
		return nil, err
	}
	sum := &Summary{Input: input, Output: out, InputFormat: format, InputSize: st.Size(),
		Import: &ImportStats{Skipped: map[string]int64{}}}
	pw := newPipe(w)
	rec := newRecorder(&cfg, pw, sum)
	update := func() {
		sum.InputRead, sum.Elapsed = src.Offset(), time.Since(start)
		clear(sum.Import.Skipped)
		fill(sum.Import)
	}
	l := newLoop(ctx, &cfg, rec, sum, start)
	l.fill = func(time.Time) { update() }
	for n := 0; ; n++ {
		x, err := src.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				sum.Damaged = err
			}
			break
		}
		rec.Exchange(x)
		if l.full() {
			break
		}
		if n&255 == 0 {
			if stop, _ := l.check(time.Now()); stop {
				break
			}
		}
	}
	update()
	return finishTrace(pw, rec, sum, start)
}

// printImport writes the lines of a HAR or GoReplay import.
func (s *Summary) printImport(w io.Writer) {
	im := s.Import
	var skipped int64
	for _, n := range im.Skipped {
		skipped += n
	}
	fmt.Fprintf(w, "  read         %d %s: %d exchanges (%d with a response, %d without), %d written",
		im.Read, im.Unit, im.Answered+im.Unanswered, im.Answered, im.Unanswered, s.Written)
	s.printLeftOut(w)
	fmt.Fprintln(w)
	if skipped > 0 {
		var reasons []string
		for _, r := range slices.Sorted(maps.Keys(im.Skipped)) {
			reasons = append(reasons, fmt.Sprintf("%d %s", im.Skipped[r], r))
		}
		fmt.Fprintf(w, "  skipped      %s\n", strings.Join(reasons, ", "))
	}
}
