package main

import (
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/replay"
	"github.com/replaykit/replaykit/results"
)

// The demo API over TLS, and its certificate as a PEM file for --ca-cert.
func tlsDemo(t *testing.T) (*httptest.Server, string) {
	api := httptest.NewUnstartedServer(demoapi.New(demoapi.Config{NoDelay: true}))
	api.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes refused on purpose
	api.StartTLS()
	t.Cleanup(api.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return api, ca
}

func TestTLSTarget(t *testing.T) {
	api, ca := tlsDemo(t)
	key := []string{"API_KEY=demo-key-carol"}
	tests := []struct {
		name   string
		args   []string
		code   int
		output string
	}{
		{"check with --ca-cert", []string{"--ca-cert", ca, "--check-only"}, 0, "api key: accepted"},
		{"check unverified", []string{"--check-only"}, 1, "FAIL " + api.URL + " is not reachable: " + replay.LabelTLSUnknownAuthority},
		{"check says what to pass", []string{"--check-only"}, 1, "--ca-cert FILE"},
		{"check --insecure", []string{"--insecure", "--check-only"}, 0, "WARN --insecure"},
		{"run with a missing --ca-cert", []string{"--ca-cert", filepath.Join(t.TempDir(), "none.pem"), "light"}, 2, "--ca-cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, output := replayCmd(t, key, append([]string{sample, "--host", api.URL}, tt.args...)...)
			if code != tt.code || !strings.Contains(output, tt.output) {
				t.Errorf("exit %d, want %d; output:\n%s", code, tt.code, output)
			}
		})
	}
}

// A run against a TLS target whose certificate is not trusted fails every
// request with one label: one row in the failures report.
func TestTLSRunOneLabel(t *testing.T) {
	api, _ := tlsDemo(t)
	out := t.TempDir()
	code, output := replayCmd(t, []string{"API_KEY=demo-key-carol"}, sample, "--host", api.URL, "--duration", "1s", "--scale", "2",
		"--pacing", "high", "--out", out, "--no-default-thresholds", "light")
	files, _ := filepath.Glob(filepath.Join(out, "*.parquet"))
	if code == 2 || len(files) != 1 {
		t.Fatalf("exit %d, files %v\n%s", code, files, output)
	}
	rows, err := results.ReadAll(files[0])
	if err != nil || len(rows) == 0 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	for _, r := range rows {
		if r.Error != replay.LabelTLSUnknownAuthority {
			t.Fatalf("error %q, want %q", r.Error, replay.LabelTLSUnknownAuthority)
		}
	}
}

// --host's password reaches the server as Basic auth and no output, file
// or report; the report shows the host with it masked.
func TestHostPasswordNotShown(t *testing.T) {
	api, ca := tlsDemo(t)
	host := strings.Replace(api.URL, "https://", "https://ops:s3cr3t-pw@", 1)
	out := t.TempDir()
	_, check := replayCmd(t, []string{"API_KEY=demo-key-carol"}, sample, "--host", host, "--ca-cert", ca, "--check-only")
	code, output := replayCmd(t, []string{"API_KEY=demo-key-carol"}, sample, "--host", host, "--ca-cert", ca, "--duration", "1s", "--scale", "2",
		"--pacing", "high", "--out", out, "--no-default-thresholds", "--threshold", "p99<10s", "--format", "html,json,csv", "light")
	if code != 0 || !strings.Contains(check, "ops:xxxxx@") {
		t.Fatalf("exit %d\n%s\n%s", code, check, output)
	}
	shown := check + output
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	masked := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		shown += string(b)
		masked = masked || (strings.HasSuffix(f, ".html") && strings.Contains(string(b), "ops:xxxxx@"))
	}
	if strings.Contains(shown, "s3cr3t") || !masked {
		t.Errorf("password shown, or the report's host not masked (%v)", masked)
	}
}
