package gor

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/observed"
)

const fixtures = "../testdata/gor"

func readAll(t *testing.T, b []byte) ([]observed.Exchange, Stats, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), Options{MaxBody: 1 << 20, MaxRespBody: 1 << 20})
	if err != nil {
		return nil, Stats{}, err
	}
	var xs []observed.Exchange
	for range 1 << 20 {
		x, err := r.Next()
		if errors.Is(err, io.EOF) {
			return xs, r.Stats(), nil
		}
		if err != nil {
			return xs, r.Stats(), err
		}
		xs = append(xs, x)
	}
	t.Fatal("no end after 2^20 exchanges")
	return nil, Stats{}, nil
}

// goReplayPayload is one payload of a .gor file as the test reads it: by
// GoReplay's own rules (split at the separator, fields of the first line)
// and net/http's parser, apart from the reader's code.
type goReplayPayload struct {
	typ, id string
	ts      int64
	req     *http.Request
	reqBody []byte
	resp    *http.Response
	body    []byte
}

func readPayloads(t *testing.T, b []byte) map[string][]goReplayPayload {
	t.Helper()
	byID := map[string][]goReplayPayload{}
	methods := map[string]string{}
	var raw [][2]string
	for _, p := range strings.Split(string(b), "\n🐵🙈🙉\n") {
		if p == "" {
			continue
		}
		meta, msg, _ := strings.Cut(p, "\n")
		raw = append(raw, [2]string{meta, msg})
		if f := strings.Fields(meta); f[0] == "1" {
			methods[f[1]], _, _ = strings.Cut(msg, " ")
		}
	}
	for _, r := range raw {
		f := strings.Fields(r[0])
		ts, _ := strconv.ParseInt(f[2], 10, 64)
		gp := goReplayPayload{typ: f[0], id: f[1], ts: ts}
		br := bufio.NewReader(strings.NewReader(r[1]))
		var err error
		if f[0] == "1" {
			if gp.req, err = http.ReadRequest(br); err == nil {
				gp.reqBody, err = io.ReadAll(gp.req.Body)
			}
		} else {
			// A HEAD's answer has no body: net/http needs the method.
			if gp.resp, err = http.ReadResponse(br, &http.Request{Method: methods[f[1]]}); err == nil {
				gp.body, err = io.ReadAll(gp.resp.Body)
			}
		}
		if err != nil {
			t.Fatalf("payload %s %s: %v", f[0], f[1], err)
		}
		byID[f[1]] = append(byID[f[1]], gp)
	}
	return byID
}

