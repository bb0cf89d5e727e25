package record

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replaykit/replaykit/redact"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

const fixtures = "../testdata"

// recordFixture records testdata/pcap/NAME into a temporary trace.
func recordFixture(t *testing.T, name string, cfg Config) (*Summary, []trace.Exchange) {
	t.Helper()
	if cfg.Out == "" {
		cfg.Out = t.TempDir() + "/"
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.RedactKey == nil {
		cfg.RedactKey = []byte("test-key")
	}
	sum, err := FromPcap(context.Background(), filepath.Join(fixtures, "pcap", name), cfg)
	if err != nil {
		t.Fatalf("record %s: %v", name, err)
	}
	rows, err := tracefile.ReadAll(sum.Output)
	if err != nil {
		t.Fatal(err)
	}
	return sum, rows
}

func exchangeLines(rows []trace.Exchange) []string {
	out := make([]string, len(rows))
	for i, e := range rows {
		out[i] = e.Method + " " + e.Path + " " + itoa(int(e.Status))
	}
	slices.Sort(out)
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func readGolden(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// Recording each capture yields exactly the exchanges tshark's HTTP
// dissector finds in it (scripts/make-fixtures.sh): for damaged copies, the
// exchanges of the clean capture that the damage did not touch.
func TestFixturesMatchGolden(t *testing.T) {
	tests := []struct {
		pcap, golden string
		truncated    bool // the file ends mid-packet
		lossCounted  bool // the summary must count dropped exchanges
	}{
		{"go-curl.pcap", "go-curl.txt", false, false},
		{"go-curl.pcapng", "go-curl.pcapng.txt", false, false},
		{"nginx-ab.pcap", "nginx-ab.txt", false, false},
		{"lossy.pcap", "lossy.txt", false, false},
		{"go-curl-holes.pcap", "go-curl-holes.txt", false, true},
		{"go-curl-cut.pcap", "go-curl-cut.txt", true, true},
		{"nginx-ab-midstream.pcap", "nginx-ab-midstream.txt", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.pcap, func(t *testing.T) {
			sum, rows := recordFixture(t, tt.pcap, Config{})
			got, want := exchangeLines(rows), readGolden(t, tt.golden)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("exchanges differ from %s\n%s", tt.golden, diffLines(want, got))
			}
			if sum.Truncated != tt.truncated || sum.Damaged != nil {
				t.Errorf("truncated=%v damaged=%v, want truncated=%v", sum.Truncated, sum.Damaged, tt.truncated)
			}
			h := sum.Capture.HTTP
			if lost := h.Incomplete + h.Orphans; tt.lossCounted && lost == 0 {
				t.Errorf("damaged capture but no loss counted: %+v", h)
			}
			if sum.Written != int64(len(rows)) || h.Exchanges+h.Unanswered != sum.Written {
				t.Errorf("summary says %d written (%d+%d), file has %d", sum.Written, h.Exchanges, h.Unanswered, len(rows))
			}
		})
	}
}

func diffLines(want, got []string) string {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		count[g]--
	}
	var b strings.Builder
	for k, n := range count {
		switch {
		case n > 0:
			b.WriteString("  missing: " + k + "\n")
		case n < 0:
			b.WriteString("  extra:   " + k + "\n")
		}
	}
	return b.String()
}

// The pcapng copy gives the same rows as the pcap it was converted from.
func TestPcapngEqualsPcap(t *testing.T) {
	_, a := recordFixture(t, "go-curl.pcap", Config{})
	_, b := recordFixture(t, "go-curl.pcapng", Config{})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("pcap and pcapng traces differ")
	}
}

func find(rows []trace.Exchange, method, path string) *trace.Exchange {
	for i := range rows {
		if rows[i].Method == method && rows[i].Path == path {
			return &rows[i]
		}
	}
	return nil
}

