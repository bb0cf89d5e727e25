package record

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/replaykit/replaykit/internal/grpcfixture"
	"github.com/replaykit/replaykit/trace"
)

// grpcRow is what a gRPC exchange's row must say, wherever it was
// recorded.
func grpcRow(e trace.Exchange) string {
	st := "none"
	if e.GRPCStatus != nil {
		st = strconv.Itoa(int(*e.GRPCStatus))
	}
	ct, _ := trace.HeaderValue(e.ReqHeaders, "content-type")
	te, _ := trace.HeaderValue(e.ReqHeaders, "te")
	return fmt.Sprintf("%s %s %s %d grpc-status %s %q msgs %d/%d sizes %d/%d body %q ct %s te %s trailers %d",
		e.Proto, e.Method, e.Path, e.Status, st, e.GRPCMessage, e.ReqMessages, e.RespMessages, e.ReqSize, e.RespSize, e.ReqBody, ct, te, len(e.RespTrailers))
}

// Python grpcio's client, through the proxy to grpcio's server, h2c both
// ways: each call is the row the capture of the same programs made
// (testdata/h2/grpc-python.pcap): proto, method, path, status,
// grpc-status and message, message counts, sizes, bodies.
func TestProxyRecordsGRPC(t *testing.T) {
	port := grpcfixture.Start(t)
	_, rows := runProxyWith(t, "http://127.0.0.1:"+port, Config{MaxBody: 1 << 20}, func(addr string) {
		_, p, _ := net.SplitHostPort(addr)
		if out, err := exec.Command(grpcfixture.Python, grpcfixture.Script(), "call", p).CombinedOutput(); err != nil {
			t.Fatalf("the gRPC client through the proxy: %v: %s", err, out)
		}
	})
	_, captured := recordH2(t, "grpc-python")
	var got, want []string
	for _, e := range rows {
		got = append(got, grpcRow(e))
	}
	for _, e := range captured {
		want = append(want, grpcRow(e))
	}
	slices.Sort(got)
	slices.Sort(want)
	t.Logf("rows:\n%s", strings.Join(got, "\n"))
	if !slices.Equal(got, want) {
		t.Errorf("through the proxy:\n%s\ncaptured:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Clients speaking HTTP/1.1, h2c by prior knowledge, and over TLS h2 and
// http/1.1 by ALPN (curl, a client nobody here wrote): each is answered,
// forwarded as it came (HTTP/2 as h2c to the upstream, unless
// --upstream-http1) and recorded with its protocol, the :authority as its
// host and lower-case header names for HTTP/2.
func TestProxySpeaksHTTP2(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed (scripts/test.sh installs it as root)")
	}
	var mu sync.Mutex
	upstreamSaw := map[string]string{} // path: protocol
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstreamSaw[r.URL.Path] = r.Proto
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	up.Config.Protocols = new(http.Protocols)
	up.Config.Protocols.SetHTTP1(true)
	up.Config.Protocols.SetUnencryptedHTTP2(true)
	up.Start()
	defer up.Close()
	cert, key := selfSigned(t, t.TempDir())
	for _, tc := range []struct {
		name         string
		cfg          Config
		scheme       string
		curlArgs     map[string][]string // path: curl's flags
		wantUpstream map[string]string
	}{
		{"clear text", Config{}, "http", map[string][]string{"/h1": {"--http1.1"}, "/h2c": {"--http2-prior-knowledge"}},
			map[string]string{"/h1": "HTTP/1.1", "/h2c": "HTTP/2.0"}},
		// A browser's HTTP/2 over TLS goes on as HTTP/1.1, as a TLS
		// terminator's does; a gRPC call over TLS goes on as h2c.
		{"TLS", Config{TLSCert: cert, TLSKey: key}, "https", map[string][]string{"/h1": {"--http1.1"}, "/h2": {"--http2"},
			"/h2grpc": {"--http2", "-H", "Content-Type: application/grpc"}},
			map[string]string{"/h1": "HTTP/1.1", "/h2": "HTTP/1.1", "/h2grpc": "HTTP/2.0"}},
		{"--upstream-http1", Config{UpstreamHTTP1: true}, "http", map[string][]string{"/h2c": {"--http2-prior-knowledge"}},
			map[string]string{"/h2c": "HTTP/1.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clear(upstreamSaw)
			_, rows := runProxyWith(t, up.URL, tc.cfg, func(addr string) {
				for path, flags := range tc.curlArgs {
					args := append([]string{"-sS", "--fail", "-k", "-H", "X-Trace: " + path, "-d", "{}"}, flags...)
					out, err := exec.Command(curl, append(args, tc.scheme+"://"+addr+path)...).CombinedOutput()
					if err != nil || string(out) != `{"ok":true}` {
						t.Errorf("curl %v %s: %v %q", flags, path, err, out)
					}
				}
			})
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(upstreamSaw) != fmt.Sprint(tc.wantUpstream) {
				t.Errorf("the upstream saw %v, want %v", upstreamSaw, tc.wantUpstream)
			}
			if len(rows) != len(tc.curlArgs) {
				t.Fatalf("%d rows, want %d", len(rows), len(tc.curlArgs))
			}
			for _, e := range rows {
				proto := "HTTP/1.1"
				if strings.HasPrefix(e.Path, "/h2") {
					proto = "HTTP/2.0"
				}
				_, hasHost := trace.HeaderValue(e.ReqHeaders, "Host")
				xt, _ := trace.HeaderValue(e.ReqHeaders, "X-Trace")
				lower := !slices.ContainsFunc(e.ReqHeaders, func(h trace.Header) bool { return h.Name != strings.ToLower(h.Name) })
				if e.Proto != proto || e.Status != 200 || e.RespSize != 11 || e.ReqSize != 2 || xt != e.Path || !strings.HasPrefix(e.Host, "127.0.0.1:") ||
					hasHost == (proto == "HTTP/2.0") || lower != (proto == "HTTP/2.0") {
					t.Errorf("row %s %s %s: status %d, sizes %d/%d, host %q, headers %v", e.Proto, e.Method, e.Path, e.Status, e.ReqSize, e.RespSize, e.Host, e.ReqHeaders)
				}
			}
		})
	}
	// A certificate that cannot be read stops the proxy before it listens.
	_, err = Proxy(context.Background(), "127.0.0.1:0", up.URL, Config{Out: t.TempDir() + "/", TLSCert: cert, TLSKey: cert})
	if err == nil || !IsBadInput(err) || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("a key that is a certificate: %v", err)
	}
}

// Streams of one HTTP/2 connection are served at once: 20 at a time on
// one h2c connection are 20 rows of that connection and its client.
func TestProxyConcurrentStreams(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	}))
	up.Config.Protocols = new(http.Protocols)
	up.Config.Protocols.SetHTTP1(true)
	up.Config.Protocols.SetUnencryptedHTTP2(true)
	up.Start()
	defer up.Close()
	_, rows := runProxyWith(t, up.URL, Config{MaxBody: 1 << 10}, func(addr string) {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		defer tr.CloseIdleConnections()
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				req, _ := http.NewRequest("POST", fmt.Sprintf("http://%s/s/%d", addr, i), strings.NewReader(strings.Repeat("b", 100*i)))
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		wg.Wait()
	})
	if len(rows) != 20 {
		t.Fatalf("%d rows, want 20", len(rows))
	}
	for _, e := range rows {
		var i int
		fmt.Sscanf(e.Path, "/s/%d", &i)
		if e.Conn != rows[0].Conn || e.Client != rows[0].Client || !strings.HasPrefix(e.Client, "127.0.0.1:") || e.ReqSize != int64(100*i) || e.Status != 200 || e.Proto != "HTTP/2.0" {
			t.Errorf("row %s: conn %d client %q, %d bytes, status %d, %s", e.Path, e.Conn, e.Client, e.ReqSize, e.Status, e.Proto)
		}
	}
}
