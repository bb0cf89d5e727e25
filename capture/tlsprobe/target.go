package tlsprobe

import (
	"fmt"
	"strconv"
	"strings"
)

// Target says which processes to trace.
type Target struct {
	// Lib is a TLS library (libssl.so.3, libssl.so.1.1), or an executable
	// that links OpenSSL statically or is a Go program with its symbols
	// (crypto/tls): every process that maps it is traced.
	Lib string
	// PID traces one process (the libssl it maps, or its executable).
	PID int
	// Exe traces the processes running this executable: the libssl they
	// map (found in /proc/PID/maps of a running one), or the executable.
	Exe string
}

// ParseTarget reads the --tls forms: LIBRARY-PATH, pid:N or exe:PATH.
func ParseTarget(s string) (Target, error) {
	switch {
	case strings.HasPrefix(s, "pid:"):
		n, err := strconv.Atoi(s[len("pid:"):])
		if err != nil || n <= 0 {
			return Target{}, fmt.Errorf("--tls %s: want pid:N with N a process id", s)
		}
		return Target{PID: n}, nil
	case strings.HasPrefix(s, "exe:"):
		if !strings.HasPrefix(s[len("exe:"):], "/") {
			return Target{}, fmt.Errorf("--tls %s: want exe:/absolute/path", s)
		}
		return Target{Exe: s[len("exe:"):]}, nil
	case s == "":
		return Target{}, fmt.Errorf("--tls: give a library path, pid:N or exe:PATH")
	}
	return Target{Lib: s}, nil
}

func (t Target) String() string {
	switch {
	case t.PID > 0:
		return "pid:" + strconv.Itoa(t.PID)
	case t.Exe != "":
		return "exe:" + t.Exe
	}
	return t.Lib
}

// Stats count what the probe saw and what it could not.
type Stats struct {
	// Chunks and Bytes count the plaintext events read and their bytes.
	Chunks, Bytes int64
	// LostEvents and LostBytes count the events the ring buffer had no
	// room for; TooLong the bytes of calls beyond 512 KiB, not copied.
	LostEvents, LostBytes, TooLong int64
	// Busy counts calls not followed: the table of calls in progress was
	// full (16,384 threads inside SSL calls at once).
	Busy int64
	// OtherProcesses counts chunks of processes not named by exe:.
	OtherProcesses int64
	// Malformed counts ring buffer records too short for their header
	// or length, skipped.
	Malformed int64
	// Attached lists what the probes are on ("libssl.so.3 (pid 12)");
	// Failures what could not be attached, and why.
	Attached, Failures []string
}
