package replay

import (
	"context"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replaykit/replaykit/analyze"
	"github.com/replaykit/replaykit/internal/grpcfixture"
	"github.com/replaykit/replaykit/record"
	"github.com/replaykit/replaykit/results"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// recordFixture records a capture of testdata/h2 into a trace and reads
// its rows back.
func recordFixture(t *testing.T, name string) (string, []trace.Exchange) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "trace.parquet")
	if _, err := record.FromPcap(context.Background(), "../testdata/h2/"+name+".pcap", record.Config{Out: out, MaxBody: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	rows, err := tracefile.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, rows
}

// h2cProbe is a client that speaks h2c by prior knowledge only.
func h2cProbe() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}

// curl's requests to nginx's http2 listener (testdata/h2/nginx-curl.pcap),
// replayed as recorded against nginx: every request goes over h2c, as
// nginx's log says, with the recorded method, path and status; --http1
// sends the same over HTTP/1.1.
func TestReplayH2CAgainstNginx(t *testing.T) {
	t.Parallel()
	traceFile, recorded := recordFixture(t, "nginx-curl")
	www := t.TempDir()
	for _, r := range recorded {
		// The files nginx served, at their recorded sizes.
		if path, _, _ := strings.Cut(r.Path, "?"); r.Status == 200 && r.Method == "GET" && !strings.HasPrefix(path, "/api/") {
			if err := os.WriteFile(filepath.Join(www, filepath.Base(path)), []byte(strings.Repeat("x", int(r.RespSize))), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	url, _ := startNginxWith(t, "http2", fmt.Sprintf(`root %s; location /api/ { return 201 '{"id":7}'; }`, www), h2cProbe())
	want := map[string]int{}
	for _, r := range recorded {
		want[fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status)]++
	}
	for _, tc := range []struct {
		name, protocol, proto string
	}{{"as recorded", ProtocolRecorded, "HTTP/2.0"}, {"--http1", ProtocolHTTP1, "HTTP/1.1"}} {
		t.Run(tc.name, func(t *testing.T) {
			target := url
			if tc.protocol == ProtocolHTTP1 {
				// The same files from an HTTP/1.1 listener.
				target = startNginx1(t, www)
			}
			_, rows := runRecorded(t, Config{Traces: []string{traceFile}, Host: target, Speed: 1000, Seed: 1, Protocol: tc.protocol, NoCompare: true})
			got := map[string]int{}
			for _, r := range rows {
				if r.Proto != tc.proto || r.Error != "" || r.GRPCStatus != results.NoGRPCStatus {
					t.Errorf("%s %s: proto %q, error %q, grpc_status %d", r.Method, r.URL, r.Proto, r.Error, r.GRPCStatus)
				}
				path := strings.TrimPrefix(r.URL, target)
				got[fmt.Sprintf("%s %s %d", r.Method, path, r.Status)]++
			}
			if !maps.Equal(got, want) {
				t.Errorf("replayed %v\nrecorded %v", got, want)
			}
		})
	}
}

// startNginx1 serves www over HTTP/1.1 as nginx-curl's nginx did
// (/api/ answered 201), and returns its URL.
func startNginx1(t *testing.T, www string) string {
	url, _ := startNginxWith(t, "", fmt.Sprintf(`root %s; location /api/ { return 201 '{"id":7}'; }`, www), nil)
	return url
}

// Python's grpcio client's calls (unary, server, client and
// bidirectional streaming, errors in a trailers-only answer and after
// messages), replayed against the same grpcio server: each call over
// HTTP/2 with its messages as recorded, each answer's grpc-status and
// message the recorded ones, its size too; analyze counts the two
// non-zero statuses as failures and names them.
func TestReplayGRPCAgainstGrpcio(t *testing.T) {
	t.Parallel()
	traceFile, recorded := recordFixture(t, "grpc-python")
	url := "http://127.0.0.1:" + grpcfixture.Start(t)
	sum, rows := runRecorded(t, Config{Traces: []string{traceFile}, Host: url, Speed: 1000, Seed: 1, NoCompare: true})
	if len(rows) != len(recorded) || len(rows) != 17 {
		t.Fatalf("%d rows, %d recorded, want 17", len(rows), len(recorded))
	}
	type call struct {
		path   string
		grpc   int32
		msg    string
		size   int64
		status int32
	}
	var want, got []call
	for _, r := range recorded {
		if r.GRPCStatus == nil {
			t.Fatalf("%s: recorded without a grpc-status", r.Path)
		}
		msg, err := neturl.PathUnescape(r.GRPCMessage)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, call{r.Path, *r.GRPCStatus, msg, r.RespSize, r.Status})
	}
	for _, r := range rows {
		if r.Proto != "HTTP/2.0" || r.Error != "" {
			t.Errorf("%s: proto %q, error %q", r.URL, r.Proto, r.Error)
		}
		got = append(got, call{strings.TrimPrefix(r.URL, url), r.GRPCStatus, r.GRPCMessage, r.RespSize, r.Status})
	}
	less := func(a, b call) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) }
	slices.SortFunc(want, less)
	slices.SortFunc(got, less)
	if !slices.Equal(got, want) {
		t.Errorf("replayed\n%v\nrecorded\n%v", got, want)
	}
	var table strings.Builder
	out, err := analyze.Run(analyze.Config{Inputs: []string{sum.Results}, Out: t.TempDir(), NoDefaults: true, Formats: []string{"csv"}, Stdout: &table})
	if err != nil {
		t.Fatal(err)
	}
	if tot := out.Report.Total; tot.Requests != 17 || tot.Failures != 2 || tot.RateLimited != 1 || tot.Unavailable != 0 {
		t.Errorf("analyze: %d requests, %d failures, %d rate limited, %d unavailable; want 17, 2, 1, 0", tot.Requests, tot.Failures, tot.RateLimited, tot.Unavailable)
	}
	i := slices.IndexFunc(out.Files, func(f string) bool { return strings.HasSuffix(f, "_failures.csv") })
	if i < 0 {
		t.Fatalf("no failures CSV among %v", out.Files)
	}
	failures, err := os.ReadFile(out.Files[i])
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"/demo.v1.Things/Fail,gRPC 5 NOT_FOUND,1", "/demo.v1.Things/LateFail,gRPC 8 RESOURCE_EXHAUSTED,1"} {
		if !strings.Contains(string(failures), w) {
			t.Errorf("the failures CSV lacks %q:\n%s", w, failures)
		}
	}
}

