package record

import (
	"bytes"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Recording the HAProxy -> nginx leg of connections that start with a
// PROXY protocol header (scripts/make-proxyproto-fixtures.sh: send-proxy,
// send-proxy-v2, curl --haproxy-protocol) keeps every request, the first of
// each connection too, and its client is the one the header carries: what
// tshark's PROXY and HTTP dissectors say (testdata/proxyproto/NAME.txt).
func TestPROXYProtocolCaptures(t *testing.T) {
	for _, name := range []string{"v1", "v2"} {
		t.Run(name, func(t *testing.T) {
			key, err := ParseSessionKey("client-ip")
			if err != nil {
				t.Fatal(err)
			}
			sum, rows := recordFixture(t, filepath.Join("..", "proxyproto", name+".pcap"), Config{SessionKey: key})
			got := make([]string, len(rows))
			for i, e := range rows {
				got[i] = e.Client + " " + e.Method + " " + e.Path + " " + itoa(int(e.Status))
				if want := "ip:" + clientIP(e.Client); e.Session != want {
					t.Errorf("%s %s: session %q, want %q", e.Client, e.Path, e.Session, want)
				}
			}
			slices.Sort(got)
			golden := filepath.Join("..", "proxyproto", name+".txt")
			want := readGolden(t, golden)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("rows differ from %s\n%s", golden, diffLines(want, got))
			}

			// One header per connection but the one sent without.
			conns := map[string]bool{}
			for _, w := range want {
				if !strings.Contains(w, " /api/no-header ") {
					conns[strings.Fields(w)[0]] = true
				}
			}
			h := sum.Capture.HTTP
			if h.ProxyHeaders != int64(len(conns)) || h.ProxyBad != 0 {
				t.Errorf("ProxyHeaders, ProxyBad = %d, %d; want %d, 0", h.ProxyHeaders, h.ProxyBad, len(conns))
			}
			if h.SkippedBytes != 0 || h.Resyncs != 0 || h.Incomplete != 0 {
				t.Errorf("bytes skipped or lost: %+v", h)
			}
			var b bytes.Buffer
			sum.Print(&b)
			if !strings.Contains(b.String(), "  proxy        ") {
				t.Errorf("the summary does not count the headers:\n%s", b.String())
			}
		})
	}
}

// A capture with no PROXY header has no proxy line in its summary.
func TestSummaryWithoutPROXYHeaders(t *testing.T) {
	sum, _ := recordFixture(t, "go-curl.pcap", Config{})
	var b bytes.Buffer
	sum.Print(&b)
	if strings.Contains(b.String(), "  proxy        ") {
		t.Errorf("summary speaks of PROXY headers:\n%s", b.String())
	}
}
