package record

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/signature"
	"github.com/replaykit/replaykit/trace"
	"github.com/replaykit/replaykit/tracefile"
)

// The answers' signatures of a Locust recording have the JSON shapes
// tshark's HTTP dissector and Python's json module see in the same
// capture (testdata/signature/locust-shapes.txt, scripts/tshark-shapes.py),
// and the trace holds the key that hashed their values.
func TestSignaturesMatchTshark(t *testing.T) {
	out := filepath.Join(t.TempDir(), "locust.parquet")
	if _, err := FromPcap(context.Background(), "../testdata/pcap/locust-timeline.pcap", Config{Out: out, MaxBody: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	rows, err := tracefile.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rows {
		media := e.RespSig.Type
		if media == "" {
			media = "-"
		}
		line := []string{e.Path, strconv.Itoa(int(e.Status)), media}
		if e.RespSig.Kind != "json" {
			t.Errorf("%s %s: kind %q, want json", e.Method, e.Path, e.RespSig.Kind)
		}
		for _, l := range e.RespSig.Leaves {
			line = append(line, l.Path+":"+l.Types)
		}
		got = append(got, strings.Join(line, " "))
	}
	slices.Sort(got)
	b, err := os.ReadFile("../testdata/signature/locust-shapes.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d answers, tshark saw %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("answer %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	f, err := tracefile.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	k, _ := f.Meta(trace.MetaSignatureKey)
	if _, err := signature.ParseKey(k); err != nil {
		t.Errorf("the trace's signature key %q: %v", k, err)
	}
}

// With --no-signatures nothing of the answers is kept, nor any key.
func TestNoSignatures(t *testing.T) {
	out := filepath.Join(t.TempDir(), "locust.parquet")
	if _, err := FromPcap(context.Background(), "../testdata/pcap/locust-timeline.pcap", Config{Out: out, MaxBody: 1 << 20, NoSignatures: true}); err != nil {
		t.Fatal(err)
	}
	rows, err := tracefile.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rows {
		if e.RespSig.Kind != "" || len(e.RespSig.Leaves) > 0 {
			t.Fatalf("%s: signature %+v with --no-signatures", e.Path, e.RespSig)
		}
	}
	f, err := tracefile.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if k, ok := f.Meta(trace.MetaSignatureKey); ok {
		t.Errorf("signature key %q with --no-signatures", k)
	}
}
