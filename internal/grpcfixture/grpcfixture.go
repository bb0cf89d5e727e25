// Package grpcfixture runs scripts/grpc-fixture.py's gRPC server (Python's
// grpcio: a server nobody here wrote) for the tests that record and
// replay gRPC against it.
package grpcfixture

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Script is scripts/grpc-fixture.py's path.
func Script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "grpc-fixture.py")
}

// Python is the interpreter with Debian's python3-grpcio.
const Python = "/usr/bin/python3"

// Start runs the server on a free loopback port until the test ends and
// returns the port; the test skips when grpcio is not installed.
func Start(t testing.TB) string {
	t.Helper()
	if err := exec.Command(Python, "-c", "import grpc").Run(); err != nil {
		t.Skip("Python's grpcio is not installed (scripts/test.sh installs python3-grpcio as root): the gRPC tests skip")
	}
	cmd := exec.Command(Python, Script(), "serve", "0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "serving ")
	if _, perr := strconv.Atoi(port); err != nil || !ok || perr != nil {
		t.Fatalf("the gRPC server said %q (%v)", line, err)
	}
	return port
}
