package record

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/tracefile"
)

// edgeGolden is what tshark says of an edge-case capture
// (scripts/tshark-edges.py): the rows record must write, and its counts.
type edgeGolden struct {
	rows                                 []string // "METHOD TARGET STATUS RESP_SIZE", sorted
	framing, short, tunnels, tunnelBytes int64
}

func readEdgeGolden(t *testing.T, name string) edgeGolden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "edges", name))
	if err != nil {
		t.Fatal(err)
	}
	var g edgeGolden
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		written := true
		for _, w := range f[4:] {
			switch {
			case w == "framing":
				g.framing++
				written = false
			case w == "short":
				g.short++
			case strings.HasPrefix(w, "tunnel="):
				n, err := strconv.ParseInt(strings.TrimPrefix(w, "tunnel="), 10, 64)
				if err != nil {
					t.Fatalf("%s: %q: %v", name, line, err)
				}
				g.tunnels++
				g.tunnelBytes += n
			}
		}
		if written {
			g.rows = append(g.rows, f[0]+" "+f[1]+" "+f[2]+" "+strings.TrimPrefix(f[3], "body="))
		}
	}
	slices.Sort(g.rows)
	return g
}

// Recording each edge-case capture (scripts/make-edge-fixtures.sh: curl,
// nginx, socat, tinyproxy and the npm package ws on loopback) writes the
// exchanges tshark finds in it and counts what it does not write as tshark
// and RFC 9112 say: answers the server cut short are kept with the bytes
// sent, Content-Length may have any number of digits, nothing inside a
// tunnel is a row, and framing errors are not losses of the capture.
func TestEdgeCaptures(t *testing.T) {
	for _, name := range []string{"short-body", "cl-zeros", "cl-zeros-resp", "framing", "framing-resp", "websocket", "connect"} {
		t.Run(name, func(t *testing.T) {
			want := readEdgeGolden(t, name+".txt")
			sum, err := FromPcap(context.Background(), filepath.Join(fixtures, "edges", name+".pcap"),
				Config{Out: t.TempDir() + "/", MaxBody: 1 << 20, RedactKey: []byte("test-key")})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := tracefile.ReadAll(sum.Output)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range rows {
				got = append(got, e.Method+" "+e.Path+" "+itoa(int(e.Status))+" "+strconv.FormatInt(e.RespSize, 10))
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, want.rows) {
				t.Errorf("rows differ from tshark's\n%s", diffLines(want.rows, got))
			}
			h := sum.Capture.HTTP
			if h.FramingErrors != want.framing || h.ShortBodies != want.short || h.Tunnels != want.tunnels || h.TunnelBytes != want.tunnelBytes {
				t.Errorf("framing %d short %d tunnels %d (%d bytes), tshark: %d %d %d (%d bytes)",
					h.FramingErrors, h.ShortBodies, h.Tunnels, h.TunnelBytes, want.framing, want.short, want.tunnels, want.tunnelBytes)
			}
			// Nothing here was lost by the capture, or is not HTTP.
			if h.Incomplete != 0 || h.Orphans != 0 || h.Gaps != 0 || h.Resyncs != 0 || h.SkippedBytes != 0 {
				t.Errorf("losses counted in a whole capture: %+v", h)
			}
			if sum.Written != int64(len(rows)) || h.Exchanges+h.Unanswered != sum.Written {
				t.Errorf("summary says %d written (%d+%d), file has %d", sum.Written, h.Exchanges, h.Unanswered, len(rows))
			}
			var out strings.Builder
			sum.Print(&out)
			for _, line := range []struct {
				n    int64
				text string
			}{{h.FramingErrors, "framing      "}, {h.ShortBodies, "short        "}, {h.Tunnels, "tunnels      "}} {
				if (line.n > 0) != strings.Contains(out.String(), line.text) {
					t.Errorf("summary line %q with a count of %d:\n%s", line.text, line.n, out.String())
				}
			}
		})
	}
}