// The exchanges of GoReplay's files (scripts/make-import-fixtures.sh) are
// the requests of its payloads with the responses of the same ID, as
// net/http reads them: method, target, headers, bodies (chunked decoded,
// gzip kept), status, times; in request order; the gzipped file that
// GoReplay wrote beside it gives the same.
func TestGoReplayFiles(t *testing.T) {
	plain, err := os.ReadFile(filepath.Join(fixtures, "curl.gor"))
	if err != nil {
		t.Fatal(err)
	}
	want := readPayloads(t, plain)
	xs, st, err := readAll(t, plain)
	if err != nil {
		t.Fatal(err)
	}
	requests, answered := 0, 0
	for _, ps := range want {
		for _, p := range ps {
			if p.typ == "1" {
				requests++
			} else {
				answered++
			}
		}
	}
	if len(xs) != requests || st.Exchanges != int64(answered) || st.Unanswered != int64(requests-answered) || st.Orphans+st.Unparsed+st.Malformed != 0 {
		t.Fatalf("%d exchanges, stats %+v; the file has %d requests, %d answered", len(xs), st, requests, answered)
	}
	if !slices.IsSortedFunc(xs, func(a, b observed.Exchange) int { return int(a.Req.Start - b.Req.Start) }) {
		t.Error("exchanges are not in request order")
	}
	conns := map[int64]string{}
	for i, x := range xs {
		var req, resp *goReplayPayload
		for _, ps := range want {
			for j := range ps {
				if ps[j].typ == "1" && ps[j].ts == x.Req.Start {
					req = &ps[j]
				}
			}
		}
		if req == nil {
			t.Fatalf("exchange %d: no request at %d in the file", i, x.Req.Start)
		}
		for j, p := range want[req.id] {
			if p.typ == "2" {
				resp = &want[req.id][j]
			}
		}
		r := req.req
		if x.Req.Method != r.Method || x.Req.Target != r.RequestURI || x.Req.Proto != r.Proto || string(x.Req.Body) != string(req.reqBody) {
			t.Errorf("exchange %d: %s %s %s %q, want %s %s %s %q", i, x.Req.Method, x.Req.Target, x.Req.Proto, x.Req.Body, r.Method, r.RequestURI, r.Proto, req.reqBody)
		}
		for _, h := range x.Req.Headers {
			moved := (h.Name == "Host" && h.Value == r.Host) || (h.Name == "Transfer-Encoding" && slices.Contains(r.TransferEncoding, h.Value))
			if !slices.Contains(r.Header.Values(h.Name), h.Value) && !moved { // net/http takes Host and Transfer-Encoding out
				t.Errorf("exchange %d: header %s: %s is not in the file", i, h.Name, h.Value)
			}
		}
		// GoReplay 1.3's id: client port, server port, client IPv4.
		if p := x.Conn.Client[strings.LastIndexByte(x.Conn.Client, ':')+1:]; x.Conn.Server != r.Host[strings.LastIndexByte(r.Host, ':'):] || !strings.HasPrefix(x.Conn.Client, "127.0.0.1:") || p == "" {
			t.Errorf("exchange %d: connection %+v, Host %s", i, x.Conn, r.Host)
		}
		if c, ok := conns[x.Conn.ID]; ok && c != x.Conn.Client {
			t.Errorf("exchange %d: connection %d is %s and %s", i, x.Conn.ID, c, x.Conn.Client)
		}
		conns[x.Conn.ID] = x.Conn.Client
		if (resp == nil) != (x.Resp == nil) {
			t.Fatalf("exchange %d (%s %s): response %v, file has %v", i, r.Method, r.RequestURI, x.Resp != nil, resp != nil)
		}
		if resp == nil {
			continue
		}
		if x.Resp.Status != resp.resp.StatusCode || x.Resp.Start != resp.ts || x.Resp.BodySize != int64(len(resp.body)) {
			t.Errorf("exchange %d: %d at %d, %d bytes; want %d at %d, %d bytes", i, x.Resp.Status, x.Resp.Start, x.Resp.BodySize, resp.resp.StatusCode, resp.ts, len(resp.body))
		}
		if len(x.Resp.Body) > 0 && !bytes.Equal(x.Resp.Body, resp.body) {
			t.Errorf("exchange %d: response body differs from the file's", i)
		}
		if ce := resp.resp.Header.Get("Content-Encoding"); ce == "gzip" && (len(resp.body) < 2 || resp.body[0] != 0x1f) {
			t.Errorf("exchange %d: the file's gzip body is not gzip", i)
		}
	}
	// Three requests on one keep-alive connection.
	perConn := map[int64]int{}
	for _, x := range xs {
		perConn[x.Conn.ID]++
	}
	if slices.Max(slices.Collect(mapsValues(perConn))) < 3 {
		t.Errorf("no connection with 3 exchanges: %v", perConn)
	}

	gz, err := os.ReadFile(filepath.Join(fixtures, "curl.gor.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zxs, _, err := readAll(t, gz)
	if err != nil || len(zxs) != len(xs) {
		t.Fatalf("curl.gor.gz: %d exchanges (%v), want %d", len(zxs), err, len(xs))
	}
	for i := range xs {
		if zxs[i].Req.Target != xs[i].Req.Target || zxs[i].Req.Start != xs[i].Req.Start {
			t.Errorf("curl.gor.gz exchange %d: %s, want %s", i, zxs[i].Req.Target, xs[i].Req.Target)
		}
	}
}

func mapsValues(m map[int64]int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

const sep = "\n🐵🙈🙉\n"

func pl(meta, msg string) string { return meta + "\n" + msg + sep }

// Payload files written by hand for what the fixture has not: GoReplay's
// rules on types, IDs and order.
func TestPayloads(t *testing.T) {
	get := "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
	tests := []struct {
		name    string
		file    string
		targets []string // requests in order, with "+" when answered
		check   func(t *testing.T, xs []observed.Exchange, st Stats)
	}{
		{"response first", pl("2 aa 200 5", ok) + pl("1 aa 100 0", get), []string{"/a+"},
			func(t *testing.T, xs []observed.Exchange, st Stats) {
				if x := xs[0]; x.Req.Start != 100 || x.Resp.Start != 200 || x.Resp.End != 205 || string(x.Resp.Body) != "{}" {
					t.Errorf("%+v %+v", x.Req, x.Resp)
				}
			}},
		{"replayed response is not the answer", pl("1 aa 100 0", get) + pl("3 aa 300 1", ok), []string{"/a"},
			func(t *testing.T, xs []observed.Exchange, st Stats) {
				if st.Replayed != 1 {
					t.Errorf("%+v", st)
				}
			}},
		{"order by request time", pl("1 bb 5000000000 0", "GET /late HTTP/1.1\r\n\r\n") + pl("1 aa 4000000000 0", get) + pl("2 aa 4100000000 0", ok),
			[]string{"/a+", "/late"}, nil},
		{"orphan and duplicate", pl("2 cc 1 0", ok) + pl("1 aa 100 0", get) + pl("1 aa 150 0", "GET /b HTTP/1.1\r\n\r\n") + pl("2 aa 160 0", ok),
			[]string{"/a", "/b+"},
			func(t *testing.T, xs []observed.Exchange, st Stats) {
				if st.Orphans != 1 || st.Duplicates != 1 {
					t.Errorf("%+v", st)
				}
			}},
		{"chunked, old meta without latency", pl("1 aa 100", "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") +
			pl("2 aa 200", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"), []string{"/up+"},
			func(t *testing.T, xs []observed.Exchange, st Stats) {
				if x := xs[0]; string(x.Req.Body) != "abcde" || x.Resp.BodySize != 2 || x.Conn.Client != "" {
					t.Errorf("%q %d %+v", x.Req.Body, x.Resp.BodySize, x.Conn)
				}
			}},
		{"not HTTP, no meta", pl("1 aa 100 0", "hello") + "1 bb\n" + sep + pl("1 cc 100 0", get), []string{"/a"},
			func(t *testing.T, xs []observed.Exchange, st Stats) {
				if st.Unparsed != 1 || st.Malformed != 1 {
					t.Errorf("%+v", st)
				}
			}},
		{"cut short", pl("1 aa 100 0", get) + "1 bb 200 0\nGET /b HTTP/1.1\r\nHo", []string{"/a"},
			func(t *testing.T, xs []observed.Exchange, st Stats) {
				if !st.Truncated || st.Unparsed != 1 {
					t.Errorf("%+v", st)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xs, st, err := readAll(t, []byte(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range xs {
				s := x.Req.Target
				if x.Resp != nil {
					s += "+"
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tt.targets) {
				t.Fatalf("exchanges %v, want %v (stats %+v)", got, tt.targets, st)
			}
			if tt.check != nil {
				tt.check(t, xs, st)
			}
		})
	}
}

func TestNotGoReplay(t *testing.T) {
	for _, b := range []string{"{\"log\": {}}", "GET / HTTP/1.1\r\n", "\x1f\x8bnot gzip", "x"} {
		if _, err := NewReader(strings.NewReader(b), Options{}); !errors.Is(err, ErrNotGor) {
			t.Errorf("%q: %v, want ErrNotGor", b, err)
		}
	}
	// An empty file is a GoReplay file with nothing in it.
	if xs, _, err := readAll(t, nil); err != nil || len(xs) != 0 {
		t.Errorf("empty: %d, %v", len(xs), err)
	}
}

func FuzzGor(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(fixtures, "curl.gor")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(pl("2 aa 200 5", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}") + pl("1 aa 100 0", "GET /a HTTP/1.1\r\n\r\n") + pl("3 aa 1 1", "x")))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b), Options{MaxBody: 16, MaxRespBody: 16})
		if err != nil {
			return
		}
		for range 100000 {
			x, err := r.Next()
			if err != nil {
				return
			}
			if x.Req == nil || x.Conn == nil || len(x.Req.Body) > 16 || (x.Resp != nil && len(x.Resp.Body) > 16) {
				t.Fatalf("bad exchange %+v", x)
			}
		}
		t.Fatal("no end")
	})
}

// GoReplay's own replay of curl.gor (scripts/make-import-fixtures.sh) has
// the replay's answers (type 3) beside the recorded ones (type 2): the
// exchanges are curl.gor's, with the recorded answers.
func TestReplayedAnswersAreLeftOut(t *testing.T) {
	plain, err := os.ReadFile(filepath.Join(fixtures, "curl.gor"))
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := os.ReadFile(filepath.Join(fixtures, "replayed.gor"))
	if err != nil {
		t.Fatal(err)
	}
	type3 := 0
	for _, ps := range readPayloads(t, replayed) {
		for _, p := range ps {
			if p.typ == "3" {
				type3++
			}
		}
	}
	want, _, err := readAll(t, plain)
	if err != nil {
		t.Fatal(err)
	}
	got, st, err := readAll(t, replayed)
	if err != nil {
		t.Fatal(err)
	}
	if st.Replayed != int64(type3) || type3 == 0 || len(got) != len(want) {
		t.Fatalf("%d exchanges, %d replayed answers left out; want %d and %d", len(got), st.Replayed, len(want), type3)
	}
	for i := range got {
		status := func(x observed.Exchange) int {
			if x.Resp == nil {
				return 0
			}
			return x.Resp.Status
		}
		if got[i].Req.Target != want[i].Req.Target || status(got[i]) != status(want[i]) {
			t.Errorf("exchange %d: %s %d, want %s %d", i, got[i].Req.Target, status(got[i]), want[i].Req.Target, status(want[i]))
		}
	}
}
