// Command record turns HTTP traffic into replaykit trace files: from a
// network interface, a capture file, or as a recording reverse proxy.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/replaykit/replaykit/capture"
	"github.com/replaykit/replaykit/capture/tlsprobe"
	"github.com/replaykit/replaykit/internal/cmdline"
	"github.com/replaykit/replaykit/record"
)

const usage = `usage:
  record --iface IFACE [--port N]... [--filter EXPR] [-o traces/] [flags]   live capture (root or CAP_NET_RAW)
  record --pcap FILE [-o traces/NAME.parquet] [flags]                       a pcap or pcapng file
  record --har FILE [-o traces/NAME.parquet] [flags]                        a HAR file (devtools, mitmproxy, Charles, Postman)
  record --gor FILE [-o traces/NAME.parquet] [flags]                        a GoReplay file (--output-file)
  record --proxy LISTEN --upstream URL [-o traces/] [flags]                 a recording reverse proxy
  record --tls LIBRARY|pid:N|exe:PATH [--port N]... [-o traces/] [flags]    HTTPS plaintext from OpenSSL (eBPF; root or CAP_BPF+CAP_PERFMON)

Writes every HTTP/1.x exchange (and a HAR's HTTP/2 and /3 ones) to
parquet traces. SIGINT or SIGTERM stops and closes the files.

flags:
`

func main() { os.Exit(run()) }

