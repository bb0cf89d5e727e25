package record

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/trace"
)

// The links of real clients' traffic (scripts/make-fixtures.sh, section
// links) are the ones written by hand in testdata/links (see its README):
// every one found, from the right row and position, and none beside them;
// the rows of a login and of its token or cookie in one session.
func TestLinksOfRealClients(t *testing.T) {
	for _, name := range []string{"links-curl", "links-python"} {
		t.Run(name, func(t *testing.T) {
			want := readLinkList(t, name+".txt")
			_, rows := recordFixture(t, name+".pcap", Config{})
			c := checkLinks(t, want, rows)
			t.Logf("%s: %s", name, c)
		})
	}
}

// The proxy finds the same links in the curl flow of links-curl.pcap, sent
// by curl through it to the demo API.
func TestLinksThroughProxy(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not on PATH (scripts/test.sh installs it): the proxy's links test runs curl as the client")
	}
	api := httptest.NewServer(demoapi.New(demoapi.Config{IDBase: 7300, NoDelay: true, RatePerKey: 1e6, Burst: 1e6}))
	defer api.Close()
	dir := t.TempDir()
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Proxy(ctx, "127.0.0.1:0", api.URL, Config{Out: dir + "/", RedactKey: []byte("test-key"), MaxBody: 1 << 20,
			Ready: func(addr string) { ready <- addr }})
		done <- err
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	curlFlow(t, "http://"+addr, t.TempDir())
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c := checkLinks(t, readLinkList(t, "links-curl.txt"), readTraces(t, dir))
	t.Logf("proxy: %s", c)
}

// curlFlow is links_curl_flow of scripts/make-fixtures.sh: the same curl
// commands, the values taken out of the answers here instead of by jq and
// sed.
func curlFlow(t *testing.T, base, tmp string) {
	t.Helper()
	hdrs, jar := filepath.Join(tmp, "headers"), filepath.Join(tmp, "cookies.txt")
	curl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-sSf"}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	header := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(hdrs)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("no %s in the answer:\n%s", name, b)
		return ""
	}
	curl("-o", os.DevNull, base+"/health")
	var login struct {
		AccessToken string `json:"access_token"`
	}
	out := curl("-H", "Content-Type: application/json", "-d", `{"username":"bob","password":"demo-password-bob"}`, base+"/api/v1/login")
	if err := json.Unmarshal([]byte(out), &login); err != nil || login.AccessToken == "" {
		t.Fatalf("login answered %q (%v)", out, err)
	}
	auth := "Authorization: Bearer " + login.AccessToken
	key := newUUID()
	for range 2 { // the create and its retry, with the same key
		curl("-o", os.DevNull, "-D", hdrs, "-H", auth, "-H", "Idempotency-Key: "+key,
			"-H", "Content-Type: application/json", "-d", `{"title":"Write the report","status":"todo"}`, base+"/api/v1/tasks")
	}
	loc := header("Location")
	curl("-o", os.DevNull, "-D", hdrs, "-H", auth, base+loc)
	etag := header("ETag")
	curl("-o", os.DevNull, "-D", hdrs, "-X", "PUT", "-H", auth, "-H", "If-Match: "+etag,
		"-H", "Content-Type: application/json", "-d", `{"title":"Write the report","status":"done"}`, base+loc)
	etag = header("ETag")
	curl("-o", os.DevNull, "-X", "DELETE", "-H", auth, "-H", "If-Match: "+etag, base+loc)
	curl("-o", os.DevNull, "-c", jar, "-d", "username=bob&password=demo-password-bob", base+"/web/login")
	curl("-o", os.DevNull, "-b", jar, base+"/web/dashboard")
	prefs := map[string]any{}
	if err := json.Unmarshal([]byte(curl("-b", jar, base+"/web/preferences")), &prefs); err != nil {
		t.Fatal(err)
	}
	prefs["theme"] = "dark"
	body, _ := json.Marshal(prefs)
	curl("-o", os.DevNull, "-b", jar, "-X", "PUT", "-H", "Content-Type: application/json", "-d", string(body), base+"/web/preferences")
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// A linkList is a testdata/links file (see its README).
type linkList struct {
	every []wantLink
	rows  []wantRow
}

type wantRow struct {
	label, method, target, group string
	links                        []wantLink
	line                         int
}

