// Package cmdline parses the command lines of replaykit's commands (record,
// replay, analyze, demoapi) alike: a bad flag is reported with a pointer to
// --help and exit code 2, and every command answers --version.
package cmdline

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// Version is replaykit's release, printed by every command's --version.
const Version = "0.1.0"

// Parse parses args with fs, which must be ContinueOnError, after adding
// --version to it. When the command should stop here, done is true and code
// is its exit code: 0 after --help (fs.Usage has run) or --version (printed
// on stdout), 2 (bad input, as for every command) after a bad flag, whose
// error is printed on stderr with a pointer to --help.
func Parse(fs *pflag.FlagSet, args []string) (code int, done bool) {
	return parse(fs, args, os.Stdout, os.Stderr, debug.ReadBuildInfo)
}

func parse(fs *pflag.FlagSet, args []string, stdout, stderr io.Writer, info func() (*debug.BuildInfo, bool)) (int, bool) {
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0, true
		}
		fmt.Fprintf(stderr, "%s: %v\nrun '%s --help' for the flags\n", fs.Name(), err, fs.Name())
		return 2, true
	}
	if *version {
		fmt.Fprintln(stdout, VersionLine(fs.Name(), info))
		return 0, true
	}
	return 0, false
}

// VersionLine says which build of command this is: "replay 0.1.0 (go1.26.8,
// commit 7571bc3a1b2c)", the commit when the binary was built from a git
// checkout (with "+dirty" if it had changes), from info (usually
// debug.ReadBuildInfo).
func VersionLine(command string, info func() (*debug.BuildInfo, bool)) string {
	bi, ok := info()
	if !ok {
		return fmt.Sprintf("%s %s", command, Version)
	}
	var commit, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if commit == "" {
		return fmt.Sprintf("%s %s (%s)", command, Version, bi.GoVersion)
	}
	return fmt.Sprintf("%s %s (%s, commit %.12s%s)", command, Version, bi.GoVersion, commit, dirty)
}
