// Package demoapi is the API replaykit demonstrates itself against: a small
// work-OS-like JSON API (tasks, projects, documents, search) with X-API-Key
// auth, a per-key rate limit that answers 429, and a few slow endpoints
// with a realistic latency spread. Its store is in memory and safe for
// concurrent use. It stands in for the "AI Work OS" app of the Locust
// setup replaykit replaces.
package demoapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// Keys are the accepted X-API-Key values (default: DefaultKeys).
	Keys []string
	// RatePerKey is the sustained requests per second allowed per key
	// (default 50); Burst the bucket size (default 100). Beyond, 429.
	RatePerKey float64
	Burst      int
	// Slow scales the latency of the slow endpoints (default 1; 0 in tests
	// that do not want to wait: set NoDelay).
	Slow float64
	// NoDelay turns the simulated latency off.
	NoDelay bool
	// Seed seeds the latency draws (0: random).
	Seed uint64
}

// DefaultKeys are the API keys a default Server accepts; the sample trace
// uses them.
var DefaultKeys = []string{"demo-key-alice", "demo-key-bob", "demo-key-carol", "demo-key-dave", "demo-key-erin", "demo-key-frank"}

// Server is the demo API as an http.Handler.
type Server struct {
	cfg   Config
	keys  map[string]bool
	mux   *http.ServeMux
	store *store

	mu      sync.Mutex // guards buckets and rng
	buckets map[string]*bucket
	rng     *rand.Rand
	now     func() time.Time
}

// New makes a Server.
func New(cfg Config) *Server {
	if len(cfg.Keys) == 0 {
		cfg.Keys = DefaultKeys
	}
	if cfg.RatePerKey <= 0 {
		cfg.RatePerKey = 50
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 100
	}
	if cfg.Slow == 0 {
		cfg.Slow = 1
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{cfg: cfg, keys: map[string]bool{}, mux: http.NewServeMux(), store: newStore(),
		buckets: map[string]*bucket{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Now}
	for _, k := range cfg.Keys {
		s.keys[k] = true
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "version": "demo-1"})
	})
	for _, kind := range []string{"tasks", "projects", "documents"} {
		base := "/api/v1/" + kind
		s.mux.HandleFunc("GET "+base, s.auth(s.list(kind)))
		s.mux.HandleFunc("POST "+base, s.auth(s.create(kind)))
		s.mux.HandleFunc("GET "+base+"/{id}", s.auth(s.get(kind)))
		s.mux.HandleFunc("PUT "+base+"/{id}", s.auth(s.update(kind, true)))
		s.mux.HandleFunc("PATCH "+base+"/{id}", s.auth(s.update(kind, false)))
		s.mux.HandleFunc("DELETE "+base+"/{id}", s.auth(s.delete(kind)))
	}
	// The slow ones: full-text search and an "AI" document analysis.
	s.mux.HandleFunc("GET /api/v1/search", s.auth(s.search))
	s.mux.HandleFunc("POST /api/v1/documents/{id}/analyze", s.auth(s.analyze))
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	s.mux.ServeHTTP(w, r)
}

// auth checks the API key and the key's rate limit.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-API-Key")
		if !s.keys[key] {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Invalid or missing API key"})
			return
		}
		if wait := s.take(key); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"detail": "Rate limit exceeded"})
			return
		}
		h(w, r)
	}
}

// bucket is a token bucket: RatePerKey tokens a second, Burst at most.
type bucket struct {
	tokens float64
	last   time.Time
}

// take spends a token of key's bucket, or says how long until one is free.
func (s *Server) take(key string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	b, ok := s.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(s.cfg.Burst), last: now}
		s.buckets[key] = b
	}
	b.tokens = math.Min(float64(s.cfg.Burst), b.tokens+now.Sub(b.last).Seconds()*s.cfg.RatePerKey)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / s.cfg.RatePerKey * float64(time.Second))
}

// Latency draws a service time from a log-normal distribution with the given
// median and p99 (scaled by Config.Slow): most requests near the median, a
// long tail, as real slow endpoints have.
func (s *Server) Latency(median, p99 time.Duration) time.Duration {
	// For a log-normal, p99 = median * exp(2.326 * sigma).
	sigma := math.Log(float64(p99)/float64(median)) / 2.326
	s.mu.Lock()
	z := s.rng.NormFloat64()
	s.mu.Unlock()
	d := float64(median) * math.Exp(sigma*z) * s.cfg.Slow
	return time.Duration(math.Min(d, float64(10*p99)))
}

func (s *Server) delay(r *http.Request, median, p99 time.Duration) {
	if s.cfg.NoDelay {
		return
	}
	t := time.NewTimer(s.Latency(median, p99))
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

func (s *Server) list(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.delay(r, 3*time.Millisecond, 25*time.Millisecond)
		limit := 20
		if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 && v <= 100 {
			limit = v
		}
		items := s.store.list(kind, r.URL.Query().Get("status"), limit)
		writeJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items)})
	}
}

func (s *Server) get(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.delay(r, 2*time.Millisecond, 15*time.Millisecond)
		it, ok := s.store.get(kind, r.PathValue("id"))
		if !ok {
			notFound(w, kind)
			return
		}
		writeJSON(w, http.StatusOK, it)
	}
}

func (s *Server) create(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.delay(r, 8*time.Millisecond, 60*time.Millisecond)
		fields, err := readFields(r)
		if err != nil {
			writeError(w, err)
			return
		}
		if title, _ := fields["title"].(string); strings.TrimSpace(title) == "" {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"detail": "title is required"})
			return
		}
		writeJSON(w, http.StatusCreated, s.store.create(kind, fields))
	}
}

