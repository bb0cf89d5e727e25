package report

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// The report's facts say how the run was made, as the results files'
// footers do; a file written before they did gives none, and the report
// invents none.
func TestParametersFromTheFooter(t *testing.T) {
	dir := t.TempDir()
	rows := resultstest.Synthetic(400, 4, 41)
	write := func(name string, meta map[string]string, rows []results.Result) string {
		path := filepath.Join(dir, name)
		w, err := results.Create(path, results.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			w.Write(&rows[i])
		}
		for k, v := range meta {
			w.SetMeta(k, v)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	meta := map[string]string{results.MetaPacing: "recorded", results.MetaSpeed: "2", results.MetaSeed: "7", results.MetaUsers: "10",
		results.MetaRamp: "30s", results.MetaVersion: "replay 0.1.0 (go1.26.8)", results.MetaTraces: `["traces/a.parquet","traces/b.parquet"]`,
		results.MetaTraceSpan: "2026-11-27T09:00:00Z/2026-11-27T09:30:00.5Z"}
	shard0 := write("shard0.parquet", meta, rows[:200])
	meta[results.MetaSeed], meta[results.MetaTraces], meta[results.MetaTraceSpan] = "8", `["traces/b.parquet"]`, "2026-11-27T08:59:00Z/2026-11-27T09:10:00Z"
	shard1 := write("shard1.parquet", meta, rows[200:])
	old := write("old.parquet", nil, rows)

	a := analysis.New(0)
	for _, f := range []string{shard0, shard1} {
		if err := a.AddFile(f); err != nil {
			t.Fatal(err)
		}
	}
	rep := a.Report()
	want := []analysis.Parameter{{Name: "users planned", Value: "10"}, {Name: "pacing", Value: "recorded"}, {Name: "speed", Value: "2"}, {Name: "ramp", Value: "30s"}, {Name: "seed", Value: "7, 8"},
		{Name: "trace files", Value: "traces/a.parquet, traces/b.parquet"}, {Name: "traces' span", Value: "2026-11-27T08:59:00Z to 2026-11-27T09:30:00Z (31m1s)"},
		{Name: "replaykit", Value: "replay 0.1.0 (go1.26.8)"}}
	if !slices.Equal(rep.Parameters, want) {
		t.Errorf("parameters\n%v, want\n%v", rep.Parameters, want)
	}
	b := analysis.New(0)
	if err := b.AddFile(old); err != nil {
		t.Fatal(err)
	}
	base := b.Report()
	if len(base.Parameters) != 0 {
		t.Errorf("a file without them gave %v", base.Parameters)
	}
	var h bytes.Buffer
	if err := WriteHTML(&h, rep, nil, HTMLOptions{Baseline: base, Trace: "traces/*.parquet"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.String(), "<dt>trace</dt>") || !strings.Contains(h.String(), "<dt>trace files</dt><dd>traces/a.parquet, traces/b.parquet</dd>") {
		t.Error("the trace files are not shown as the files say, in place of analyze's --trace")
	}
	for _, fact := range []string{"<dt>pacing</dt><dd>recorded</dd>", "<dt>seed</dt><dd>7, 8</dd>", "<dt>replaykit</dt><dd>replay 0.1.0 (go1.26.8)</dd>"} {
		if !strings.Contains(h.String(), fact) {
			t.Errorf("no %s in the report's facts", fact)
		}
	}
	// One the baseline had and the run did not.
	withSpeed := &analysis.Report{Parameters: []analysis.Parameter{{Name: "pacing", Value: "stress"}}}
	if f := parameterFacts(withSpeed, rep); !slices.Contains(f, figure{"speed", "none (baseline: 2)"}) || !slices.Contains(f, figure{"pacing", "stress (baseline: recorded)"}) {
		t.Errorf("facts against the baseline: %v", f)
	}
	h.Reset()
	WriteHTML(&h, base, nil, HTMLOptions{})
	if strings.Contains(h.String(), "<dt>pacing</dt>") {
		t.Error("a report of a file without parameters shows one")
	}
}
