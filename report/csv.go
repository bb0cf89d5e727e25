package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/replaykit/replaykit/analysis"
)

// Locust's CSV columns, as Locust 2.12 writes them (checked against its
// own files in testdata/locust).
var (
	statsColumns = append([]string{"Type", "Name", "Request Count", "Failure Count", "Median Response Time",
		"Average Response Time", "Min Response Time", "Max Response Time", "Average Content Size",
		"Requests/s", "Failures/s"}, percentileLabels()...)
	failuresColumns = []string{"Method", "Name", "Error", "Occurrences"}
	historyColumns  = append(append([]string{"Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s"},
		percentileLabels()...), "Total Request Count", "Total Failure Count", "Total Median Response Time",
		"Total Average Response Time", "Total Min Response Time", "Total Max Response Time", "Total Average Content Size")
)

// differencesColumns are those of {run}_differences.csv, replaykit's
// own: Locust compares no answer.
var differencesColumns = []string{"Type", "Name", "Compared", "Mismatched", "Mismatch rate", "Status", "Shape", "Value", "Top difference"}

func percentileLabels() []string {
	var out []string
	for _, p := range analysis.Percentiles {
		out = append(out, strconv.FormatFloat(p, 'f', -1, 64)+"%")
	}
	return out
}

// newCSV writes as Python's csv module does, \r\n line ends included.
func newCSV(w io.Writer) *csv.Writer {
	c := csv.NewWriter(w)
	c.UseCRLF = true
	return c
}

// cell makes a string from traffic safe in a spreadsheet: a cell starting
// with = + - @ or a control character would be run as a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
func msf(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
func count(n int64) string { return strconv.FormatInt(n, 10) }

func percentileCells(h *hdrhistogram.Histogram) []string {
	var out []string
	for _, p := range analysis.Percentiles {
		if h.TotalCount() == 0 {
			out = append(out, "N/A")
		} else {
			out = append(out, msf(ms(analysis.QuantileOf(h, p))))
		}
	}
	return out
}

// WriteStatsCSV writes {run}_stats.csv: one row per name, then Aggregated.
// Times are milliseconds with microsecond digits.
func WriteStatsCSV(w io.Writer, rep *analysis.Report) error {
	c := newCSV(w)
	c.Write(statsColumns)
	for _, s := range append(rep.Names, rep.Total) {
		row := []string{cell(s.Method), cell(s.Name), count(s.Requests), count(s.Failures)}
		if s.Requests == 0 {
			row = append(row, "0", "0", "0", "0", "0")
		} else {
			row = append(row, msf(s.Quantile(50)), msf(s.Avg()), msf(s.Min()), msf(s.Max()), num(s.AvgBytes()))
		}
		row = append(row, num(rep.RPS(s)), num(rep.FailuresPerSecond(s)))
		row = append(row, percentileCells(s.Latency)...)
		c.Write(row)
	}
	c.Flush()
	return c.Error()
}

// WriteFailuresCSV writes {run}_failures.csv.
func WriteFailuresCSV(w io.Writer, rep *analysis.Report) error {
	c := newCSV(w)
	c.Write(failuresColumns)
	for _, f := range rep.Failures {
		c.Write([]string{cell(f.Method), cell(f.Name), cell(f.Error), count(f.Occurrences)})
	}
	c.Flush()
	return c.Error()
}

// WriteHistoryCSV writes {run}_stats_history.csv: a row per window for the
// total, as Locust writes by default: the window's rates and percentiles,
// and the run's totals up to the window's end.
func WriteHistoryCSV(w io.Writer, rep *analysis.Report) error {
	c := newCSV(w)
	c.Write(historyColumns)
	cum := analysis.NewWindowHistogram()
	var reqs, fails, bytes int64
	secs := rep.Step.Seconds()
	for _, win := range rep.Windows {
		cum.Merge(win.Latency)
		reqs += win.Requests
		fails += win.Failures
		bytes += win.Bytes
		row := []string{strconv.FormatInt(win.Start.Add(rep.Step).Unix(), 10), strconv.Itoa(int(win.Users)), "", "Aggregated",
			strconv.FormatFloat(float64(win.Requests)/secs, 'f', 6, 64), strconv.FormatFloat(float64(win.Failures)/secs, 'f', 6, 64)}
		row = append(row, percentileCells(win.Latency)...)
		row = append(row, count(reqs), count(fails))
		if cum.TotalCount() == 0 {
			row = append(row, "0", "0.0", "0", "0", "0")
		} else {
			row = append(row, msf(ms(analysis.QuantileOf(cum, 50))), msf(cum.Mean()/1000), msf(ms(cum.Min())), msf(ms(cum.Max())),
				num(float64(bytes)/float64(reqs)))
		}
		c.Write(row)
	}
	c.Flush()
	return c.Error()
}

// WriteDifferencesCSV writes {run}_differences.csv: per route, then
// Aggregated, the answers compared with the recorded ones, those that
// differed (their share of the compared, N/A with none, and by family)
// and the most common difference.
func WriteDifferencesCSV(w io.Writer, rep *analysis.Report) error {
	c := newCSV(w)
	c.Write(differencesColumns)
	for _, s := range append(rep.Names, rep.Total) {
		rate, top := "N/A", ""
		if s.Compared > 0 {
			rate = num(s.MismatchRate())
		}
		if d := s.TopDiffs(1); len(d) > 0 {
			top = d[0].Diff
		}
		c.Write([]string{cell(s.Method), cell(s.Name), count(s.Compared), count(s.Mismatched()), rate,
			count(s.StatusDiffs), count(s.ShapeDiffs), count(s.ValueDiffs), cell(top)})
	}
	c.Flush()
	return c.Error()
}
