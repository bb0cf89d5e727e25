package replay

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/replaykit/replaykit/session"
)

// Check says whether the target is reachable and accepts the API key: it
// sends GET / (any HTTP answer means reachable), then the first recorded
// request that carried a credential, with the key put in. It returns what
// it found, line by line, and an error when either fails.
func Check(ctx context.Context, t *Target, sessions *session.Source, timeout time.Duration) ([]string, error) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()
	var lines []string
	req, _ := http.NewRequestWithContext(ctx, "GET", t.Base.String()+"/", nil)
	resp, err := client.Do(req)
	if err != nil {
		return lines, fmt.Errorf("%s is not reachable: %s. Is the server running, and is --host right?", t.Base, Classify(err))
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	lines = append(lines, fmt.Sprintf("reachable: GET %s/ answered %d", t.Base, resp.StatusCode))

	// The probe carries a credential API_KEY replaces: one it does not
	// (X-Auth-Token, say) would be sent redacted and look refused.
	var probe *session.Request
	for i := 0; sessions != nil && i < sessions.Len() && probe == nil; i++ {
		s, err := sessions.Session(i)
		if err != nil {
			return lines, err
		}
		for j := range s.Requests {
			if r := &s.Requests[j]; r.Method == "GET" && hasCredential(r) {
				probe = r
				break
			}
		}
	}
	if probe == nil {
		lines = append(lines, "api key: the trace has no GET request with a credential to try")
		return lines, nil
	}
	if t.APIKey == "" {
		return lines, fmt.Errorf("the trace's requests carry credentials (redacted when recorded); set API_KEY to the key to use")
	}
	req, err = t.NewRequest(ctx, probe)
	if err != nil {
		return lines, err
	}
	resp, err = client.Do(req)
	if err != nil {
		return lines, fmt.Errorf("%s %s failed: %s", probe.Method, probe.Path, Classify(err))
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return lines, fmt.Errorf("the API key was refused: %s %s answered %d (recorded: %d). Check API_KEY", probe.Method, probe.Path, resp.StatusCode, probe.Status)
	}
	lines = append(lines, fmt.Sprintf("api key: accepted (%s %s answered %d, recorded %d)", probe.Method, probe.Path, resp.StatusCode, probe.Status))
	return lines, nil
}

func hasCredential(r *session.Request) bool {
	for _, h := range r.Headers {
		if replacedByAPIKey[http.CanonicalHeaderKey(h.Name)] != nil {
			return true
		}
	}
	return false
}
