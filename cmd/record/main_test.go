package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "record-cmd-test")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "record")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// recordCmd runs the command in dir: its exit code, stdout and stderr.
func recordCmd(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

// What a user finds on first use: where -o writes, a trace never
// replaced unasked, bad input exits 2 as a bad flag does, -q is quiet, a
// --port that saw nothing says so.
func TestFirstUse(t *testing.T) {
	pcap, err := filepath.Abs("../../testdata/pcap/go-curl.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	steps := []struct {
		name   string
		args   []string
		code   int
		stdout string // a part of it; "" none at all
		stderr string // a part of it; "" none at all
		files  []string
	}{
		{"-o a name without .parquet is a directory", []string{"--pcap", pcap, "-o", "outdir"}, 0, "exchanges", "", []string{"outdir/go-curl.parquet"}},
		{"a trace is not replaced unasked", []string{"--pcap", pcap, "-o", "outdir"}, 2, "", "outdir/go-curl.parquet exists: give another -o, or --force to replace it", nil},
		{"--force replaces it; -q prints nothing", []string{"--pcap", pcap, "-o", "outdir", "--force", "-q"}, 0, "", "", []string{"outdir/go-curl.parquet"}},
		{"NAME.parquet is the trace", []string{"--pcap", pcap, "-o", "t.parquet", "-q"}, 0, "", "", []string{"t.parquet"}},
		{"-o a file that is not a directory", []string{"--pcap", pcap, "-o", "t.parquet/x/"}, 2, "", "create output directory", nil},
		{"a missing capture is bad input", []string{"--pcap", "missing.pcap"}, 2, "", "no such file or directory", nil},
		{"a file that is no capture is bad input", []string{"--pcap", "t.parquet"}, 2, "", "not a pcap or pcapng file", nil},
		{"--force is for --pcap", []string{"--iface", "lo", "--force"}, 2, "", "--force is for --pcap", nil},
		{"a --port that saw nothing says so", []string{"--pcap", pcap, "-o", "p/", "--port", "9999", "-q"}, 0, "", "no packet to or from --port 9999 was seen", []string{"p/go-curl.parquet"}},
	}
	for _, s := range steps {
		code, stdout, stderr := recordCmd(t, dir, s.args...)
		if code != s.code || (s.stdout == "") != (stdout == "") || !strings.Contains(stdout, s.stdout) ||
			(s.stderr == "") != (stderr == "") || !strings.Contains(stderr, s.stderr) {
			t.Errorf("%s: record %s: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)",
				s.name, strings.Join(s.args, " "), code, s.code, stdout, s.stdout, stderr, s.stderr)
		}
		for _, f := range s.files {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s: %v", s.name, err)
			}
		}
	}
}

// record --har and --gor: exit 0 with a trace, 2 for a file that is
// missing or not of its format, for a trace already there without
// --force, and for flags that do not go with them.
func TestImportExitCodes(t *testing.T) {
	dir := t.TempDir()
	har, _ := filepath.Abs("../../testdata/har/chromium-demoapi.har")
	gor, _ := filepath.Abs("../../testdata/gor/curl.gor")
	hosts, _ := filepath.Abs("../../testdata/har/chromium-hosts.har")
	tests := []struct {
		args   []string
		code   int
		out    string // a trace that must be written
		stderr string // a part of it
	}{
		{[]string{"--har", har, "-o", "h.parquet"}, 0, "h.parquet", ""},
		{[]string{"--har", har, "-o", "h.parquet"}, 2, "", "--force"},
		{[]string{"--har", har, "--force", "-o", "h.parquet"}, 0, "h.parquet", ""},
		{[]string{"--gor", gor, "-q", "-o", "out/"}, 0, "out/curl.parquet", ""},
		{[]string{"--gor", gor + ".gz", "-q", "-o", "z.parquet"}, 0, "z.parquet", ""},
		{[]string{"--har", filepath.Join(dir, "missing.har")}, 2, "", "no such file"},
		{[]string{"--gor", har}, 2, "", "not a GoReplay file"},
		{[]string{"--har", gor}, 2, "", "not a HAR file"},
		{[]string{"--har", har, "--port", "80", "-o", "p80.parquet"}, 0, "p80.parquet", "no entry of the HAR went to --port 80"},
		{[]string{"--har", har, "--port", "18190", "-q", "-o", "p.parquet"}, 0, "p.parquet", ""},
		{[]string{"--gor", gor, "--port", "80"}, 2, "", "a GoReplay file does not say which port"},
		{[]string{"--proxy", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--port", "80"}, 2, "", "--port is for captures and HAR files"},
		{[]string{"--har", hosts, "-q", "--only-host", "api.example.com", "-o", "none.parquet"}, 0, "none.parquet",
			"no exchange's Host matched --only-host api.example.com; the traffic went to app.example.test:18193 (4), static.cdn.example.test:18194 (2), cdn.example.test:18194 (1), stats.example.test:18195 (1)"},
		{[]string{"--har", hosts, "-q", "--only-host", "app.example.test", "-o", "app.parquet"}, 0, "app.parquet", ""},
		{[]string{"--har", hosts, "--only-host", "http://app.example.test/"}, 2, "", "--only-host \"http://app.example.test/\": want a host"},
		{[]string{"--har", har, "--rotate", "1m"}, 2, "", "--rotate"},
		{[]string{"--har", har, "--gor", gor}, 2, "", ""},
	}
	for _, tt := range tests {
		code, _, stderr := recordCmd(t, dir, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("record %v: exit %d, stderr %q; want %d, %q", tt.args, code, stderr, tt.code, tt.stderr)
		}
		if tt.out != "" {
			if _, err := os.Stat(filepath.Join(dir, tt.out)); err != nil {
				t.Errorf("record %v: %v", tt.args, err)
			}
		}
	}
}
