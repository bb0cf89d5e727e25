package replay

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/record"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/scenario"
	"github.com/replaykit/replaykit/session"
)

// recordFlows records, through record --proxy in front of a demo API whose
// ids start at base, two users as real clients are: one logs in with a
// bearer token, creates a task, follows its Location, updates it with
// If-Match and deletes it; one logs in with a form and uses its cookie.
func recordFlows(t *testing.T, base int) *session.Source {
	t.Helper()
	api := httptest.NewServer(demoapi.New(demoapi.Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6, IDBase: base}))
	defer api.Close()
	dir := t.TempDir()
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := record.Proxy(ctx, "127.0.0.1:0", api.URL, record.Config{Out: dir + "/", MaxBody: 1 << 20,
			Ready: func(a string) { ready <- a }})
		done <- err
	}()
	proxy := "http://" + <-ready
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Timeout: 5 * time.Second, Jar: jar}
	send := func(method, path, body string, hs ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, proxy+path, strings.NewReader(body))
		for i := 0; i+1 < len(hs); i += 2 {
			req.Header.Set(hs[i], hs[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		if resp.StatusCode >= 400 {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
		}
		return resp
	}
	var login struct {
		Token string `json:"access_token"`
	}
	json.NewDecoder(send("POST", "/api/v1/login", `{"username":"bob","password":"demo-password-bob"}`, "Content-Type", "application/json").Body).Decode(&login)
	auth := "Bearer " + login.Token
	created := send("POST", "/api/v1/tasks", `{"title":"carried"}`, "Authorization", auth, "Content-Type", "application/json",
		"Idempotency-Key", "3b241101-e2bb-4255-8caf-4136c566a962")
	loc := created.Header.Get("Location")
	got := send("GET", loc, "", "Authorization", auth)
	put := send("PUT", loc, `{"title":"carried","status":"done"}`, "Authorization", auth, "Content-Type", "application/json",
		"If-Match", got.Header.Get("ETag"))
	send("DELETE", loc, "", "Authorization", auth, "If-Match", put.Header.Get("ETag"))
	send("POST", "/web/login", "username=carol&password=demo-password-carol", "Content-Type", "application/x-www-form-urlencoded")
	send("PUT", "/web/preferences", `{"theme":"dark"}`, "Content-Type", "application/json")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	src, _, err := session.Open(session.Options{}, filepath.Join(dir, "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// A value the recording saw (the target issues the same ids) and a
// different live value (other ids, tokens and cookies) both replay with
// the recorded statuses, many users at once; without correlation the
// token's, the ids' and the cookie's requests fail.
func TestCarriedValuesReplay(t *testing.T) {
	const recordedBase = 5000
	sessions := recordFlows(t, recordedBase)
	for _, tt := range []struct {
		name        string
		base        int
		noCorrelate bool
	}{{"same ids as recorded", recordedBase, false}, {"other ids", 910000, false}, {"other ids, --no-correlate", 910000, true}} {
		for _, cl := range clients {
			t.Run(tt.name+"/"+cl.name, func(t *testing.T) {
				carriedValuesReplay(t, sessions, tt.base, tt.noCorrelate, cl.http1)
			})
		}
	}
}

func carriedValuesReplay(t *testing.T, sessions *session.Source, base int, noCorrelate, http1 bool) {
	api := httptest.NewServer(demoapi.New(demoapi.Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6, IDBase: base}))
	defer api.Close()
	tgt, _ := ParseTarget(api.URL)
	// Each user replays the sessions again and again: a run
	// bounded by its requests, not by time.
	stop, enough := context.WithCancelCause(context.Background())
	defer enough(nil)
	tr := &counting{next: http.DefaultTransport, limit: 200, full: func() { enough(ErrInterrupted) }}
	p := Plan{Users: 8, Duration: time.Minute, Sessions: sessions,
		Target: tgt, Seed: 3, Pacing: scenario.Uniform{Max: time.Millisecond}, NoCorrelate: noCorrelate,
		Client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if http1 {
		// Counted as written: the client is replay's own.
		var n atomic.Int64
		p.HTTP1, p.Observe = true, func(*results.Result) {
			if n.Add(1) == 200 {
				enough(ErrInterrupted)
			}
		}
	}
	_, err, rows := runPlan(t, context.Background(), stop, p)
	if err != nil {
		t.Fatal(err)
	}
	same, carried := 0, 0
	for _, r := range rows {
		if r.Status/100 == r.RecordedStatus/100 {
			same++
		} else if !noCorrelate {
			t.Errorf("%s %s (row %d): %d, recorded %d (%d carried, %d not)", r.Method, r.URL, r.TraceID, r.Status, r.RecordedStatus, r.Carried, r.NotCarried)
		}
		carried += int(r.Carried)
	}
	if len(rows) < 100 {
		t.Fatalf("%d requests", len(rows))
	}
	if noCorrelate && (carried != 0 || same > len(rows)/2) {
		t.Errorf("--no-correlate: %d of %d as recorded, %d carried: want most refused, none carried", same, len(rows), carried)
	}
	if !noCorrelate && carried < len(rows)/2 {
		t.Errorf("%d values carried in %d requests", carried, len(rows))
	}
}

// counting passes requests on and calls full once limit were sent.
type counting struct {
	next  http.RoundTripper
	limit int64
	n     atomic.Int64
	full  func()
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.n.Add(1) == c.limit {
		c.full()
	}
	return c.next.RoundTrip(r)
}
