package record

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/replaykit/replaykit/capture"
	"github.com/replaykit/replaykit/tracefile"
)

// Recording HTTP mirrored inside a tunnel yields the exchanges tshark
// finds in it (scripts/make-tunnel-fixtures.sh: curl and nginx in two
// network namespaces, captured on the underlay), with the inner addresses
// only, whether --port names the inner port or no port is given.
func TestTunnelledCapturesMatchTshark(t *testing.T) {
	tests := []struct {
		name string
		want capture.Decapsulated // tunnel headers per packet, of the kinds expected
	}{
		{"vxlan", capture.Decapsulated{VXLAN: 1}},
		{"vxlan6", capture.Decapsulated{VXLAN: 1}},
		{"geneve", capture.Decapsulated{GENEVE: 1}},
		{"geneve-ip", capture.Decapsulated{GENEVE: 1}},
		{"gretap", capture.Decapsulated{GRE: 1}},
		{"gre", capture.Decapsulated{GRE: 1}},
		{"erspan-type1", capture.Decapsulated{ERSPAN: 1}},
		{"erspan1", capture.Decapsulated{ERSPAN: 1}},
		{"erspan2", capture.Decapsulated{ERSPAN: 1}},
		{"gre-vxlan", capture.Decapsulated{VXLAN: 1, GRE: 1}},
	}
	dir := filepath.Join(fixtures, "tunnels")
	for _, tt := range tests {
		for _, ports := range [][]uint16{{80}, nil} {
			t.Run(tt.name, func(t *testing.T) {
				golden, err := os.ReadFile(filepath.Join(dir, tt.name+".txt"))
				if err != nil {
					t.Fatal(err)
				}
				want := strings.Split(strings.TrimSpace(string(golden)), "\n")
				sum, err := FromPcap(context.Background(), filepath.Join(dir, tt.name+".pcap"),
					Config{Out: t.TempDir() + "/", Ports: ports, MaxBody: 1 << 20, RedactKey: []byte("k")})
				if err != nil {
					t.Fatal(err)
				}
				rows, err := tracefile.ReadAll(sum.Output)
				if err != nil {
					t.Fatal(err)
				}
				if got := exchangeLines(rows); !reflect.DeepEqual(got, want) {
					t.Errorf("ports %v: exchanges differ from tshark's\n%s", ports, diffLines(want, got))
				}
				for _, e := range rows {
					if e.Session != "ip:10.78.0.1" { // the client inside the tunnel, not 10.77.0.1 or fd77::1
						t.Errorf("%s %s: session %q, want the inner client ip:10.78.0.1", e.Method, e.Path, e.Session)
					}
				}
				c := sum.Capture
				if c.Malformed != 0 || c.HTTP.Incomplete != 0 || c.HTTP.Gaps != 0 {
					t.Errorf("malformed %d, incomplete %d, gaps %d: want none", c.Malformed, c.HTTP.Incomplete, c.HTTP.Gaps)
				}
				// Every tunnelled packet had the headers expected, each
				// kind as often as the others it came with.
				d, n := c.Decapsulated, c.Decapsulated.Total()
				per := n / (tt.want.Total())
				if per == 0 || d.VXLAN != tt.want.VXLAN*per || d.GENEVE != tt.want.GENEVE*per || d.GRE != tt.want.GRE*per || d.ERSPAN != tt.want.ERSPAN*per {
					t.Errorf("decapsulated %+v, want multiples of %+v", d, tt.want)
				}
				if c.TCP == 0 || c.TCP > per {
					t.Errorf("%d TCP segments out of %d tunnelled packets", c.TCP, per)
				}
			})
		}
	}
}

// A capture of a link type record cannot read (802.11 here: editcap -T
// over go-curl's frames) is refused, saying which, and no trace is written:
// not an empty trace with every packet counted as "other".
func TestUnreadableLinkTypeIsRefused(t *testing.T) {
	out := t.TempDir() + "/wifi.parquet"
	sum, err := FromPcap(context.Background(), filepath.Join(fixtures, "tunnels", "link-ieee-802-11.pcap"), Config{Out: out})
	if !errors.Is(err, capture.ErrLinkType) || sum != nil || !strings.Contains(err.Error(), "802.11") {
		t.Fatalf("got %v, %v; want a link type error naming 802.11", sum, err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a trace was written: %v", err)
	}
}
