package record

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

func importFixture(t *testing.T, ctx context.Context, from func(context.Context, string, Config) (*Summary, error), path string) (*Summary, []trace.Exchange) {
	t.Helper()
	sum, err := from(ctx, filepath.Join(fixtures, path), Config{Out: t.TempDir() + "/", MaxBody: 1 << 20, RedactKey: []byte("test-key")})
	if err != nil {
		t.Fatalf("record %s: %v", path, err)
	}
	rows, err := tracefile.ReadAll(sum.Output)
	if err != nil {
		t.Fatal(err)
	}
	return sum, rows
}

// linksTo says whether row has a link whose source is the row with id src.
func linksTo(row trace.Exchange, src int64) bool {
	for _, l := range row.Links {
		if row.ID-l.Back == src {
			return true
		}
	}
	return false
}

// linksSince says whether row has a link from its path to a row from id
// src on.
func linksSince(row trace.Exchange, src int64) bool {
	for _, l := range row.Links {
		if strings.HasPrefix(l.At, "path/") && row.ID-l.Back >= src {
			return true
		}
	}
	return false
}

// harDoc is what the test reads of a HAR file itself.
type harDoc struct {
	Log struct {
		Entries []struct {
			StartedDateTime string
			Timings         map[string]float64
			Request         struct {
				Method, URL string
				Headers     []struct{ Name, Value string }
			}
			Response struct {
				Status  int
				Content struct{ Text string }
			}
		}
	}
}

// Recording Chromium's HARs of the demo API (scripts/make-import-fixtures.sh)
// writes one row per entry, as the HAR's JSON has it: times, statuses,
// secrets redacted, sessions by credential, and links from the login's
// token and the created task's id to the requests that used them.
func TestHARTrace(t *testing.T) {
	for _, name := range []string{"chromium-demoapi.har", "playwright-demoapi.har"} {
		t.Run(name, func(t *testing.T) { testHARTrace(t, name) })
	}
}

