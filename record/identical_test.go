package record

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var updateTraceHashes = flag.Bool("update-trace-hashes", false, "rewrite testdata/golden/traces.sha256 from this build's traces")

// traceHashes holds the SHA-256 of the trace of every capture under
// testdata, recorded with a fixed key. They were written by the recorder of
// commit 2667546, before record was made faster (a second goroutine, a
// reused keyed hash), with one change: the exchanges reassembly's flushes
// emit pass on in the order of their connections (capture.flushOrder),
// where that commit's order depended on a map's (two captures,
// nginx-ab*.pcap, gave one of two traces at random; the hash is of one
// of them). The speed work must not change a byte of what record writes,
// row order, redacted values and answer signatures included. Rewrite
// them with -update-trace-hashes only for a change of the format that is
// meant. They were rewritten once so: when traces gained the HTTP/2 and
// gRPC columns (resp_trailers, grpc_status, grpc_message, req_msgs,
// resp_msgs), after every row of every HTTP/1.x capture here was checked
// to read back the same from the new recorder as from the one before.
const traceHashes = "../testdata/golden/traces.sha256"

// Recording every capture of testdata gives the same trace, byte for
// byte, as the recorder did before the speed work.
func TestTracesAreByteForByteUnchanged(t *testing.T) {
	var captures []string
	err := filepath.WalkDir("../testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".pcap" || ext == ".pcapng") {
			captures = append(captures, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(captures)
	got := map[string]string{}
	for _, c := range captures {
		out := filepath.Join(t.TempDir(), "t.parquet")
		if _, err := FromPcap(context.Background(), c, Config{Out: out, MaxBody: 1 << 20, RedactKey: []byte("the golden traces' key")}); err != nil {
			if IsBadInput(err) {
				continue // a capture made to be refused
			}
			t.Fatalf("record %s: %v", c, err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		got[strings.TrimPrefix(c, "../testdata/")] = hex.EncodeToString(sum[:])
	}
	if *updateTraceHashes {
		var sb strings.Builder
		for _, c := range captures {
			if h, ok := got[strings.TrimPrefix(c, "../testdata/")]; ok {
				fmt.Fprintf(&sb, "%s  %s\n", h, strings.TrimPrefix(c, "../testdata/"))
			}
		}
		if err := os.WriteFile(traceHashes, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(traceHashes)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		h, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("%s: bad line %q", traceHashes, sc.Text())
		}
		want[name] = h
	}
	if len(want) < 20 {
		t.Fatalf("%s holds %d traces: want one per capture of testdata", traceHashes, len(want))
	}
	for name, h := range want {
		switch g, ok := got[name]; {
		case !ok:
			t.Errorf("%s: no trace recorded (the capture is gone, or was refused)", name)
		case g != h:
			t.Errorf("%s: the trace differs from the one recorded before (sha256 %s, want %s)", name, g, h)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: a capture without a hash in %s: add it with -update-trace-hashes from a build before the change", name, traceHashes)
		}
	}
}
