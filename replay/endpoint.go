package replay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsServer serves a run's Metrics (Config.Metrics): Serve is called
// as each run starts, with the run's.
type MetricsServer interface {
	Serve(m *Metrics)
}

// MetricsEndpoint serves the Prometheus text exposition of the current
// run's Metrics at /metrics (replay --metrics ADDR). Its listener is bound
// when it is made, before any run, so that an address that cannot be used
// fails at once; it serves until Close or the end of its context. Runs
// made one after another (replay --all) are served in turn on the same
// address: each run's series carry its run label, and the last run's
// stay until the next one starts or the endpoint closes.
type MetricsEndpoint struct {
	ln      net.Listener
	srv     *http.Server
	current atomic.Pointer[http.Handler]
	served  chan struct{} // closed when the server's goroutine ends
	stop    func() bool   // undoes the context's AfterFunc
	once    sync.Once
	err     error
}

// ListenMetrics binds addr (HOST:PORT; an empty host is every interface)
// and serves /metrics on it until Close or ctx's end.
func ListenMetrics(ctx context.Context, addr string) (*MetricsEndpoint, error) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return nil, fmt.Errorf("cannot serve metrics on %q: want HOST:PORT, such as 127.0.0.1:9464 (this machine only) or :9464 (every interface, for a Prometheus elsewhere)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot serve metrics on %q: %w: choose a free port, or an address of this machine", addr, err)
	}
	e := &MetricsEndpoint{ln: ln, served: make(chan struct{})}
	e.serve(prometheus.NewRegistry()) // nothing to show before the first run
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		(*e.current.Load()).ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "replaykit serves its metrics at /metrics", http.StatusNotFound)
	})
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	go func() {
		defer close(e.served)
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.err = fmt.Errorf("metrics endpoint %s: %w", ln.Addr(), err)
		}
	}()
	e.stop = context.AfterFunc(ctx, func() { e.Close() })
	return e, nil
}

// Addr is the address the endpoint listens on (its port when addr's was 0).
func (e *MetricsEndpoint) Addr() net.Addr { return e.ln.Addr() }

// Serve makes m the run whose metrics /metrics shows.
func (e *MetricsEndpoint) Serve(m *Metrics) { e.serve(m.reg) }

func (e *MetricsEndpoint) serve(reg *prometheus.Registry) {
	var h http.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	e.current.Store(&h)
}

// Close stops serving: scrapes under way get a few seconds to finish. It
// returns once the server's goroutine has ended, with what stopped it
// other than Close.
func (e *MetricsEndpoint) Close() error {
	e.once.Do(func() {
		if e.stop != nil {
			e.stop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			e.srv.Close()
		}
		<-e.served
	})
	return e.err
}