func run() int {
	fs := pflag.NewFlagSet("record", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
	iface := fs.String("iface", "", "network interface to capture on (AF_PACKET; no libpcap)")
	pcap := fs.String("pcap", "", "capture file to read (pcap or pcapng)")
	harFile := fs.String("har", "", "HAR file to read (HAR 1.2: browser devtools, mitmproxy, Charles, Postman)")
	gorFile := fs.String("gor", "", "GoReplay file to read (--output-file, .gor or .gor.gz; responses with --input-raw-track-response)")
	proxy := fs.String("proxy", "", "address to listen on as a recording reverse proxy (:8080 is loopback only; 0.0.0.0:8080 for all)")
	tlsTargets := fs.StringArray("tls", nil, "record the plaintext of HTTPS from OpenSSL with eBPF uprobes: a libssl path (every process that maps it), pid:N, or exe:PATH (repeatable)")
	upstream := fs.String("upstream", "", "with --proxy: where to forward (http://127.0.0.1:8000)")
	out := fs.StringP("out", "o", "traces/", "directory to write into (with --pcap, --har, --gor also a .parquet file name)")
	ports := fs.UintSlice("port", nil, "server port to record (repeatable; default: every TCP port)")
	onlyHosts := fs.StringArray("only-host", nil, "keep only exchanges to this host, by their Host header: api.example.com (any port), api.example.com:8080, *.example.com (repeatable; a browser's HAR holds its CDNs and analytics too)")
	filter := fs.String("filter", "", "with --iface: a tcpdump filter expression, compiled by the tcpdump on PATH (replaces --port)")
	duration := fs.Duration("duration", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	maxExchanges := fs.Int64("max-exchanges", 0, "stop after this many exchanges (0: no limit)")
	rotate := fs.String("rotate", "", "start a new trace file after a time (15m) or a size (256MB)")
	flush := fs.Duration("flush", 5*time.Second, "live and proxy: close the file being written this often; a kill -9 loses at most this much")
	sessionKey := fs.String("session-key", "auto", "what makes a session: header:NAME, cookie:NAME, client-ip, or auto (credential header, then session cookie, then client IP)")
	redactHeaders := fs.StringArray("redact-header", nil, "header to redact beside Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-API-Key, X-Auth-Token (repeatable)")
	maxBody := fs.String("max-body", "1MiB", "request body bytes kept per exchange")
	sample := fs.Float64("sample", 1, "fraction of sessions to keep, chosen by session hash (0-1]")
	noSignatures := fs.Bool("no-signatures", false, "record no answer signatures: replay then compares only statuses with the recording")
	proxyProtocol := fs.Bool("proxy-protocol", false, "with --proxy: every connection begins with a PROXY protocol header (v1 or v2, from a load balancer such as AWS NLB or HAProxy's send-proxy); the client is the address it carries, and a connection without one is refused")
	tlsCert := fs.String("tls-cert", "", "with --proxy: terminate TLS with this PEM certificate (with --tls-key), offering HTTP/2 and HTTP/1.1 by ALPN")
	tlsKey := fs.String("tls-key", "", "with --proxy: the PEM private key of --tls-cert")
	upstreamHTTP1 := fs.Bool("upstream-http1", false, "with --proxy: speak HTTP/1.1 to the upstream even to clients that spoke HTTP/2 (an http:// upstream without h2c)")
	force := fs.Bool("force", false, "with --pcap, --har, --gor: replace a trace file already at the output path")
	quiet := fs.BoolP("quiet", "q", false, "no progress line, and no summary unless the recording failed (warnings and errors still go to stderr)")
	if code, done := cmdline.Parse(fs, os.Args[1:]); done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "record: "+format+"\n", a...)
		return 2
	}
	modes := 0
	for _, m := range []string{*iface, *pcap, *harFile, *gorFile, *proxy, strings.Join(*tlsTargets, ",")} {
		if m != "" {
			modes++
		}
	}
	if modes != 1 || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if (*proxy == "") != (*upstream == "") {
		return fail("--proxy and --upstream go together")
	}
	if *filter != "" && (*iface == "" || len(*ports) > 0) {
		return fail("--filter is for --iface, and replaces --port")
	}
	file := *pcap != "" || *harFile != "" || *gorFile != ""
	if *proxyProtocol && *proxy == "" {
		return fail("--proxy-protocol is for --proxy (captures strip PROXY headers by themselves)")
	}
	if (*tlsCert != "" || *tlsKey != "" || *upstreamHTTP1) && *proxy == "" {
		return fail("--tls-cert, --tls-key and --upstream-http1 are for --proxy")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return fail("--tls-cert and --tls-key go together")
	}
	if *force && !file {
		return fail("--force is for --pcap, --har and --gor (live capture and --proxy write new files, named by their start)")
	}
	if file && (*duration > 0 || *rotate != "") {
		return fail("--duration and --rotate are for live capture and --proxy")
	}
	if *proxy != "" && len(*ports) > 0 {
		return fail("--port is for captures and HAR files: the proxy records what it forwards to --upstream (--only-host keeps some of its hosts)")
	}
	if *gorFile != "" && len(*ports) > 0 {
		return fail("--port: a GoReplay file does not say which port a request went to (GoReplay chose them when recording): use --only-host")
	}
	var tlsSrc record.TLSSource
	for _, s := range *tlsTargets {
		t, err := tlsprobe.ParseTarget(s)
		if err != nil {
			return fail("%v", err)
		}
		tlsSrc.Targets = append(tlsSrc.Targets, t)
	}
	cfg := record.Config{Out: *out, RedactHeaders: *redactHeaders, MaxExchanges: *maxExchanges,
		Sample: *sample, Duration: *duration, Flush: *flush, NoSignatures: *noSignatures, Force: *force, ProxyProtocol: *proxyProtocol,
		TLSCert: *tlsCert, TLSKey: *tlsKey, UpstreamHTTP1: *upstreamHTTP1}
	var err error
	if cfg.OnlyHosts, err = record.ParseHostFilter(*onlyHosts); err != nil {
		return fail("%v", err)
	}
	if cfg.SessionKey, err = record.ParseSessionKey(*sessionKey); err != nil {
		return fail("%v", err)
	}
	n, err := record.ParseSize(*maxBody)
	if err != nil || n > 1<<30 {
		return fail("--max-body: %v (at most 1GiB)", err)
	}
	cfg.MaxBody = int(n)
	if *sample <= 0 || *sample > 1 {
		return fail("--sample must be in (0, 1]")
	}
	if *flush < 100*time.Millisecond {
		return fail("--flush must be at least 100ms")
	}
	if *rotate != "" {
		if d, err := time.ParseDuration(*rotate); err == nil && d > 0 {
			cfg.RotateEvery = d
		} else if n, err := record.ParseSize(*rotate); err == nil && n > 0 {
			cfg.RotateBytes = n
		} else {
			return fail("--rotate %q: want a duration (15m) or a size (256MB)", *rotate)
		}
	}
	for _, p := range *ports {
		if p == 0 || p > 65535 {
			return fail("--port %d is not a TCP port", p)
		}
		cfg.Ports = append(cfg.Ports, uint16(p))
	}
	// A fixed key makes session and redaction hashes comparable across
	// recordings; without it each recording gets a random one.
	if k := os.Getenv("REPLAYKIT_REDACT_KEY"); k != "" {
		cfg.RedactKey = []byte(k)
	}
	if !*quiet && term.IsTerminal(int(os.Stderr.Fd())) {
		cfg.Progress = func(s *record.Summary) { fmt.Fprintf(os.Stderr, "\r\033[K%s", s.ProgressLine()) }
	}

	// Even with -q: a recording that goes on without writing must say so.
	cfg.Warn = func(msg string) {
		if cfg.Progress != nil {
			fmt.Fprint(os.Stderr, "\r\033[K") // clear the progress line
		}
		fmt.Fprintln(os.Stderr, "record:", msg)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var sum *record.Summary
	switch {
	case *pcap != "":
		sum, err = record.FromPcap(ctx, *pcap, cfg)
	case *harFile != "":
		sum, err = record.FromHAR(ctx, *harFile, cfg)
	case *gorFile != "":
		sum, err = record.FromGor(ctx, *gorFile, cfg)
	case *proxy != "":
		if !strings.HasSuffix(cfg.Out, "/") && !strings.HasSuffix(cfg.Out, ".parquet") {
			cfg.Out += "/"
		}
		if !*quiet {
			cfg.Ready = func(addr string) {
				speaks := "HTTP/1.x and h2c"
				if *tlsCert != "" {
					speaks = "TLS (ALPN h2, http/1.1)"
				}
				fmt.Fprintf(os.Stderr, "record: proxy listening on %s (%s), forwarding to %s; SIGINT or SIGTERM stops\n", addr, speaks, *upstream)
			}
		}
		sum, err = record.Proxy(ctx, *proxy, *upstream, cfg)
	case len(tlsSrc.Targets) > 0:
		if !*quiet {
			cfg.Ready = func(attached string) {
				fmt.Fprintf(os.Stderr, "record: reading TLS plaintext from %s; SIGINT or SIGTERM stops\n", attached)
			}
		}
		sum, err = record.TLS(ctx, tlsSrc, cfg)
	default:
		src := record.LiveSource{Iface: *iface}
		if *filter != "" {
			if src.Filter, err = capture.CompileFilter(*iface, *filter); err != nil {
				return fail("%v", err)
			}
		}
		if !*quiet {
			cfg.Ready = func(string) {
				fmt.Fprintf(os.Stderr, "record: capturing on %s; SIGINT or SIGTERM stops\n", *iface)
			}
		}
		sum, err = record.Live(ctx, src, cfg)
	}
	if cfg.Progress != nil {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
	if sum != nil && (!*quiet || err != nil) { // what was not recorded matters then
		sum.Print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		if record.IsBadInput(err) { // a capture of a link type not read too
			return 2 // bad input, as for bad flags: nothing was recorded
		}
		return 1
	}
	if sum != nil && cfg.OnlyHosts.Any() && sum.Written == 0 && sum.OtherHosts > 0 {
		fmt.Fprintf(os.Stderr, "record: no exchange's Host matched --only-host %s; the traffic went to %s\n",
			strings.Join(*onlyHosts, ", "), sum.OtherHostList(5))
	}
	if sum != nil && *harFile != "" && len(cfg.Ports) > 0 && sum.Written == 0 && sum.OtherHosts == 0 {
		fmt.Fprintf(os.Stderr, "record: no entry of the HAR went to --port %s\n", portList(cfg.Ports))
	}
	if sum != nil && *proxy == "" && *harFile == "" && len(cfg.Ports) > 0 && sum.Capture.TCP == 0 {
		// Not an error (the capture may hold none by chance), but never silent.
		fmt.Fprintf(os.Stderr, "record: no packet to or from --port %s was seen: check the port (a service behind a load balancer listens on another)\n", portList(cfg.Ports))
	}
	return 0
}

// portList is "80, 8080".
func portList(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}
