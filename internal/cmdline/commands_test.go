package cmdline

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every command, built as users build it, reports a bad flag and answers
// --version the same way.
func TestCommands(t *testing.T) {
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin+"/", "github.com/replaykit/replaykit/cmd/...").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	type test struct {
		command string
		args    []string
		code    int
		stdout  string // a regular expression
		stderr  []string
	}
	tests := []test{
		{"replay", []string{"--scael", "10", "light"}, 2, "^$", []string{"replay: unknown flag: --scael\n"}},
		{"replay", []string{"--scale=abc", "light"}, 2, "^$", []string{`replay: invalid argument "abc" for "--scale" flag`}},
		{"replay", []string{"--duration", "5", "light"}, 2, "^$", []string{`replay: invalid argument "5" for "--duration" flag`}},
		{"record", []string{"--pcap"}, 2, "^$", []string{"record: flag needs an argument: --pcap\n"}},
		{"record", []string{"--max-exchanges", "many", "--pcap", "x.pcap"}, 2, "^$", []string{`record: invalid argument "many" for "--max-exchanges" flag`}},
		{"analyze", []string{"--windw", "2s", "r.parquet"}, 2, "^$", []string{"analyze: unknown flag: --windw\n"}},
		{"analyze", []string{"--window", "2", "r.parquet"}, 2, "^$", []string{`analyze: invalid argument "2" for "--window" flag`}},
		{"demoapi", []string{"--rate", "fast"}, 2, "^$", []string{`demoapi: invalid argument "fast" for "--rate" flag`}},
		{"demoapi", []string{"-x"}, 2, "^$", []string{"demoapi: unknown shorthand flag: 'x' in -x\n"}},
	}
	for _, command := range []string{"record", "replay", "analyze", "demoapi"} {
		tests = append(tests, test{command, []string{"--version"}, 0, `^` + command + ` 0\.1\.0 \(go1\.[0-9.]+(, commit [0-9a-f]{12}(\+dirty)?)?\)\n$`, nil})
	}
	for _, tt := range tests {
		t.Run(tt.command+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(filepath.Join(bin, tt.command), tt.args...)
			cmd.Dir = t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !regexp.MustCompile(tt.stdout).MatchString(stdout.String()) {
				t.Errorf("exit %d, want %d; stdout %q, want %s", code, tt.code, stdout.String(), tt.stdout)
			}
			if tt.code == 2 {
				tt.stderr = append(tt.stderr, "\nrun '"+tt.command+" --help' for the flags\n")
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q lacks %q", stderr.String(), want)
				}
			}
		})
	}
}
