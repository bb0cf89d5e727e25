package record

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Print writes the end-of-recording summary.
func (s *Summary) Print(w io.Writer) {
	c := s.Capture
	if s.InputFormat == "live" || s.InputFormat == "proxy" || s.TLS != nil {
		fmt.Fprintf(w, "record: %s -> %s\n", s.Input, s.Output)
	} else {
		fmt.Fprintf(w, "record: %s (%s, %s) -> %s\n", s.Input, s.InputFormat, bytesIEC(s.InputSize), s.Output)
	}
	if s.Stopped != "" {
		fmt.Fprintf(w, "  stopped      %s\n", s.Stopped)
	}
	if s.Truncated {
		fmt.Fprintf(w, "  input        ends in the middle of a packet (capture cut short): read up to there\n")
	}
	if s.Damaged != nil {
		fmt.Fprintf(w, "  input        damaged %v: the rest of the file was not read\n", s.Damaged)
	}
	if k := s.Kernel; k != nil {
		fmt.Fprintf(w, "  kernel       %d packets passed the filter, %d dropped (ring full), %d ring freezes\n", k.Packets, k.Drops, k.QueueFreezes)
	}
	switch {
	case s.Import != nil:
		s.printImport(w)
	case s.TLS != nil:
		s.printTLS(w)
	case s.InputFormat != "proxy":
		s.printPackets(w)
	default:
		fmt.Fprintf(w, "  connections  %d\n", c.Connections)
		fmt.Fprintf(w, "  exchanges    %d written", s.Written)
		s.printLeftOut(w)
		if s.NotWritten > 0 {
			fmt.Fprintf(w, ", %d forwarded but not recorded (the trace could not be written)", s.NotWritten)
		}
		fmt.Fprintln(w)
		s.printProxy(w)
	}
	fmt.Fprintf(w, "  bodies       %s in requests, %s in responses\n", bytesIEC(s.ReqBytes), bytesIEC(s.RespBytes))
	if l := s.Links; l.Links > 0 || l.Continued > 0 || l.Unscanned > 0 {
		fmt.Fprintf(w, "  links        %d in %d requests (%d to made-up values), %d sessions continue a login's; %d answers not looked into\n",
			l.Links, l.Linked, l.Fresh, l.Continued, l.Unscanned)
	}
	perRow := "-"
	if s.Written > 0 {
		perRow = fmt.Sprintf("%d B/exchange", s.OutputBytes/s.Written)
	}
	fmt.Fprintf(w, "  trace        %s, %s\n", bytesIEC(s.OutputBytes), perRow)
	for _, f := range s.Files {
		fmt.Fprintf(w, "  file         %s\n", f)
	}
	secs := s.Elapsed.Seconds()
	if secs > 0 {
		if s.InputFormat == "proxy" || s.Import != nil || s.TLS != nil {
			fmt.Fprintf(w, "  time         %.2fs (%.0f exchanges/s)\n", secs, float64(s.Written)/secs)
		} else {
			fmt.Fprintf(w, "  time         %.2fs (%.0f packets/s, %.0f exchanges/s)\n", secs, float64(c.Packets)/secs, float64(s.Written)/secs)
		}
	}
}

// printPackets writes the packet, TCP and HTTP parsing lines of a capture.
func (s *Summary) printPackets(w io.Writer) {
	c := s.Capture
	fmt.Fprintf(w, "  packets      %d (%s on the wire): %d TCP (%d bare ACKs), %d other, %d malformed, %d IP fragments, %d cut by snaplen\n",
		c.Packets, bytesIEC(c.Bytes), c.TCP, c.BareACKs, c.Other, c.Malformed, c.Fragments, c.Truncated)
	if d := c.Decapsulated; d.Total() > 0 {
		fmt.Fprintf(w, "  decapsulated %d tunnel headers taken off: %d VXLAN, %d GENEVE, %d GRE, %d ERSPAN\n", d.Total(), d.VXLAN, d.GENEVE, d.GRE, d.ERSPAN)
	}
	fmt.Fprintf(w, "  connections  %d\n", c.Connections)
	s.printParsed(w, "bytes lost in capture", "TCP streams")
}

