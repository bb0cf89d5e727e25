package replay

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/replaykit/replaykit/results"
)

// The Grafana dashboard in deploy/grafana shows what /metrics serves:
// every metric and label its queries name is one a run exposes, and it
// shows each of replay's own metrics, and p50, p95 and p99.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile("../deploy/grafana/replaykit.json")
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	}
	type panel struct {
		ID         int    `json:"id"`
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"` // a row's
	}
	var dash struct {
		UID    string  `json:"uid"`
		Title  string  `json:"title"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("deploy/grafana/replaykit.json is not valid JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("the dashboard needs a uid, a title and panels")
	}

	// What a run exposes: series names, and each one's labels (with
	// the labels Prometheus adds to every target).
	m := NewMetrics("r")
	m.observe(&results.Result{Method: "GET", Name: "/", Status: 200})
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]map[string]bool{}
	for _, f := range families {
		names := []string{f.GetName()}
		if f.GetType() == dto.MetricType_HISTOGRAM {
			names = []string{f.GetName() + "_bucket", f.GetName() + "_sum", f.GetName() + "_count"}
		}
		for _, n := range names {
			ls := map[string]bool{"job": true, "instance": true}
			for _, l := range f.GetMetric()[0].GetLabel() {
				ls[l.GetName()] = true
			}
			if strings.HasSuffix(n, "_bucket") {
				ls["le"] = true
			}
			labels[n] = ls
		}
	}

	series := regexp.MustCompile(`\b(?:replaykit|process|go)_[a-z_]+\b`)
	selector := regexp.MustCompile(`\b([a-z_]+)\{([^}]*)\}`)
	matcher := regexp.MustCompile(`^\s*([a-zA-Z_]+)\s*(?:=~|!~|!=|=)\s*"[^"]*"\s*$`)
	grouping := regexp.MustCompile(`\bby \(([^)]*)\)`)
	shown := map[string]bool{}
	ids := map[int]bool{}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Title == "" || ids[p.ID] {
				t.Errorf("panel %d %q: every panel needs a title and an id of its own", p.ID, p.Title)
			}
			ids[p.ID] = true
			if p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: its datasource is %q, want the dashboard's ${datasource}", p.Title, p.Datasource.UID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				e := tg.Expr
				if strings.Count(e, "(") != strings.Count(e, ")") || strings.Count(e, "{") != strings.Count(e, "}") || strings.Count(e, "[") != strings.Count(e, "]") {
					t.Errorf("panel %q: unbalanced %s", p.Title, e)
				}
				used := series.FindAllString(e, -1)
				if len(used) == 0 {
					t.Errorf("panel %q: %s names no metric of replay's", p.Title, e)
				}
				var all map[string]bool // every label of the series used
				for _, s := range used {
					if labels[s] == nil {
						t.Errorf("panel %q: %s names %s, which /metrics does not serve", p.Title, e, s)
						continue
					}
					shown[s] = true
					if all == nil {
						all = map[string]bool{}
					}
					for l := range labels[s] {
						all[l] = true
					}
				}
				for _, sel := range selector.FindAllStringSubmatch(e, -1) {
					for _, mt := range strings.Split(sel[2], ",") {
						mm := matcher.FindStringSubmatch(mt)
						if mm == nil {
							t.Errorf("panel %q: %q is not a label matcher", p.Title, mt)
							continue
						}
						if labels[sel[1]] != nil && !labels[sel[1]][mm[1]] {
							t.Errorf("panel %q: %s has no label %s", p.Title, sel[1], mm[1])
						}
					}
				}
				for _, g := range grouping.FindAllStringSubmatch(e, -1) {
					for _, l := range strings.Split(g[1], ",") {
						if l = strings.TrimSpace(l); all != nil && !all[l] {
							t.Errorf("panel %q: %s groups by %s, a label none of its series has", p.Title, e, l)
						}
					}
				}
			}
		}
	}
	walk(dash.Panels)
	for _, s := range []string{"replaykit_requests_total", "replaykit_request_duration_seconds_bucket", "replaykit_users",
		"replaykit_requests_in_flight", "replaykit_generator_overloaded"} {
		if !shown[s] {
			t.Errorf("no panel shows %s", s)
		}
	}
	for _, q := range []string{"histogram_quantile(0.5,", "histogram_quantile(0.95,", "histogram_quantile(0.99,"} {
		if !strings.Contains(string(data), q) {
			t.Errorf("no panel shows %s ...)", q)
		}
	}
}
