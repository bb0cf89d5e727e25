// Command demoapi serves the demo API (package demoapi) on loopback: the
// target of replaykit's demo and tests.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/replaykit/replaykit/demoapi"
	"github.com/replaykit/replaykit/internal/cmdline"
	"github.com/replaykit/replaykit/internal/loopback"
)

func main() { os.Exit(run()) }

func run() int {
	fs := pflag.NewFlagSet("demoapi", pflag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address (:PORT is loopback only; 0.0.0.0:PORT for all)")
	keys := fs.String("keys", strings.Join(demoapi.DefaultKeys, ","), "accepted X-API-Key values, comma separated")
	rate := fs.Float64("rate", 50, "requests per second allowed per key or logged-in user (beyond: 429)")
	burst := fs.Int("burst", 100, "requests a key or user may send at once before the rate applies")
	slow := fs.Float64("slow", 1, "scale of the simulated latency of every endpoint")
	noDelay := fs.Bool("no-delay", false, "no simulated latency")
	seed := fs.Uint64("seed", 0, "seed of the latency draws (0: random)")
	idBase := fs.Int("id-base", 0, "first id of tasks, projects and documents, each counting up from it\n"+
		"(0: a random base in [1000, 1000000) on each start, whatever --seed, so ids recorded\n"+
		"against one run are not valid against the next)")
	breaks := fs.StringArray("break", nil, "make a route answer otherwise, for replay's comparison to find: [METHOD ]ROUTE=HOW,\n"+
		"HOW one of redirect, html, status=CODE, drop=KEY, string=KEY; e.g. 'GET /api/v1/tasks/{id}=drop=title', '*=redirect' (repeatable)")
	if code, done := cmdline.Parse(fs, os.Args[1:]); done {
		return code
	}
	if *idBase < 0 {
		fmt.Fprintln(os.Stderr, "demoapi: --id-base must be 0 (a random base) or a first id")
		return 2
	}
	cfg := demoapi.Config{Keys: strings.Split(*keys, ","), RatePerKey: *rate, Burst: *burst,
		Slow: *slow, NoDelay: *noDelay, Seed: *seed, IDBase: *idBase}
	for _, s := range *breaks {
		b, err := demoapi.ParseBreak(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "demoapi:", err)
			return 2
		}
		cfg.Breaks = append(cfg.Breaks, b)
	}
	srv := demoapi.New(cfg)
	ln, err := loopback.Listen(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demoapi: --addr", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "demoapi: listening on http://%s (ids from %d)\n", ln.Addr(), srv.IDBase())
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(shutdown)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "demoapi:", err)
		return 1
	}
	return 0
}
