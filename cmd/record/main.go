// Command record turns captured HTTP traffic into replaykit trace files.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/replaykit/replaykit/record"
)

const usage = `usage: record --pcap FILE [-o OUT] [flags]

Reads a pcap or pcapng capture (tcpdump -w) and writes every HTTP/1.x
exchange in it to a parquet trace.

flags:
`

func main() { os.Exit(run()) }

func run() int {
	fs := pflag.NewFlagSet("record", pflag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
	pcap := fs.String("pcap", "", "capture file to read (pcap or pcapng)")
	out := fs.StringP("out", "o", "traces/", "trace file, or directory to write NAME.parquet into")
	ports := fs.UintSlice("port", nil, "server port to record (repeatable; default: every TCP port)")
	sessionKey := fs.String("session-key", "auto", "what makes a session: header:NAME, cookie:NAME, client-ip, or auto (credential header, then session cookie, then client IP)")
	redactHeaders := fs.StringArray("redact-header", nil, "header to redact beside Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-API-Key, X-Auth-Token (repeatable)")
	maxBody := fs.String("max-body", "1MiB", "request body bytes kept per exchange")
	sample := fs.Float64("sample", 1, "fraction of sessions to keep, chosen by session hash (0-1]")
	maxExchanges := fs.Int64("max-exchanges", 0, "stop after this many exchanges (0: no limit)")
	quiet := fs.BoolP("quiet", "q", false, "no progress line")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *pcap == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg := record.Config{Out: *out, RedactHeaders: *redactHeaders, MaxExchanges: *maxExchanges, Sample: *sample}
	var err error
	if cfg.SessionKey, err = record.ParseSessionKey(*sessionKey); err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		return 2
	}
	n, err := record.ParseSize(*maxBody)
	if err != nil || n > 1<<30 {
		fmt.Fprintf(os.Stderr, "record: --max-body: %v (at most 1GiB)\n", err)
		return 2
	}
	cfg.MaxBody = int(n)
	if *sample <= 0 || *sample > 1 {
		fmt.Fprintln(os.Stderr, "record: --sample must be in (0, 1]")
		return 2
	}
	for _, p := range *ports {
		if p == 0 || p > 65535 {
			fmt.Fprintf(os.Stderr, "record: --port %d is not a TCP port\n", p)
			return 2
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := record.FromPcap(ctx, *pcap, cfg)
	if cfg.Progress != nil {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
	if sum != nil && err == nil {
		sum.Print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		return 1
	}
	return 0
}
