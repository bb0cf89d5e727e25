package cmdline

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestParse(t *testing.T) {
	build := func() (*debug.BuildInfo, bool) { return &debug.BuildInfo{GoVersion: "go1.26.8"}, true }
	tests := []struct {
		args   []string
		code   int
		done   bool
		stdout string
		stderr []string
		parsed string // --scale and the arguments, when parsing goes on
	}{
		{[]string{"--scale", "10", "light"}, 0, false, "", nil, "10 [light]"},
		{[]string{"--scael", "10", "light"}, 2, true, "", []string{"replay: unknown flag: --scael\nrun 'replay --help' for the flags\n"}, ""},
		{[]string{"--scale=abc", "light"}, 2, true, "", []string{`replay: invalid argument "abc" for "--scale" flag`, "\nrun 'replay --help' for the flags\n"}, ""},
		{[]string{"--duration", "5", "light"}, 2, true, "", []string{`replay: invalid argument "5" for "--duration" flag: must be a duration`, "\nrun 'replay --help' for the flags\n"}, ""},
		{[]string{"--version"}, 0, true, "replay 0.1.0 (go1.26.8)\n", nil, ""},
		{[]string{"--help"}, 0, true, "", []string{"usage"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			fs := pflag.NewFlagSet("replay", pflag.ContinueOnError)
			fs.SetOutput(&stderr)
			fs.Usage = func() { stderr.WriteString("usage\n") }
			scale := fs.Int("scale", 0, "")
			fs.Duration("duration", 0, "")
			code, done := parse(fs, tt.args, &stdout, &stderr, build)
			if code != tt.code || done != tt.done || stdout.String() != tt.stdout {
				t.Errorf("code %d done %v stdout %q, want %d %v %q", code, done, stdout.String(), tt.code, tt.done, tt.stdout)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q lacks %q", stderr.String(), want)
				}
			}
			if got := fmt.Sprint(*scale, " ", fs.Args()); tt.parsed != "" && got != tt.parsed {
				t.Errorf("parsed %s, want %s", got, tt.parsed)
			}
		})
	}
}

func TestVersionLine(t *testing.T) {
	settings := func(s ...string) func() (*debug.BuildInfo, bool) {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8"}
		for i := 0; i+1 < len(s); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: s[i], Value: s[i+1]})
		}
		return func() (*debug.BuildInfo, bool) { return bi, true }
	}
	tests := []struct {
		info func() (*debug.BuildInfo, bool)
		want string
	}{
		{settings(), "analyze 0.1.0 (go1.26.8)"},
		{settings("vcs.revision", "7571bc3a1b2c3d4e5f60718293a4b5c6d7e8f901", "vcs.modified", "false"), "analyze 0.1.0 (go1.26.8, commit 7571bc3a1b2c)"},
		{settings("vcs.revision", "7571bc3a1b2c3d4e5f60718293a4b5c6d7e8f901", "vcs.modified", "true"), "analyze 0.1.0 (go1.26.8, commit 7571bc3a1b2c+dirty)"},
		{func() (*debug.BuildInfo, bool) { return nil, false }, "analyze 0.1.0"},
	}
	for _, tt := range tests {
		if got := VersionLine("analyze", tt.info); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
