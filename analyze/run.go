// Package analyze is what the analyze command (and replay, at a run's
// end) does: read the results files and a baseline, check the
// thresholds, write the outputs of a run together, and say the exit
// code.
package analyze

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/report"
)

// Config is what analyze was asked.
type Config struct {
	// Inputs are results files or globs; all are merged into one report.
	Inputs []string
	// Out is the directory written to (default: the first input's).
	Out string
	// Thresholds are added to the defaults, unless NoDefaults.
	Thresholds []string
	NoDefaults bool
	// Baseline are the results files of an older run to compare with.
	Baseline []string
	// Formats are among html, csv, json, junit (default html, csv, json).
	Formats []string
	// Window is the time series step (default 1s).
	Window time.Duration
	// Host and Trace are shown in the report when known.
	Host, Trace string
	// Stdout gets the table (nil: nothing printed).
	Stdout io.Writer
	// OneShard says the inputs are one shard of a larger run (replay
	// --shard): the other shards are not missing, and thresholds, which
	// hold for the whole run, are left to the analysis of all shards.
	OneShard bool
}

// Exit codes, as the seed's runner and CI expect.
const (
	ExitPass = 0 // every threshold holds
	ExitFail = 1 // one or more failed
	ExitBad  = 2 // bad input or usage
)

// Outcome is what Run wrote and decided.
type Outcome struct {
	Report   *analysis.Report
	Verdicts []analysis.Verdict
	// Files are the paths written.
	Files []string
	// Code is the exit code.
	Code int
}

// Check says what is wrong with the formats and thresholds, without
// reading any input, and returns the thresholds parsed: replay asks
// before it sends any load (and takes the abort thresholds from them).
func (cfg Config) Check() ([]analysis.Threshold, error) {
	_, ths, err := cfg.parse()
	return ths, err
}

// parse reads the formats and the thresholds to check.
func (cfg Config) parse() (map[string]bool, []analysis.Threshold, error) {
	formats := map[string]bool{}
	if len(cfg.Formats) == 0 {
		cfg.Formats = []string{"html", "csv", "json"}
	}
	for _, f := range cfg.Formats {
		for _, f := range strings.Split(f, ",") {
			switch f = strings.TrimSpace(f); f {
			case "html", "csv", "json", "junit":
				formats[f] = true
			default:
				return nil, nil, fmt.Errorf("--format %q: use html, csv, json or junit (comma-separated)", f)
			}
		}
	}
	exprs := cfg.Thresholds
	if cfg.OneShard {
		exprs = nil
	} else if !cfg.NoDefaults {
		exprs = append(slices.Clone(analysis.DefaultThresholds), exprs...)
	}
	var ths []analysis.Threshold
	seen := map[string]bool{}
	for _, e := range exprs {
		t, err := analysis.ParseThreshold(e)
		if err != nil {
			return nil, nil, err
		}
		// The same check twice (--threshold given twice, or a default
		// given again) is one verdict.
		if !seen[t.String()] {
			seen[t.String()] = true
			ths = append(ths, t)
		}
	}
	return formats, ths, nil
}

// ErrBadInput marks errors that mean exit 2.
var ErrBadInput = errors.New("bad input")