// wantLink is a link at one position and the sources it may have: the
// first is where the client took the value.
type wantLink struct {
	at   string
	srcs []wantSrc
}

type wantSrc struct{ row, src string }

func readLinkList(t *testing.T, name string) linkList {
	t.Helper()
	path := filepath.Join(fixtures, "links", name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var l linkList
	labels := map[string]bool{"self": true}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fields := strings.Fields(line)
		bad := func(why string) { t.Fatalf("%s:%d: %s: %q", path, n, why, line) }
		switch {
		case len(fields) == 0 || strings.HasPrefix(fields[0], "#"):
		case fields[0] == "every":
			wl := parseWantLink(fields[1:], bad)
			if len(wl.srcs) != 1 || wl.srcs[0].row != "self" {
				bad("every takes one source, self")
			}
			l.every = append(l.every, wl)
		case line[0] == ' ' || line[0] == '\t':
			if len(l.rows) == 0 {
				bad("a link before any row")
			}
			r := &l.rows[len(l.rows)-1]
			wl := parseWantLink(fields, bad)
			for _, s := range wl.srcs {
				if !labels[s.row] {
					bad("no row " + s.row + " before this one")
				}
			}
			for _, o := range r.links {
				if o.at == wl.at {
					bad("a second link at " + wl.at)
				}
			}
			r.links = append(r.links, wl)
		default:
			if len(fields) < 3 || len(fields) > 4 || labels[fields[0]] {
				bad("want a new LABEL METHOD TARGET [session=GROUP]")
			}
			r := wantRow{label: fields[0], method: fields[1], target: fields[2], line: n}
			if len(fields) == 4 {
				g, ok := strings.CutPrefix(fields[3], "session=")
				if !ok || g == "" {
					bad("want session=GROUP")
				}
				r.group = g
			}
			labels[r.label] = true
			l.rows = append(l.rows, r)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(l.rows) == 0 {
		t.Fatalf("%s lists no rows", path)
	}
	return l
}

// parseWantLink reads "AT <- ROW SRC [| ROW SRC]...".
func parseWantLink(f []string, bad func(string)) wantLink {
	if len(f) < 4 || f[1] != "<-" {
		bad("want AT <- ROW SRC [| ROW SRC]...")
	}
	wl := wantLink{at: f[0]}
	rest := f[2:]
	for {
		if len(rest) < 2 {
			bad("want ROW SRC after <- or |")
		}
		wl.srcs = append(wl.srcs, wantSrc{rest[0], rest[1]})
		rest = rest[2:]
		if len(rest) == 0 {
			return wl
		}
		if rest[0] != "|" {
			bad("want | between sources")
		}
		rest = rest[1:]
	}
}

// linkCounts say how a trace's links compare with a list.
type linkCounts struct {
	// expected links; found as the client took the value, found from a
	// later response that held it (an alternative), missed, and found
	// with another source.
	expected, asClient, asLater, missed, wrong int
	// false links are found on rows that must have none; extra ones on
	// rows that have others.
	falseLinks, extra int
}

func (c linkCounts) String() string {
	return fmt.Sprintf("%d links expected: %d found as the client took them, %d from a later response with the same value, "+
		"%d missed, %d from another source; %d false links on rows that must have none, %d more on rows with links",
		c.expected, c.asClient, c.asLater, c.missed, c.wrong, c.falseLinks, c.extra)
}

// checkLinks compares the rows of a trace, in order, with a list.
func checkLinks(t *testing.T, want linkList, rows []trace.Exchange) linkCounts {
	t.Helper()
	var c linkCounts
	if len(rows) != len(want.rows) {
		var got []string
		for _, e := range rows {
			got = append(got, fmt.Sprintf("%d %s %s %d", e.ID, e.Method, e.Path, e.Status))
		}
		t.Fatalf("%d rows, the list has %d:\n%s", len(rows), len(want.rows), strings.Join(got, "\n"))
	}
	label := map[int64]string{}
	for i := range rows {
		e, w := &rows[i], &want.rows[i]
		if e.ID != int64(i) {
			t.Fatalf("row %d has id %d", i, e.ID)
		}
		if e.Method != w.method || e.Path != w.target {
			t.Fatalf("row %d is %s %s, the list's %s (line %d) is %s %s", i, e.Method, e.Path, w.label, w.line, w.method, w.target)
		}
		if e.Status < 200 || e.Status >= 400 {
			t.Errorf("%s %s %s answered %d: the flow went wrong", w.label, e.Method, e.Path, e.Status)
		}
		label[e.ID] = w.label
	}
	for i := range rows {
		e, w := &rows[i], &want.rows[i]
		expect := append([]wantLink(nil), w.links...)
		for _, ev := range want.every {
			if !slicesContainsAt(w.links, ev.at) {
				expect = append(expect, ev)
			}
		}
		got := map[string]trace.Link{}
		for _, l := range e.Links {
			if _, dup := got[l.At]; dup {
				t.Errorf("%s %s %s: two links at %s: %v", w.label, e.Method, e.Path, l.At, e.Links)
			}
			got[l.At] = l
		}
		from := func(l trace.Link) string {
			if s, ok := label[e.ID-l.Back]; ok {
				return s
			}
			return fmt.Sprintf("row %d", e.ID-l.Back)
		}
		for _, wl := range expect {
			c.expected++
			l, ok := got[wl.at]
			if !ok {
				c.missed++
				t.Errorf("%s %s %s: no link at %s, want one from %s", w.label, e.Method, e.Path, wl.at, describe(wl.srcs, w.label))
				continue
			}
			delete(got, wl.at)
			matched := -1
			for k, s := range wl.srcs {
				row := s.row
				if row == "self" {
					row = w.label
				}
				if from(l) == row && l.Src == s.src {
					matched = k
					break
				}
			}
			switch {
			case matched == 0:
				c.asClient++
			case matched > 0:
				c.asLater++
				t.Logf("%s %s %s: %s from %s %s (a later response than the client took it from: %s %s)",
					w.label, e.Method, e.Path, wl.at, from(l), l.Src, wl.srcs[0].row, wl.srcs[0].src)
			default:
				c.wrong++
				t.Errorf("%s %s %s: link at %s from %s %s (back %d), want %s", w.label, e.Method, e.Path, wl.at,
					from(l), l.Src, l.Back, describe(wl.srcs, w.label))
			}
		}
		for _, l := range e.Links {
			if _, left := got[l.At]; !left {
				continue
			}
			if len(w.links) == 0 {
				c.falseLinks++
				t.Errorf("%s %s %s must have no link: false link at %s from %s %s (back %d)", w.label, e.Method, e.Path,
					l.At, from(l), l.Src, l.Back)
			} else {
				c.extra++
				t.Errorf("%s %s %s: unexpected link at %s from %s %s (back %d)", w.label, e.Method, e.Path, l.At, from(l), l.Src, l.Back)
			}
		}
	}
	checkSessions(t, want, rows)
	return c
}

func slicesContainsAt(links []wantLink, at string) bool {
	for _, l := range links {
		if l.at == at {
			return true
		}
	}
	return false
}

func describe(srcs []wantSrc, self string) string {
	var parts []string
	for _, s := range srcs {
		row := s.row
		if row == "self" {
			row = self
		}
		parts = append(parts, row+" "+s.src)
	}
	return strings.Join(parts, " or ")
}

// checkSessions checks that the rows of a group are one session, that
// groups are different sessions, and that a group with a login is the
// login's ("user:" and its credential's hash).
func checkSessions(t *testing.T, want linkList, rows []trace.Exchange) {
	t.Helper()
	session, first := map[string]string{}, map[string]string{}
	login := map[string]bool{}
	for i := range rows {
		e, w := &rows[i], &want.rows[i]
		if w.group == "" {
			continue
		}
		if strings.HasSuffix(e.Route, "/login") {
			login[w.group] = true
		}
		s, ok := session[w.group]
		if !ok {
			session[w.group], first[w.group] = e.Session, w.label
			continue
		}
		if e.Session != s {
			t.Errorf("%s %s %s is in session %q, %s (session=%s too) in %q", w.label, e.Method, e.Path, e.Session,
				first[w.group], w.group, s)
		}
	}
	owner := map[string]string{}
	for g, s := range session {
		if o, ok := owner[s]; ok {
			t.Errorf("session=%s and session=%s are one session, %q", g, o, s)
		}
		owner[s] = g
		if login[g] && !strings.HasPrefix(s, "user:") {
			t.Errorf("session=%s has a login but is %q, not the login's user: session", g, s)
		}
	}
}
