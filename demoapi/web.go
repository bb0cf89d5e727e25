package demoapi

import (
	"net/http"
	"sync"
	"time"
)

// preferences holds each user's preferences: a JSON object the web pages
// store as they like. Users are the configured ones, so it stays small.
type preferences struct {
	mu     sync.Mutex
	byUser map[string]map[string]any
}

func (p *preferences) get(user string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v := p.byUser[user]; v != nil {
		return clone(v)
	}
	return map[string]any{}
}

func (p *preferences) set(user string, v map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byUser[user] = clone(v)
}

// dashboard answers GET /web/dashboard: the user and their newest tasks.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	s.delay(r, 10*time.Millisecond, 80*time.Millisecond)
	user := principalOf(r).user
	writeJSON(w, http.StatusOK, map[string]any{"user": map[string]string{"name": user},
		"tasks": s.store.newest("tasks", user, 5)})
}

func (s *Server) getPreferences(w http.ResponseWriter, r *http.Request) {
	s.delay(r, 2*time.Millisecond, 15*time.Millisecond)
	writeJSON(w, http.StatusOK, s.prefs.get(principalOf(r).user))
}

// putPreferences stores the body as the user's preferences, whole, and
// echoes it.
func (s *Server) putPreferences(w http.ResponseWriter, r *http.Request) {
	s.delay(r, 5*time.Millisecond, 40*time.Millisecond)
	fields, err := readFields(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.prefs.set(principalOf(r).user, fields)
	writeJSON(w, http.StatusOK, fields)
}
