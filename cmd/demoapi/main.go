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
	rate := fs.Float64("rate", 50, "requests per second allowed per key (beyond: 429)")
	burst := fs.Int("burst", 100, "requests a key may send at once before the rate applies")
	slow := fs.Float64("slow", 1, "scale of the simulated latency of every endpoint")
	noDelay := fs.Bool("no-delay", false, "no simulated latency")
	seed := fs.Uint64("seed", 0, "seed of the latency draws (0: random)")
	if code, done := cmdline.Parse(fs, os.Args[1:]); done {
		return code
	}
	srv := demoapi.New(demoapi.Config{Keys: strings.Split(*keys, ","), RatePerKey: *rate, Burst: *burst,
		Slow: *slow, NoDelay: *noDelay, Seed: *seed})
	ln, err := loopback.Listen(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demoapi: --addr", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "demoapi: listening on http://%s\n", ln.Addr())
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