func (s *Server) update(kind string, replace bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.delay(r, 6*time.Millisecond, 50*time.Millisecond)
		fields, err := readFields(r)
		if err != nil {
			writeError(w, err)
			return
		}
		it, ok := s.store.update(kind, r.PathValue("id"), fields, replace)
		if !ok {
			notFound(w, kind)
			return
		}
		writeJSON(w, http.StatusOK, it)
	}
}

func (s *Server) delete(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.delay(r, 5*time.Millisecond, 40*time.Millisecond)
		if !s.store.remove(kind, r.PathValue("id")) {
			notFound(w, kind)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "q is required"})
		return
	}
	s.delay(r, 80*time.Millisecond, 600*time.Millisecond)
	writeJSON(w, http.StatusOK, map[string]any{"query": q, "results": s.store.search(q, 10)})
}

func (s *Server) analyze(w http.ResponseWriter, r *http.Request) {
	it, ok := s.store.get("documents", r.PathValue("id"))
	if !ok {
		notFound(w, "documents")
		return
	}
	s.delay(r, 250*time.Millisecond, 1500*time.Millisecond)
	words := len(strings.Fields(fmt.Sprint(it["content"])))
	writeJSON(w, http.StatusOK, map[string]any{"id": it["id"], "summary": fmt.Sprintf("%d words analysed", words), "sentiment": "neutral"})
}

// notFound answers 404 for an item of kind ("tasks": "task not found").
func notFound(w http.ResponseWriter, kind string) {
	writeJSON(w, http.StatusNotFound, map[string]string{"detail": strings.TrimSuffix(kind, "s") + " not found"})
}

type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func readFields(r *http.Request) (map[string]any, error) {
	var fields map[string]any
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&fields); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, badRequest{"body must be a JSON object: " + err.Error()}
	}
	if fields == nil {
		return nil, badRequest{"body must be a JSON object"}
	}
	return fields, nil
}

func writeError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"detail": "body larger than 1 MiB"})
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": err.Error()})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// store holds the items of each kind in memory.
type store struct {
	mu    sync.RWMutex
	next  map[string]int
	items map[string]map[string]map[string]any
}

func newStore() *store {
	st := &store{next: map[string]int{}, items: map[string]map[string]map[string]any{}}
	statuses := []string{"todo", "in_progress", "done"}
	for i := 1; i <= 30; i++ {
		st.create("tasks", map[string]any{"title": fmt.Sprintf("Task %d", i), "status": statuses[i%3], "project_id": 1 + i%5})
		if i <= 5 {
			st.create("projects", map[string]any{"title": fmt.Sprintf("Project %d", i), "status": "active"})
		}
		if i <= 20 {
			st.create("documents", map[string]any{"title": fmt.Sprintf("Document %d", i),
				"content": strings.Repeat(fmt.Sprintf("Notes on topic %d for the quarterly plan. ", i), 1+i%7)})
		}
	}
	return st
}

func (st *store) create(kind string, fields map[string]any) map[string]any {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.next[kind]++
	id := st.next[kind]
	it := map[string]any{}
	for k, v := range fields {
		it[k] = v
	}
	it["id"] = id
	if _, ok := it["status"]; !ok {
		it["status"] = "todo"
	}
	it["created_at"] = time.Now().UTC().Format(time.RFC3339)
	if st.items[kind] == nil {
		st.items[kind] = map[string]map[string]any{}
	}
	st.items[kind][strconv.Itoa(id)] = it
	return clone(it)
}

func (st *store) get(kind, id string) (map[string]any, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	it, ok := st.items[kind][id]
	return clone(it), ok
}

func (st *store) update(kind, id string, fields map[string]any, replace bool) (map[string]any, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	it, ok := st.items[kind][id]
	if !ok {
		return nil, false
	}
	if replace {
		created := it["created_at"]
		it = map[string]any{"id": it["id"], "created_at": created}
		st.items[kind][id] = it
	}
	for k, v := range fields {
		if k != "id" && k != "created_at" {
			it[k] = v
		}
	}
	it["updated_at"] = time.Now().UTC().Format(time.RFC3339)
	return clone(it), true
}

func (st *store) remove(kind, id string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.items[kind][id]; !ok {
		return false
	}
	delete(st.items[kind], id)
	return true
}

func (st *store) list(kind, status string, limit int) []map[string]any {
	st.mu.RLock()
	defer st.mu.RUnlock()
	ids := make([]int, 0, len(st.items[kind]))
	for k, it := range st.items[kind] {
		if status == "" || it["status"] == status {
			n, _ := strconv.Atoi(k)
			ids = append(ids, n)
		}
	}
	slices.Sort(ids)
	out := make([]map[string]any, 0, min(limit, len(ids)))
	for _, id := range ids[:min(limit, len(ids))] {
		out = append(out, clone(st.items[kind][strconv.Itoa(id)]))
	}
	return out
}

func (st *store) search(q string, limit int) []map[string]any {
	st.mu.RLock()
	defer st.mu.RUnlock()
	q = strings.ToLower(q)
	var out []map[string]any
	for _, kind := range []string{"documents", "tasks", "projects"} {
		for _, it := range st.items[kind] {
			if strings.Contains(strings.ToLower(fmt.Sprint(it["title"], " ", it["content"])), q) {
				out = append(out, map[string]any{"kind": kind, "id": it["id"], "title": it["title"]})
			}
		}
	}
	slices.SortFunc(out, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["kind"], a["id"]), fmt.Sprint(b["kind"], b["id"]))
	})
	return out[:min(limit, len(out))]
}

func clone(it map[string]any) map[string]any {
	if it == nil {
		return nil
	}
	out := make(map[string]any, len(it))
	for k, v := range it {
		out[k] = v
	}
	return out
}
