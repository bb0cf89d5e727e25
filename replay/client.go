package replay

import (
	"net"
	"net/http"
	"time"
)

// ClientOptions say how requests reach the target.
type ClientOptions struct {
	// Timeout bounds each request, body included.
	Timeout time.Duration
	// Users is how many connections may be kept alive at once.
	Users int
}

// NewClient is the one HTTP client of a run, and of --check-only.
func NewClient(o ClientOptions) (*http.Client, error) {
	return &http.Client{
		Timeout: o.Timeout,
		Transport: &http.Transport{
			Proxy:               nil, // replay goes where --host says, never through a proxy from the environment
			DialContext:         (&net.Dialer{Timeout: min(o.Timeout, 10*time.Second)}).DialContext,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: max(o.Users, 100),
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true, // bodies are measured as they come
			ForceAttemptHTTP2:   false,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}
