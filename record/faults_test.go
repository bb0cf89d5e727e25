package record

import (
	"bytes"
	crand "crypto/rand"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/syncbuf"
)

// smallDisk mounts a tmpfs of size bytes that the test owns: a disk that
// fills up. Root only.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): the full-disk test needs root", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func checkNoTmp(t *testing.T, dir string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if len(left) > 0 {
		t.Errorf("half-written files left: %v", left)
	}
}

// A full disk under record --proxy: it says so at once, goes on
// forwarding (the application's clients come first), exits 1 at the end,
// and every trace file on disk is complete and readable.
func TestProxyOnAFullDisk(t *testing.T) {
	needRoot(t)
	disk := smallDisk(t, 512<<10)
	srv := testServer(t)
	bin, err := recordBinary()
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--proxy", addr, "--upstream", srv.URL, "-o", disk+"/", "--flush", "200ms", "-q")
	var stderr, stdout syncbuf.Buffer // read while the process writes
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	body := make([]byte, 48<<10)
	client := &http.Client{Timeout: 5 * time.Second}
	var sent, failed int
	warnedAt := -1
	for i := 0; i < 400 && (warnedAt < 0 || i < warnedAt+20); i++ {
		crand.Read(body) // incompressible: the disk fills
		resp, err := client.Post("http://"+addr+fmt.Sprintf("/upload/%d", i), "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			if i == 0 {
				time.Sleep(200 * time.Millisecond) // not listening yet
				continue
			}
			failed++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sent++
		if warnedAt < 0 && strings.Contains(stderr.String(), "no space left on device") {
			warnedAt = i
		}
		// About 3 uploads per 200ms part: parts close before the disk fills.
		time.Sleep(60 * time.Millisecond)
	}
	if warnedAt < 0 {
		t.Fatalf("no warning after %d uploads; stderr:\n%s", sent, stderr.String())
	}
	if failed > 0 {
		t.Errorf("%d requests failed through the proxy: forwarding must go on", failed)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err = waitTimeout(cmd, 10*time.Second)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want 1", err)
	}
	if !strings.Contains(stderr.String(), "recording stopped, forwarding goes on") || !strings.Contains(stdout.String(), "forwarded but not recorded") {
		t.Errorf("stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())
	}
	rows := readTraces(t, disk) // fails on any unreadable .parquet
	checkNoTmp(t, disk)
	if len(rows) == 0 {
		t.Error("nothing readable was kept")
	}
	var written, notWritten int
	if i := strings.Index(stdout.String(), "exchanges "); i >= 0 {
		fmt.Sscanf(strings.TrimSpace(stdout.String()[i+len("exchanges "):]), "%d written, %d forwarded", &written, &notWritten)
	}
	if written != len(rows) || written+notWritten != sent {
		t.Errorf("summary: %d written, %d not; on disk %d rows of %d sent", written, notWritten, len(rows), sent)
	}
	t.Logf("%d uploads through the proxy, disk full at upload %d, %d rows kept on disk; record said:\n%s%s", sent, warnedAt, len(rows), stderr.String(), stdout.String())
}

// A full disk under live capture stops the recording with a clear error;
// the files written before stay readable.
func TestLiveOnAFullDisk(t *testing.T) {
	needRoot(t)
	disk := smallDisk(t, 512<<10)
	srv := testServer(t)
	cmd := startRecord(t, serverPort(t, srv), disk, 200*time.Millisecond)
	body := make([]byte, 48<<10)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
loop:
	for i := range 400 {
		select {
		case err = <-done:
			break loop
		default:
		}
		crand.Read(body)
		resp, perr := http.Post(fmt.Sprintf("%s/upload/%d", srv.URL, i), "application/octet-stream", bytes.NewReader(body))
		if perr == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err == nil {
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("record went on after the disk was full")
		}
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want 1", err)
	}
	readTraces(t, disk)
	checkNoTmp(t, disk)
}

// kill -9 at random moments, several times (seeded, bounded): whatever
// moment, every file left is readable and nothing older than the flush
// interval is lost.
func TestKill9AtRandomMoments(t *testing.T) {
	needRoot(t)
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 4 {
		// From 2.5 s: time for requests older than flush + margin.
		at := 2500*time.Millisecond + time.Duration(rng.Int64N(int64(1500*time.Millisecond)))
		t.Run(fmt.Sprintf("round %d at %v", round, at.Round(time.Millisecond)), func(t *testing.T) {
			killNineAfter(t, at, 500*time.Millisecond)
		})
	}
}