// The details of the go-curl capture: what curl sent is what the trace says.
func TestGoCurlDetails(t *testing.T) {
	sum, rows := recordFixture(t, "go-curl.pcap", Config{})
	st, err := os.Stat(sum.Output)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("trace mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	r := redact.New([]byte("test-key"), nil)
	tests := []struct {
		method, path string
		check        func(e *trace.Exchange) string
	}{
		{"POST", "/api/tasks", func(e *trace.Exchange) string {
			if e.Session != "x-api-key:"+r.Hash("key-alice") {
				return "session " + e.Session
			}
			if v, _ := trace.HeaderValue(e.ReqHeaders, "X-API-Key"); v != redact.Prefix+r.Hash("key-alice") {
				return "X-API-Key " + v
			}
			return ""
		}},
		{"PUT", "/api/tasks/7", func(e *trace.Exchange) string {
			if e.Session != "authorization:"+r.Hash("Bearer token-bob") || e.Route != "/api/tasks/{id}" || e.Kind != trace.KindWrite {
				return "session/route/kind " + e.Session + " " + e.Route + " " + e.Kind
			}
			if string(e.ReqBody) != `{"title":"renamed"}` || e.ReqSize != 19 {
				return "body " + string(e.ReqBody)
			}
			return ""
		}},
		{"PATCH", "/api/tasks/7", func(e *trace.Exchange) string {
			if e.Session != "cookie:session:"+r.Hash("s-carol") {
				return "session " + e.Session
			}
			return ""
		}},
		{"HEAD", "/api/tasks/7", func(e *trace.Exchange) string {
			if e.Status != 200 || e.RespSize != 0 || e.Kind != trace.KindRead || e.Session != "ip:127.0.0.1" {
				return "HEAD response has a body or wrong facts"
			}
			return ""
		}},
		{"GET", "/api/documents/3f2a8c1e-1b2c-4d5e-8f90-0123456789ab", func(e *trace.Exchange) string {
			if v, _ := trace.HeaderValue(e.RespHeaders, "Content-Encoding"); v != "gzip" || e.Route != "/api/documents/{id}" {
				return "gzip response: " + v + " " + e.Route
			}
			return ""
		}},
		{"POST", "/api/upload", nil}, // checked below: three uploads share the path
		{"GET", "/api/slow", func(e *trace.Exchange) string {
			if e.TTFBNanos < int64(150*time.Millisecond) || e.DurationNanos < e.TTFBNanos {
				return "slow endpoint timing " + time.Duration(e.TTFBNanos).String()
			}
			return ""
		}},
		{"GET", "/api/tasks?page=2&sort=-created", func(e *trace.Exchange) string {
			if e.Route != "/api/tasks" {
				return "route " + e.Route
			}
			return ""
		}},
	}
	for _, tt := range tests {
		e := find(rows, tt.method, tt.path)
		if e == nil {
			t.Errorf("%s %s not recorded", tt.method, tt.path)
			continue
		}
		if tt.check != nil {
			if msg := tt.check(e); msg != "" {
				t.Errorf("%s %s: %s", tt.method, tt.path, msg)
			}
		}
	}
	var sizes []int64
	var sawGzip, sawChunked, saw10 bool
	for _, e := range rows {
		for _, h := range append(slices.Clone(e.ReqHeaders), e.RespHeaders...) {
			for _, secret := range []string{"key-alice", "token-bob", "s-carol"} {
				if strings.Contains(h.Value, secret) {
					t.Errorf("secret %q in %s header %s", secret, e.Path, h.Name)
				}
			}
		}
		if e.Proto == "HTTP/1.0" {
			saw10 = true
		}
		if e.Path != "/api/upload" {
			continue
		}
		sizes = append(sizes, e.ReqSize)
		if bytes.HasPrefix(e.ReqBody, []byte{0x1f, 0x8b}) {
			sawGzip = true // content coding kept: replayable as sent
		}
		if string(e.ReqBody) == `{"title":"chunked upload","items":[1,2,3]}` {
			sawChunked = true // transfer coding removed
		}
		if e.ReqSize == 1<<20 && (len(e.ReqBody) != 1<<20 || e.ReqBodyTruncated) {
			t.Errorf("1 MiB upload kept %d bytes, truncated=%v", len(e.ReqBody), e.ReqBodyTruncated)
		}
	}
	if !slices.Contains(sizes, 1<<20) || !sawGzip || !sawChunked || !saw10 {
		t.Errorf("uploads %v gzip=%v chunked=%v http1.0=%v", sizes, sawGzip, sawChunked, saw10)
	}
}

func TestOptions(t *testing.T) {
	t.Run("max-body truncates and flags", func(t *testing.T) {
		_, rows := recordFixture(t, "go-curl.pcap", Config{MaxBody: 100})
		for _, e := range rows {
			if len(e.ReqBody) > 100 || e.ReqBodyTruncated != (e.ReqSize > 100) {
				t.Errorf("%s: kept %d of %d, truncated=%v", e.Path, len(e.ReqBody), e.ReqSize, e.ReqBodyTruncated)
			}
		}
	})
	t.Run("max-exchanges stops", func(t *testing.T) {
		sum, rows := recordFixture(t, "nginx-ab.pcap", Config{MaxExchanges: 10})
		if len(rows) != 10 || sum.Stopped == "" {
			t.Errorf("%d rows, stopped %q", len(rows), sum.Stopped)
		}
	})
	t.Run("port filter", func(t *testing.T) {
		_, rows := recordFixture(t, "go-curl.pcap", Config{Ports: []uint16{9}})
		if len(rows) != 0 {
			t.Errorf("%d rows recorded from an unwatched port", len(rows))
		}
	})
	t.Run("sample keeps whole sessions", func(t *testing.T) {
		_, all := recordFixture(t, "go-curl.pcap", Config{})
		sum, some := recordFixture(t, "go-curl.pcap", Config{Sample: 0.5})
		per := func(rows []trace.Exchange) map[string]int {
			m := map[string]int{}
			for _, e := range rows {
				m[e.Session]++
			}
			return m
		}
		a, s := per(all), per(some)
		for k, n := range s {
			if a[k] != n {
				t.Errorf("session %s: %d of %d kept", k, n, a[k])
			}
		}
		if int64(len(some))+sum.Unsampled != int64(len(all)) {
			t.Errorf("%d kept + %d left out != %d", len(some), sum.Unsampled, len(all))
		}
	})
	t.Run("session key client-ip", func(t *testing.T) {
		k, _ := ParseSessionKey("client-ip")
		_, rows := recordFixture(t, "go-curl.pcap", Config{SessionKey: k})
		for _, e := range rows {
			if e.Session != "ip:127.0.0.1" {
				t.Errorf("session %s", e.Session)
			}
		}
	})
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"empty.pcap": nil,
		"text.pcap":  []byte("this is not a capture file at all"),
		"header-only.pcap": func() []byte {
			b, _ := os.ReadFile(filepath.Join(fixtures, "pcap", "go-curl.pcap"))
			return b[:20]
		}(),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o600)
		if _, err := FromPcap(context.Background(), p, Config{Out: dir + "/out/"}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := FromPcap(context.Background(), filepath.Join(dir, "missing.pcap"), Config{Out: dir + "/"}); err == nil {
		t.Error("missing file: no error")
	}
}

func TestParseSessionKey(t *testing.T) {
	for _, ok := range []string{"", "auto", "client-ip", "header:X-API-Key", "cookie:sid"} {
		if _, err := ParseSessionKey(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"header:", "cookie:", "ip", "header"} {
		if _, err := ParseSessionKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "1MiB": 1 << 20, "64KB": 64000, "2MB": 2e6, "1GiB": 1 << 30, "512k": 512 << 10, "0": 0} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1XB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}
