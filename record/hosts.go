package record

import (
	"fmt"
	"net"
	"strings"
)

// HostFilter keeps the exchanges whose Host is one of its patterns (the
// zero value keeps every one): a browser's HAR holds the fonts, analytics
// and CDNs the page loaded beside the API under test, and one capture of a
// shared proxy holds every virtual host it serves; replay would send all
// of them to the one target.
type HostFilter struct {
	patterns []hostPattern
}

type hostPattern struct {
	name   string // lower case, no trailing dot; after "*." for a suffix
	port   string // "" matches any port
	suffix bool   // *.name: every name under it, not name itself
}

// ParseHostFilter reads --only-host patterns: a name or address (any
// port), name:port, or *.example.com (every name under example.com).
func ParseHostFilter(patterns []string) (HostFilter, error) {
	var f HostFilter
	for _, s := range patterns {
		p, err := parseHostPattern(s)
		if err != nil {
			return HostFilter{}, fmt.Errorf("--only-host %q: %w", s, err)
		}
		f.patterns = append(f.patterns, p)
	}
	return f, nil
}

func parseHostPattern(s string) (hostPattern, error) {
	if strings.Contains(s, "/") {
		return hostPattern{}, fmt.Errorf("want a host such as api.example.com, api.example.com:8080 or *.example.com, not a URL")
	}
	var p hostPattern
	name, port := splitHost(s)
	if port != "" {
		if n, ok := portNumber(port); !ok || n == 0 {
			return hostPattern{}, fmt.Errorf("%q is not a port", port)
		}
		p.port = port
	}
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		p.suffix, name = true, rest
	}
	p.name = normalHost(name)
	if p.name == "" || strings.ContainsAny(p.name, "* \t") {
		return hostPattern{}, fmt.Errorf("want a host such as api.example.com, api.example.com:8080 or *.example.com")
	}
	return p, nil
}

// Any says the filter has patterns.
func (f HostFilter) Any() bool { return len(f.patterns) > 0 }

// Keeps says an exchange with this Host (header value, or an absolute
// target's authority) is kept. A request without one is kept only by an
// empty filter: it cannot be told to be the host's.
func (f HostFilter) Keeps(host string) bool {
	if len(f.patterns) == 0 {
		return true
	}
	name, port := splitHost(host)
	name = normalHost(name)
	for _, p := range f.patterns {
		if p.port != "" && p.port != port {
			continue
		}
		if p.suffix {
			if strings.HasSuffix(name, "."+p.name) {
				return true
			}
		} else if name == p.name {
			return true
		}
	}
	return false
}

// splitHost splits host[:port], [v6]:port and a bare v6 address.
func splitHost(s string) (name, port string) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p
	}
	return strings.Trim(s, "[]"), ""
}

func normalHost(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }

func portNumber(s string) (int, bool) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' || n > 65535 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, s != "" && n <= 65535
}

// otherHostNames bounds the names Summary.OtherHostNames keeps.
const otherHostNames = 32

// countOtherHost counts an exchange the filter left out, by its host.
func (s *Summary) countOtherHost(host string) {
	s.OtherHosts++
	if s.OtherHostNames == nil {
		s.OtherHostNames = map[string]int64{}
	}
	if _, ok := s.OtherHostNames[host]; ok || len(s.OtherHostNames) < otherHostNames {
		s.OtherHostNames[host]++
	}
}