func testHARTrace(t *testing.T, name string) {
	raw, err := os.ReadFile(filepath.Join(fixtures, "har", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc harDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	entries := doc.Log.Entries
	sum, rows := importFixture(t, context.Background(), FromHAR, "har/"+name)
	if len(rows) != len(entries) || sum.Import.Read != int64(len(entries)) || sum.Written != int64(len(rows)) {
		t.Fatalf("%d rows, summary %+v, from %d entries", len(rows), sum.Import, len(entries))
	}
	var token, taskID string
	loginRow, createRow := int64(-1), int64(-1)
	for i, e := range entries {
		row := rows[i]
		u, _ := url.Parse(e.Request.URL)
		if row.Method != e.Request.Method || row.Path != u.RequestURI() || int(row.Status) != e.Response.Status || row.Host != u.Host {
			t.Errorf("row %d: %s %s %s %d, entry %s %s %d", i, row.Method, row.Host, row.Path, row.Status, e.Request.Method, e.Request.URL, e.Response.Status)
		}
		started, _ := time.Parse(time.RFC3339Nano, e.StartedDateTime)
		if d := row.TS.Sub(started); d < 0 || d > time.Duration(e.Timings["blocked"]*1e6)+time.Microsecond {
			t.Errorf("row %d at %v, entry started %v, blocked %vms", i, row.TS, started, e.Timings["blocked"])
		}
		for _, h := range row.ReqHeaders {
			if strings.Contains(h.Value, "demo-key-") || strings.Contains(h.Value, "demo-password") || (token != "" && strings.Contains(h.Value, token)) {
				t.Errorf("row %d: secret in %s: %s", i, h.Name, h.Value)
			}
		}
		var auth, key string
		for _, h := range e.Request.Headers {
			switch strings.ToLower(h.Name) {
			case "authorization":
				auth = h.Value
			case "x-api-key":
				key = h.Value
			}
		}
		switch {
		case key != "" && !strings.HasPrefix(row.Session, "x-api-key:"):
			t.Errorf("row %d with X-API-Key: session %s", i, row.Session)
		case token != "" && auth == "Bearer "+token && !linksTo(row, loginRow):
			t.Errorf("row %d sends the login's token but has no link to the login (row %d): %+v", i, loginRow, row.Links)
		case taskID != "" && strings.Contains(u.Path, "/"+taskID) && !linksSince(row, createRow):
			// The task's own answer (GET) has the id too: a link to it
			// is as good.
			t.Errorf("row %d uses the created task's id but has no link to its creation (row %d) or later: %+v", i, createRow, row.Links)
		}
		var body map[string]any
		json.Unmarshal([]byte(e.Response.Content.Text), &body)
		switch {
		case e.Request.Method == "POST" && u.Path == "/api/v1/login":
			token, _ = body["access_token"].(string)
			loginRow = row.ID
		case e.Request.Method == "POST" && u.Path == "/api/v1/tasks":
			id, _ := body["id"].(float64)
			taskID, createRow = strconv.FormatInt(int64(id), 10), row.ID
		}
		if row.Status == 200 && strings.HasPrefix(row.Path, "/api/") && row.RespSig.Kind != "json" {
			t.Errorf("row %d: answer signature %+v, want a JSON one", i, row.RespSig)
		}
	}
	if token == "" || taskID == "" || sum.Links.Links < 3 {
		t.Errorf("token %q, task %q, %d links: the fixture should have a login, a task and links", token, taskID, sum.Links.Links)
	}
	var out bytes.Buffer
	sum.Print(&out)
	if n := len(entries); !strings.Contains(out.String(), fmt.Sprintf("read         %d entries: %d exchanges (%d with a response, 0 without), %d written", n, n, n, n)) {
		t.Errorf("summary:\n%s", out.String())
	}
}

// Chromium's HTTP/2 HAR: rows say HTTP/2.0 and have the Host of
// :authority.
func TestHARTraceHTTP2(t *testing.T) {
	_, rows := importFixture(t, context.Background(), FromHAR, "har/chromium-nginx-h2.har")
	if len(rows) != 5 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if r.Proto != "HTTP/2.0" || r.Host != "127.0.0.1:18192" || strings.HasPrefix(r.ReqHeaders[0].Name, ":") {
			t.Errorf("%s %s: %s, Host %s, headers %v", r.Method, r.Path, r.Proto, r.Host, r.ReqHeaders)
		}
	}
}

// Recording GoReplay's file: the login's token, read here from the file's
// payloads, links the requests that send it to the login, and they are
// one session; the client addresses come from GoReplay's IDs.
func TestGorTrace(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(fixtures, "gor", "curl.gor"))
	if err != nil {
		t.Fatal(err)
	}
	token := ""
	for _, p := range strings.Split(string(raw), "\n🐵🙈🙉\n") {
		if i := strings.Index(p, `"access_token":"`); i >= 0 && strings.HasPrefix(p, "2 ") {
			token, _, _ = strings.Cut(p[i+len(`"access_token":"`):], `"`)
		}
	}
	if token == "" {
		t.Fatal("no login answer in the fixture")
	}
	sum, rows := importFixture(t, context.Background(), FromGor, "gor/curl.gor")
	if sum.Written != int64(len(rows)) || sum.Import.Answered+sum.Import.Unanswered != sum.Written || len(rows) < 15 {
		t.Fatalf("%d rows, summary %+v", len(rows), sum.Import)
	}
	login, bearer, session := int64(-1), 0, ""
	for _, r := range rows {
		if !strings.HasPrefix(r.Client, "127.0.0.1:") || r.Server == "" {
			t.Errorf("row %d: client %q server %q", r.ID, r.Client, r.Server)
		}
		if r.Method == "POST" && r.Path == "/api/v1/login" {
			login = r.ID
		}
		v, _ := trace.HeaderValue(r.ReqHeaders, "Authorization")
		if !strings.HasPrefix(v, "Bearer ") {
			continue
		}
		bearer++
		if strings.Contains(v, token) || !linksTo(r, login) {
			t.Errorf("row %d (%s %s): Authorization %q, links %+v; want redacted, linked to row %d", r.ID, r.Method, r.Path, v, r.Links, login)
		}
		if session == "" {
			session = r.Session
		} else if r.Session != session {
			t.Errorf("row %d: session %s, want %s", r.ID, r.Session, session)
		}
	}
	if bearer != 4 {
		t.Errorf("%d rows with the token, want 4", bearer)
	}
}

// A cancelled recording stops reading and still writes a complete trace.
func TestImportInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sum, rows := importFixture(t, ctx, FromGor, "gor/curl.gor")
	if sum.Stopped != "interrupted" || len(rows) != 1 {
		t.Errorf("stopped %q with %d rows", sum.Stopped, len(rows))
	}
}

// Files that are missing or not of the format asked for are bad input
// (the command exits 2), and no trace is made; a trace already there is
// replaced only with Force.
func TestImportBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.har")
	os.WriteFile(empty, nil, 0o600)
	tests := []struct {
		name string
		from func(context.Context, string, Config) (*Summary, error)
		file string
	}{
		{"missing HAR", FromHAR, filepath.Join(dir, "nope.har")},
		{"missing gor", FromGor, filepath.Join(dir, "nope.gor")},
		{"a directory", FromHAR, dir},
		{"gor as HAR", FromHAR, filepath.Join(fixtures, "gor", "curl.gor")},
		{"HAR as gor", FromGor, filepath.Join(fixtures, "har", "chromium-demoapi.har")},
		{"pcap as HAR", FromHAR, filepath.Join(fixtures, "pcap", "go-curl.pcap")},
		{"empty HAR", FromHAR, empty},
	}
	t.Run("a trace already there", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "t.parquet")
		os.WriteFile(out, []byte("mine"), 0o600)
		har := filepath.Join(fixtures, "har", "chromium-demoapi.har")
		if _, err := FromHAR(context.Background(), har, Config{Out: out}); !IsBadInput(err) {
			t.Errorf("%v, want a BadInput", err)
		}
		if b, _ := os.ReadFile(out); string(b) != "mine" {
			t.Error("the trace there was replaced")
		}
		if _, err := FromHAR(context.Background(), har, Config{Out: out, Force: true}); err != nil {
			t.Errorf("with Force: %v", err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "t.parquet")
			_, err := tt.from(context.Background(), tt.file, Config{Out: out})
			if !IsBadInput(err) {
				t.Errorf("%v, want a BadInput", err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a trace was written")
			}
		})
	}
}