// printParsed writes the HTTP/1.x and HTTP/2 parsing lines of a capture
// or a --tls recording: lost says how bytes are lost, streams what
// their gaps are in.
func (s *Summary) printParsed(w io.Writer, lost, streams string) {
	h, h2 := s.Capture.HTTP, s.Capture.HTTP2
	fmt.Fprintf(w, "  exchanges    %d written: %d with a response, %d unanswered", s.Written, h.Exchanges+h2.Exchanges, h.Unanswered+h2.Unanswered)
	s.printLeftOut(w)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  incomplete   %d exchanges dropped (%s), %d responses without their request\n", h.Incomplete+h2.Incomplete, lost, h.Orphans+h2.Orphans)
	fmt.Fprintf(w, "  lost         %d gaps in %s (%s known lost), %d resyncs, %s of non-HTTP bytes skipped\n",
		h.Gaps+h2.Gaps, streams, bytesIEC(h.LostBytes+h2.LostBytes), h.Resyncs, bytesIEC(h.SkippedBytes))
	if h.ProxyHeaders > 0 || h.ProxyBad > 0 {
		fmt.Fprintf(w, "  proxy        %d PROXY protocol headers stripped (client = the address they carry), %d bad ones (their address not used)\n",
			h.ProxyHeaders, h.ProxyBad)
	}
	if h.FramingErrors > 0 {
		fmt.Fprintf(w, "  framing      %d exchanges dropped (a body length that cannot be read: bad or conflicting Content-Length, chunk size, unknown transfer coding), %s after them not parsed\n",
			h.FramingErrors, bytesIEC(h.FramingBytes))
	}
	if h.ShortBodies > 0 {
		fmt.Fprintf(w, "  short        %d responses ended by the server before their length (written, with the bytes sent)\n", h.ShortBodies)
	}
	if h2.Connections > 0 {
		fmt.Fprintf(w, "  http2        %d connections (%d by Upgrade: h2c), %d streams: %d exchanges, %d unanswered, %d gRPC calls among them, %d answers the server cut short (written, with the bytes sent); %d reset, %d pushes (not exchanges), %d over the header or stream limits\n",
			h2.Connections, h2.Upgrades, h2.Requests, h2.Exchanges, h2.Unanswered, h2.GRPC, h2.Short, h2.Resets, h2.Pushed, h2.TooLarge)
	}
	if h2.NoStart > 0 || h2.HPACKErrors > 0 || h2.Desyncs > 0 {
		fmt.Fprintf(w, "  http2 lost   %d connections whose start was not captured (%s, not decodable: HPACK state), %d sides whose header decoding stopped (a hole in a header block), %d whose frames were lost (%s after it not parsed)\n",
			h2.NoStart, bytesIEC(h2.NoStartBytes), h2.HPACKErrors, h2.Desyncs, bytesIEC(h2.SkippedBytes))
	}
	if h.Tunnels > 0 {
		fmt.Fprintf(w, "  tunnels      %d connections switched protocols (101, CONNECT): the switch is one exchange, %s inside not parsed\n", h.Tunnels, bytesIEC(h.TunnelBytes))
	}
}

// printLeftOut ends an exchanges line with what --sample and --only-host
// left out, when they did.
func (s *Summary) printLeftOut(w io.Writer) {
	if s.OtherHosts > 0 {
		fmt.Fprintf(w, ", %d to other hosts left out by --only-host", s.OtherHosts)
	}
	if s.Unsampled > 0 {
		fmt.Fprintf(w, ", %d left out by --sample", s.Unsampled)
	}
}

// OtherHostList names the hosts --only-host left out, most exchanges
// first: "cdn.example.net (40), fonts.example.org (3)".
func (s *Summary) OtherHostList(n int) string {
	hosts := slices.Collect(maps.Keys(s.OtherHostNames))
	slices.SortFunc(hosts, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.OtherHostNames[b], s.OtherHostNames[a]), cmp.Compare(a, b))
	})
	var parts []string
	for _, h := range hosts[:min(n, len(hosts))] {
		name := h
		if name == "" {
			name = "(no Host)"
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", name, s.OtherHostNames[h]))
	}
	if len(hosts) > n {
		parts = append(parts, "...")
	}
	return strings.Join(parts, ", ")
}

// ProgressLine is the one-line live progress.
func (s *Summary) ProgressLine() string {
	var b strings.Builder
	if s.InputSize > 0 {
		fmt.Fprintf(&b, "%3.0f%% ", 100*float64(s.InputRead)/float64(s.InputSize))
	} else {
		fmt.Fprintf(&b, "%s ", s.Elapsed.Truncate(time.Second))
	}
	if s.Import != nil {
		fmt.Fprintf(&b, "%d %s, %d exchanges", s.Import.Read, s.Import.Unit, s.Written)
		return b.String()
	}
	fmt.Fprintf(&b, "%d packets (%.0f/s), %d exchanges, %d incomplete, %d gaps",
		s.Capture.Packets, float64(s.Capture.Packets)/max(s.Elapsed.Seconds(), 1e-9),
		s.Written, s.Capture.HTTP.Incomplete+s.Capture.HTTP2.Incomplete, s.Capture.HTTP.Gaps+s.Capture.HTTP2.Gaps)
	if s.Kernel != nil {
		fmt.Fprintf(&b, ", %d kernel drops", s.Kernel.Drops)
	}
	if s.InputSize == 0 {
		fmt.Fprintf(&b, ", %s written", bytesIEC(s.OutputBytes))
	}
	return b.String()
}

func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// printProxy writes what the proxy saw besides plain exchanges, each
// line only when it has something.
func (s *Summary) printProxy(w io.Writer) {
	p := s.Proxy
	if p.Own > 0 {
		fmt.Fprintf(w, "  own answers  %d: the upstream did not answer, the proxy did (502; rows marked proxy_answer, which replay takes for no answer)\n", p.Own)
	}
	if p.Cut > 0 || p.GaveUp > 0 {
		fmt.Fprintf(w, "  cut short    %d answers (the client left, or the upstream cut its body: the bytes passed on are recorded), %d requests whose client left before any answer (recorded without one)\n", p.Cut, p.GaveUp)
	}
	if p.Upgrades > 0 {
		fmt.Fprintf(w, "  upgrades     %d protocol switches (101: WebSocket and others): the handshake recorded, the tunnel after it not\n", p.Upgrades)
	}
	if p.InFlight > 0 {
		fmt.Fprintf(w, "  not recorded %d requests still unanswered when the proxy stopped\n", p.InFlight)
	}
}
