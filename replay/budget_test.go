package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/replaykit/replaykit/record"
)

// The budget admits bodies while the time spent comparing is under its
// share of the time since the first answer, plus the burst.
func TestBudgetAdmits(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	b := &budget{share: 0.2} // a tenth of two cores
	steps := []struct {
		at     time.Duration // since the first answer
		charge time.Duration // spent comparing the answer admitted
		want   bool
	}{
		{0, 40 * time.Millisecond, true},                     // 0 < 0 + 50 ms
		{0, 20 * time.Millisecond, true},                     // 40 < 50
		{0, 0, false},                                        // 60 ms spent
		{40 * time.Millisecond, 0, false},                    // 60 < 8 + 50? no
		{60 * time.Millisecond, 10 * time.Millisecond, true}, // 60 < 12 + 50
		{100 * time.Millisecond, 0, false},                   // 70 < 20 + 50? no
		{time.Second, 0, true},                               // 70 < 200 + 50
	}
	for i, s := range steps {
		got := b.admit(t0.Add(s.at))
		if got != s.want {
			t.Fatalf("step %d at %v (%v spent): admit %v, want %v", i, s.at, time.Duration(b.spent.Load()), got, s.want)
		}
		if got {
			b.charge(s.charge)
		}
	}
	var none *budget // Limit not called: every body
	if !none.admit(t0) {
		t.Error("no budget refused an answer")
	}
}

// Large JSON answers as fast as they come: their bodies are compared up
// to replay's share of CPU and the rest by status alone, counted; a
// status that changed is still found on every answer; --compare-all
// compares every body.
func TestCompareBudgetAtFullSpeed(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed (scripts/test.sh installs it as root)")
	}
	type item struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Status  string `json:"status"`
		Updated string `json:"updated_at"`
	}
	var items []item
	for i := range 1200 { // about 100 KiB
		items = append(items, item{ID: 100000 + i, Title: fmt.Sprintf("task %d", i), Status: "open", Updated: "2026-12-01T10:00:00Z"})
	}
	body, _ := json.Marshal(map[string]any{"items": items, "count": len(items)})
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)

	// The recording: curl's 40 requests through record --proxy.
	dir := t.TempDir()
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := record.Proxy(ctx, "127.0.0.1:0", srv.URL, record.Config{Out: dir + "/", Ready: func(a string) { ready <- a }})
		done <- err
	}()
	proxy := "http://" + <-ready
	var urls []string
	for i := range 40 {
		urls = append(urls, fmt.Sprintf("%s/api/tasks?page=%d", proxy, i))
	}
	if out, err := exec.Command(curl, append([]string{"-sS", "--fail", "-o", "/dev/null"}, urls...)...).CombinedOutput(); err != nil {
		t.Fatalf("curl: %v: %.300s", err, out)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	traces := filepath.Join(dir, "*.parquet")

	// 400 answers of 100 KiB as fast as they come: comparing them all
	// would take several times the sending (and the budget a tenth of
	// it), on any machine, the race detector on or not.
	run := func(all bool) (bodies, skipped, differed int) {
		_, rows := runRecorded(t, Config{Traces: []string{traces}, Host: srv.URL, Speed: 1000, Amplify: 10, Seed: 1, CompareAll: all})
		if len(rows) != 400 {
			t.Fatalf("%d requests sent, want 400", len(rows))
		}
		for _, r := range rows {
			if !r.Compared {
				t.Fatalf("an answer not compared: %+v", r)
			}
			if r.BodySkipped {
				skipped++
			} else {
				bodies++
			}
			if r.Diff != "" {
				differed++
			}
		}
		return bodies, skipped, differed
	}
	bodies, skipped, differed := run(false)
	t.Logf("%d bodies compared, %d by status alone, %d differed", bodies, skipped, differed)
	if bodies == 0 || skipped == 0 || differed != 0 {
		t.Errorf("%d bodies compared, %d by status alone, %d differed: want some of each kind, none differing", bodies, skipped, differed)
	}
	if bodies, skipped, _ := run(true); skipped != 0 || bodies != 400 {
		t.Errorf("--compare-all: %d bodies compared, %d by status alone", bodies, skipped)
	}
	status = http.StatusFound // a login page now, for every request
	if _, _, differed := run(false); differed != 400 {
		t.Errorf("%d of 400 answers differ by their status, want all", differed)
	}
}
