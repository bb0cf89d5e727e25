//go:build linux && amd64

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Without root (or CAP_BPF and CAP_PERFMON) --tls fails at once, saying
// what it needs: run as nobody.
func TestTLSWithoutPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs record as another user: needs root, as CI has")
	}
	// t.TempDir's parent is closed to other users.
	dir, err := os.MkdirTemp("", "record-tls-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	nobodyBin := filepath.Join(dir, "record")
	var b []byte
	b, err = os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(nobodyBin, b, 0o755)
	cmd := exec.Command(nobodyBin, "--tls", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "-o", filepath.Join(dir, "out")+"/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("record --tls as nobody: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "--tls needs root, or CAP_BPF and CAP_PERFMON") {
		t.Errorf("record --tls as nobody says %q", out)
	}
}
