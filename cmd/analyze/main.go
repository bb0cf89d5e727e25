// Command analyze turns results files into a report: stats per route, the
// seed's thresholds with a CI exit code, Locust's CSVs, JSON, JUnit XML and
// a self-contained HTML report.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/replaykit/replaykit/analyze"
	"github.com/replaykit/replaykit/internal/cmdline"
)

const usage = `usage:
  analyze [flags] RESULTS.parquet...   (globs and several files, such as shards, merge into one report)

Writes {run}.html, {run}_stats.csv, {run}_failures.csv, {run}_stats_history.csv,
{run}_differences.csv (when answers were compared with the recording) and
{run}.json beside the first input (or in --out), prints the table, and
exits 0 when every threshold holds, 1 when one fails, 2 on bad input.
Default thresholds (the seed's): ` + "avg<500ms p95<2000ms error_rate<1% rps>50 availability>99.9%" + `

flags:
`

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := pflag.NewFlagSet("analyze", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
	out := fs.String("out", "", "directory for the outputs (default: the first input's)")
	thresholds := fs.StringArray("threshold", nil, "add a threshold: [name=ROUTE:]METRIC OP VALUE, e.g. 'p95<2s', 'name=/api/v1/tasks/{id}:p99<300ms' (repeatable)")
	noDefaults := fs.Bool("no-default-thresholds", false, "check only the --threshold ones")
	baseline := fs.StringArray("baseline", nil, "results of an older run: the report shows every figure's change against it (repeatable)")
	formats := fs.StringSlice("format", []string{"html", "csv", "json"}, "outputs: html, csv, json, junit")
	window := fs.Duration("window", time.Second, "time series step")
	host := fs.String("host", "", "the target, shown in the report")
	trace := fs.String("trace", "", "the trace replayed, shown in the report")
	if code, done := cmdline.Parse(fs, args); done {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return analyze.ExitBad
	}
	if *window <= 0 {
		fmt.Fprintln(os.Stderr, "analyze: --window must be positive")
		return analyze.ExitBad
	}
	res, err := analyze.Run(analyze.Config{Inputs: fs.Args(), Out: *out, Thresholds: *thresholds, NoDefaults: *noDefaults,
		Baseline: *baseline, Formats: *formats, Window: *window, Host: *host, Trace: *trace, Stdout: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "analyze:", err)
		return res.Code
	}
	for _, f := range res.Files {
		fmt.Println("wrote", f)
	}
	return res.Code
}