// Run reads the inputs, checks the thresholds and writes the outputs.
// Errors wrap ErrBadInput for bad usage or files (exit 2).
func Run(cfg Config) (*Outcome, error) {
	bad := func(err error) (*Outcome, error) {
		return &Outcome{Code: ExitBad}, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	formats, ths, err := cfg.parse()
	if err != nil {
		return bad(err)
	}
	files, err := expand(cfg.Inputs)
	if err != nil {
		return bad(err)
	}
	agg := analysis.New(cfg.Window)
	if err := agg.AddFiles(files); err != nil {
		return bad(err)
	}
	rep := agg.Finish()
	if cfg.OneShard {
		rep.MissingShards = nil // the other shards run elsewhere
	}
	if rep.Total.Requests == 0 {
		return bad(fmt.Errorf("%s hold no request: nothing to analyze", strings.Join(files, ", ")))
	}
	var base *analysis.Report
	if len(cfg.Baseline) > 0 {
		bfiles, err := expand(cfg.Baseline)
		if err != nil {
			return bad(fmt.Errorf("--baseline: %w", err))
		}
		b := analysis.New(cfg.Window)
		if err := b.AddFiles(bfiles); err != nil {
			return bad(fmt.Errorf("--baseline: %w", err))
		}
		base = b.Finish()
		rep.Baseline = analysis.Compare(rep, base)
	}
	for _, t := range ths {
		if t.Baseline != nil && base == nil {
			return bad(fmt.Errorf("threshold %q compares with the baseline: give --baseline OLD_RESULTS", t.Expr))
		}
	}
	if rep.ScenarioReports, rep.ScenariosNote, err = scenarioReports(rep, files, cfg, ths); err != nil {
		return bad(err)
	}
	out := &Outcome{Report: rep, Verdicts: analysis.Check(rep, ths)}
	for _, v := range out.Verdicts {
		if !v.Pass {
			out.Code = ExitFail
		}
	}
	if !rep.ScenariosPass() {
		out.Code = ExitFail // a scenario failed its own thresholds
	}
	if len(rep.Problems()) > 0 {
		out.Code = ExitFail // a partial run is not reported as whole
	}
	dir := cfg.Out
	if dir == "" {
		dir = filepath.Dir(files[0])
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &Outcome{Code: ExitBad}, fmt.Errorf("create %s: %w", dir, err)
	}
	run := runName(rep, files)
	if cfg.OneShard && len(files) == 1 {
		// Shards of a run share its id and often a directory: each names
		// its outputs after its own file.
		run = strings.TrimSuffix(filepath.Base(files[0]), ".parquet")
	}
	var outs []output
	add := func(suffix string, fn func(io.Writer) error) { outs = append(outs, output{suffix, fn}) }
	if formats["csv"] {
		add("_stats.csv", func(w io.Writer) error { return report.WriteStatsCSV(w, rep) })
		add("_failures.csv", func(w io.Writer) error { return report.WriteFailuresCSV(w, rep) })
		add("_stats_history.csv", func(w io.Writer) error { return report.WriteHistoryCSV(w, rep) })
		if rep.Total.Compared > 0 {
			add("_differences.csv", func(w io.Writer) error { return report.WriteDifferencesCSV(w, rep) })
		}
	}
	if formats["json"] {
		add(".json", func(w io.Writer) error { return report.WriteJSON(w, rep, out.Verdicts) })
	}
	if formats["junit"] {
		add("_junit.xml", func(w io.Writer) error { return report.WriteJUnit(w, rep, out.Verdicts) })
	}
	if formats["html"] {
		opts := report.HTMLOptions{Host: cfg.Host, Trace: cfg.Trace, Baseline: base, Generated: time.Now()}
		add(".html", func(w io.Writer) error { return report.WriteHTML(w, rep, out.Verdicts, opts) })
	}
	werr := writeOutputs(dir, run, outs)
	if werr == nil {
		for _, o := range outs {
			out.Files = append(out.Files, filepath.Join(dir, run+o.suffix))
		}
	}
	if cfg.Stdout != nil {
		report.WriteTable(cfg.Stdout, rep, out.Verdicts)
	}
	if werr != nil {
		out.Code = ExitBad
		return out, werr
	}
	return out, nil
}

// expand resolves globs; a name that matches nothing is an error.
func expand(inputs []string) ([]string, error) {
	if len(inputs) == 0 {
		return nil, errors.New("no results file given: analyze results/*.parquet")
	}
	var files []string
	for _, in := range inputs {
		m, err := filepath.Glob(in)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", in, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("no results file matches %q", in)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// runName names the outputs: the run id when all rows share one (shards
// of a run), the file's name for one file, else the first run and a count.
func runName(rep *analysis.Report, files []string) string {
	switch {
	case len(rep.Runs) == 1 && safeName(rep.Runs[0]):
		return rep.Runs[0]
	case len(files) == 1:
		return strings.TrimSuffix(filepath.Base(files[0]), ".parquet")
	case len(rep.Runs) > 0 && safeName(rep.Runs[0]):
		return fmt.Sprintf("%s_and_%d_more", rep.Runs[0], len(rep.Runs)-1)
	}
	return "merged"
}

// safeName says a run id from a file can name output files: it must not
// climb out of the output directory or hide.
func safeName(s string) bool {
	if s == "" || len(s) > 200 || s[0] == '.' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-.:", c)) {
			return false
		}
	}
	return true
}

// output is one file of an analysis: {run}{suffix}.
type output struct {
	suffix string
	write  func(io.Writer) error
}

// outputSuffixes are every file analyze writes for a run, whatever the
// formats asked.
var outputSuffixes = []string{".html", "_stats.csv", "_failures.csv", "_stats_history.csv", "_differences.csv", ".json", "_junit.xml"}

// writeOutputs replaces the outputs of run in dir together: each is
// written to a temporary file first, and only when all are written are
// the older analysis's outputs of run that this one does not write
// removed (a _junit.xml of failures must not stand beside a new passing
// report) and the new ones renamed into place. When one fails, nothing
// is replaced. Files are 0600.
func writeOutputs(dir, run string, outs []output) error {
	var tmps []string
	cleanup := func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	for _, o := range outs {
		path := filepath.Join(dir, run+o.suffix)
		f, err := os.CreateTemp(dir, "."+run+o.suffix+".*.tmp")
		if err == nil {
			tmps = append(tmps, f.Name())
			err = o.write(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			cleanup()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	written := map[string]bool{}
	for _, o := range outs {
		written[o.suffix] = true
	}
	for _, suffix := range outputSuffixes {
		if path := filepath.Join(dir, run+suffix); !written[suffix] {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				cleanup()
				return fmt.Errorf("remove the older %s: %w", path, err)
			}
		}
	}
	for i, o := range outs {
		path := filepath.Join(dir, run+o.suffix)
		if err := os.Rename(tmps[i], path); err != nil {
			cleanup()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
