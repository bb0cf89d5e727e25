package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/internal/resultstest"
	"github.com/replaykit/replaykit/results"
)

// The changes made during a run (replay --web's users or rate, in the
// results footer) are in the report: listed in time order once each
// (every shard's file holds them), marked on the run's charts, in the
// JSON; a footer that cannot be read says so, and costs no row.
func TestChangesFromTheFooter(t *testing.T) {
	dir := t.TempDir()
	rows := resultstest.Synthetic(400, 4, 41)
	write := func(name, changes string, rows []results.Result) string {
		path := filepath.Join(dir, name)
		w, err := results.Create(path, results.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if err := w.Write(&rows[i]); err != nil {
				t.Fatal(err)
			}
		}
		if changes != "" {
			w.SetMeta(results.MetaChanges, changes)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	at := func(d time.Duration) time.Time { return resultstest.T0.Add(d) }
	// Each shard's file lists the run's changes, in the order made.
	changes := results.EncodeChanges([]results.Change{{At: at(2 * time.Second), What: results.ChangeUsers, Value: 3},
		{At: at(5 * time.Second), What: results.ChangeRate, Value: 12.5}})
	files := []string{write("shard0.parquet", changes, rows[:150]), write("shard1.parquet", changes, rows[150:300]),
		write("damaged.parquet", `users 3`, rows[300:])}
	a := analysis.New(0)
	if err := a.AddFiles(files); err != nil {
		t.Fatal(err)
	}
	rep := a.Report()
	if rep.Total.Requests != 400 {
		t.Errorf("%d requests, want 400: a damaged footer cost rows", rep.Total.Requests)
	}
	run := rows[0].Run
	want := []analysis.Change{{Run: run, Change: results.Change{At: at(2 * time.Second), What: "users", Value: 3}},
		{Run: run, Change: results.Change{At: at(5 * time.Second), What: "rate", Value: 12.5}}}
	if len(rep.Changes) != len(want) {
		t.Fatalf("changes %v, want %v", rep.Changes, want)
	}
	for i := range want {
		if g := rep.Changes[i]; g.Run != want[i].Run || !g.At.Equal(want[i].At) || g.What != want[i].What || g.Value != want[i].Value {
			t.Errorf("change %d: %v, want %v", i, g, want[i])
		}
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "damaged.parquet") || !strings.Contains(rep.Notes[0], results.MetaChanges) {
		t.Errorf("notes %q, want one naming damaged.parquet and %s", rep.Notes, results.MetaChanges)
	}

	var table bytes.Buffer
	WriteTable(&table, rep, nil)
	for _, line := range []string{"changes during the run:\n  +2s (10:00:02 UTC): users 3\n  +5s (10:00:05 UTC): rate 12.5/s\n", "note: damaged.parquet"} {
		if !strings.Contains(table.String(), line) {
			t.Errorf("the table lacks %q:\n%s", line, table.String())
		}
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, rep, nil, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	// On each of the run's three time charts, and in the facts.
	if n := strings.Count(page.String(), `<g class="mark"><title>users 3</title>`); n != 3 {
		t.Errorf("%d charts mark users 3, want 3", n)
	}
	if !strings.Contains(page.String(), "users 3<br>&#43;5s (10:00:05 UTC): rate 12.5/s</dd>") {
		t.Error("the facts do not list the changes")
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, rep, nil); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Changes []analysis.Change `json:"changes"`
		Notes   []string          `json:"notes"`
	}
	if err := json.Unmarshal(js.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Changes) != 2 || out.Changes[1].What != "rate" || out.Changes[1].Value != 12.5 || len(out.Notes) != 1 {
		t.Errorf("JSON changes %v notes %v", out.Changes, out.Notes)
	}
}

// A footer of a million changes costs a bounded report: the first 1,000
// listed (10 in the terminal), the rest counted.
func TestChangesBounded(t *testing.T) {
	var cs []results.Change
	for i := range 5000 {
		cs = append(cs, results.Change{At: resultstest.T0.Add(time.Duration(i) * time.Millisecond), What: results.ChangeUsers, Value: float64(i)})
	}
	path := filepath.Join(t.TempDir(), "r.parquet")
	rows := resultstest.Synthetic(50, 2, 3)
	w, err := results.Create(path, results.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		w.Write(&rows[i])
	}
	w.SetMeta(results.MetaChanges, results.EncodeChanges(cs))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	a := analysis.New(0)
	if err := a.AddFile(path); err != nil {
		t.Fatal(err)
	}
	rep := a.Report()
	if len(rep.Changes) != 1000 || rep.ChangesLeftOut != 4000 || rep.Changes[999].Value != 999 {
		t.Fatalf("%d changes listed, %d left out", len(rep.Changes), rep.ChangesLeftOut)
	}
	var table bytes.Buffer
	WriteTable(&table, rep, nil)
	if !strings.Contains(table.String(), "  ... 990 more in the JSON\n  ... and 4000 more, listed nowhere") || strings.Count(table.String(), ": users ") != 10 {
		t.Errorf("table:\n%s", table.String())
	}
}