// HTTP/2 by prior knowledge (h2c) and over TLS by ALPN, users sharing
// connections: 20 users, 5 to a connection, make 4 connections, every
// request a stream of one; forced (--http2) on a trace recorded over
// HTTP/1.1.
func TestReplayH2SharesConnections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"h2c", false}, {"TLS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			conns, h1 := 0, 0
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.ProtoMajor != 2 {
					mu.Lock()
					h1++
					mu.Unlock()
				}
				w.Write([]byte(`{"ok":true}`))
			}))
			srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
				if s == http.StateNew {
					mu.Lock()
					conns++
					mu.Unlock()
				}
			}
			srv.Config.Protocols = new(http.Protocols)
			srv.Config.Protocols.SetHTTP1(true)
			srv.Config.Protocols.SetUnencryptedHTTP2(true)
			srv.Config.Protocols.SetHTTP2(true)
			var ca string
			if tc.tls {
				srv.EnableHTTP2 = true
				srv.StartTLS()
				ca = filepath.Join(t.TempDir(), "ca.pem")
				if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			bg := context.Background()
			sum, err := RunScenario(bg, bg, "light", Config{Traces: []string{"../testdata/sample/*.parquet"}, Host: srv.URL, CACert: ca,
				Users: 20, Ramp: time.Millisecond, Duration: time.Second, Pacing: "none", Protocol: ProtocolHTTP2, Streams: 5,
				Out: t.TempDir(), NoCompare: true, NoCorrelate: true})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := results.ReadAll(sum.Results)
			if err != nil {
				t.Fatal(err)
			}
			sent := 0
			for _, r := range rows {
				if r.Error == results.Abandoned {
					continue
				}
				sent++
				if r.Proto != "HTTP/2.0" || r.Error != "" || r.Status != 200 {
					t.Fatalf("%s: proto %q, status %d, error %q", r.URL, r.Proto, r.Status, r.Error)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if sent < 20 || conns != 4 || h1 != 0 {
				t.Errorf("%d requests sent over %d connections, %d of them over HTTP/1.1; want at least 20 over 4, none", sent, conns, h1)
			}
		})
	}
}