// The summary and the progress line of an import say what was read and
// what was skipped, by reason.
func TestImportSummary(t *testing.T) {
	s := &Summary{Input: "a.har", InputFormat: "har", InputSize: 2048, InputRead: 1024, Output: "traces/a.parquet", Written: 3,
		Import: &ImportStats{Unit: "entries", Read: 6, Answered: 2, Unanswered: 1, Skipped: map[string]int64{"websocket": 2, "data: URL": 1}}}
	var b bytes.Buffer
	s.Print(&b)
	for _, want := range []string{
		"record: a.har (har, 2.0 KiB) -> traces/a.parquet\n",
		"  read         6 entries: 3 exchanges (2 with a response, 1 without), 3 written\n",
		"  skipped      1 data: URL, 2 websocket\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary has no %q:\n%s", want, b.String())
		}
	}
	if got := s.ProgressLine(); got != " 50% 6 entries, 3 exchanges" {
		t.Errorf("progress line %q", got)
	}
}

// A page's HAR holds the hosts it loaded from: --only-host and --port
// keep the entries the HAR itself says went there (read here from the
// HAR's URLs), and count the rest.
func TestHAROnlyHost(t *testing.T) {
	const name = "har/chromium-hosts.har"
	raw, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Log struct {
			Entries []struct {
				Request struct{ Method, URL string }
			}
		}
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	urls := map[string][]string{} // host:port -> "METHOD /path" in file order
	for _, e := range h.Log.Entries {
		u, err := url.Parse(e.Request.URL)
		if err != nil {
			t.Fatal(err)
		}
		urls[u.Host] = append(urls[u.Host], e.Request.Method+" "+u.RequestURI())
	}
	if len(urls) != 4 {
		t.Fatalf("the fixture has hosts %v, want the app, two CDN names and the analytics", urls)
	}
	for _, tc := range []struct {
		hosts []string
		ports []uint16
		want  []string // host:port keys of urls
	}{
		{hosts: []string{"app.example.test"}, want: []string{"app.example.test:18193"}},
		{hosts: []string{"APP.example.test.:18193"}, want: []string{"app.example.test:18193"}},
		{hosts: []string{"*.cdn.example.test"}, want: []string{"static.cdn.example.test:18194"}},
		{hosts: []string{"cdn.example.test", "*.cdn.example.test"}, want: []string{"cdn.example.test:18194", "static.cdn.example.test:18194"}},
		{ports: []uint16{18194}, want: []string{"cdn.example.test:18194", "static.cdn.example.test:18194"}},
		{hosts: []string{"*.example.test"}, ports: []uint16{18193, 18195}, want: []string{"app.example.test:18193", "stats.example.test:18195"}},
		{hosts: []string{"api.example.com"}},
	} {
		f, err := ParseHostFilter(tc.hosts)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := FromHAR(context.Background(), filepath.Join(fixtures, name),
			Config{Out: t.TempDir() + "/", MaxBody: 1 << 20, RedactKey: []byte("test-key"), OnlyHosts: f, Ports: tc.ports})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := tracefile.ReadAll(sum.Output)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, k := range tc.want {
			want = append(want, urls[k]...)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Method+" "+r.Path)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("--only-host %q --port %v: rows %q, want %q", tc.hosts, tc.ports, got, want)
		}
		ported := int64(0)
		if len(tc.ports) > 0 {
			ported = sum.Import.Skipped["to other ports (--port)"]
		}
		if left := int64(len(h.Log.Entries)) - int64(len(rows)); sum.OtherHosts+ported != left {
			t.Errorf("--only-host %q --port %v: %d to other hosts and %d to other ports counted, %d left out", tc.hosts, tc.ports, sum.OtherHosts, ported, left)
		}
		var out bytes.Buffer
		sum.Print(&out)
		if sum.OtherHosts > 0 && !strings.Contains(out.String(), fmt.Sprintf("%d to other hosts left out by --only-host", sum.OtherHosts)) {
			t.Errorf("the summary does not count the other hosts:\n%s", out.String())
		}
	}
}
