// Package demoapi is the API replaykit demonstrates itself against: a small
// work-OS-like JSON API (tasks, projects, documents, search) with a per-
// principal rate limit that answers 429, and a few slow endpoints with a
// realistic latency spread. Its store is in memory and safe for concurrent
// use. It stands in for the "AI Work OS" app of the Locust setup replaykit
// replaces.
//
// It hands out what real APIs hand out, so that a replay has state to
// carry from responses into later requests: bearer tokens (POST
// /api/v1/login) and session cookies (POST /web/login) beside X-API-Key;
// ids counting from a random base on each start; Location on create; ETags
// that If-Match must match; Idempotency-Keys and document uuids the client
// makes up.
package demoapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
	// Users are the accounts that may log in, name to password (default:
	// DefaultUsers).
	Users map[string]string
	// RatePerKey is the sustained requests per second allowed per
	// principal: an API key, or a user however they logged in (default 50);
	// Burst the bucket size (default 100). Beyond, 429.
	RatePerKey float64
	Burst      int
	// Slow scales the latency of the slow endpoints (default 1; 0 in tests
	// that do not want to wait: set NoDelay).
	Slow float64
	// NoDelay turns the simulated latency off.
	NoDelay bool
	// Seed seeds the latency draws (0: random).
	Seed uint64
	// IDBase is the first id of every kind; each kind counts up from it.
	// 0: a random base in [1000, 1000000), drawn apart from Seed, so two
	// servers started with the same Seed still issue different ids, and a
	// replay that sends recorded ids unchanged finds out.
	IDBase int
	// Breaks make routes answer otherwise (Break): the first that
	// matches a request applies.
	Breaks []Break
}

// DefaultKeys are the API keys a default Server accepts; the sample trace
// uses them.
var DefaultKeys = []string{"demo-key-alice", "demo-key-bob", "demo-key-carol", "demo-key-dave", "demo-key-erin", "demo-key-frank"}

// maxIdempotencyKeys bounds the creates kept to answer retries.
const maxIdempotencyKeys = 10_000

// Server is the demo API as an http.Handler.
type Server struct {
	cfg   Config
	keys  map[string]bool
	users map[string]string
	mux   *http.ServeMux
	store *store

	tokens   *fifo[login]       // bearer token -> user
	sessions *fifo[login]       // sid cookie -> user
	replies  *fifo[*idempotent] // principal and Idempotency-Key -> first answer
	prefs    *preferences

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
	if len(cfg.Users) == 0 {
		cfg.Users = DefaultUsers
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
	if cfg.IDBase <= 0 {
		cfg.IDBase = 1000 + rand.IntN(1000000-1000)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{cfg: cfg, keys: map[string]bool{}, users: map[string]string{}, mux: http.NewServeMux(),
		store: newStore(cfg.IDBase, slices.Sorted(maps.Keys(cfg.Users))), tokens: newFIFO[login](maxLogins), sessions: newFIFO[login](maxLogins),
		replies: newFIFO[*idempotent](maxIdempotencyKeys), prefs: &preferences{byUser: map[string]map[string]any{}},
		buckets: map[string]*bucket{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Now}
	for _, k := range cfg.Keys {
		s.keys[k] = true
	}
	for name, password := range cfg.Users {
		s.users[name] = password
	}
	s.routes()
	return s
}

// IDBase is the first id of every kind this server issues.
func (s *Server) IDBase() int { return s.cfg.IDBase }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "version": "demo-1"})
	})
	s.mux.HandleFunc("POST /api/v1/login", s.apiLogin)
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
	// The web app's pages, behind the session cookie.
	s.mux.HandleFunc("POST /web/login", s.webLogin)
	s.mux.HandleFunc("GET /web/dashboard", s.cookieAuth(s.dashboard))
	s.mux.HandleFunc("GET /web/preferences", s.cookieAuth(s.getPreferences))
	s.mux.HandleFunc("PUT /web/preferences", s.cookieAuth(s.putPreferences))
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	for _, b := range s.cfg.Breaks {
		if b.matches(r) {
			b.serve(s.mux, w, r)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// bucket is a token bucket: RatePerKey tokens a second, Burst at most.
type bucket struct {
	tokens float64
	last   time.Time
}

// take spends a token of the principal's bucket, or says how long until
// one is free.
func (s *Server) take(principal string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	b, ok := s.buckets[principal]
	if !ok {
		b = &bucket{tokens: float64(s.cfg.Burst), last: now}
		s.buckets[principal] = b
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
		it, tag, err := s.store.get(kind, r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		reply{status: http.StatusOK, etag: tag, body: it}.write(w)
	}
}

// idempotent is the first answer to a create with an Idempotency-Key;
// done is closed once reply is set, so a retry that arrives while the
// first is still being made waits for it instead of creating another.
type idempotent struct {
	done  chan struct{}
	reply reply
}

func (s *Server) create(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if kind != "tasks" || key == "" {
			s.createItem(kind, r).write(w)
			return
		}
		// Keys are scoped by principal: another user's key is not a retry.
		e, seen := s.replies.getOrPut(principalOf(r).id+"\x00"+key, &idempotent{done: make(chan struct{})})
		if !seen {
			e.reply = s.createItem(kind, r)
			close(e.done)
			e.reply.write(w)
			return
		}
		select {
		case <-e.done:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		e.reply.write(w)
	}
}

// createItem makes an item from the request's body; the answer says where
// it is (Location) and its version (ETag).
func (s *Server) createItem(kind string, r *http.Request) reply {
	s.delay(r, 8*time.Millisecond, 60*time.Millisecond)
	fields, err := readFields(r)
	if err != nil {
		return errorReply(err)
	}
	if title, _ := fields["title"].(string); strings.TrimSpace(title) == "" {
		return errorReply(apiError{http.StatusUnprocessableEntity, "title is required"})
	}
	it, tag, err := s.store.create(kind, fields, principalOf(r).user)
	if err != nil {
		return errorReply(err)
	}
	return reply{status: http.StatusCreated, location: fmt.Sprintf("/api/v1/%s/%v", kind, it["id"]), etag: tag, body: it}
}

func (s *Server) update(kind string, replace bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.delay(r, 6*time.Millisecond, 50*time.Millisecond)
		fields, err := readFields(r)
		if err != nil {
			writeError(w, err)
			return
		}
		it, tag, err := s.store.update(kind, r.PathValue("id"), fields, replace, ifMatch(r))
		if err != nil {
			writeError(w, err)
			return
		}
		reply{status: http.StatusOK, etag: tag, body: it}.write(w)
	}
}

func (s *Server) delete(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.delay(r, 5*time.Millisecond, 40*time.Millisecond)
		if err := s.store.remove(kind, r.PathValue("id"), ifMatch(r)); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// ifMatch returns the request's If-Match tags, comma separated ("": none).
func ifMatch(r *http.Request) string {
	return strings.Join(r.Header.Values("If-Match"), ",")
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
	it, _, err := s.store.get("documents", r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	s.delay(r, 250*time.Millisecond, 1500*time.Millisecond)
	words := len(strings.Fields(fmt.Sprint(it["content"])))
	writeJSON(w, http.StatusOK, map[string]any{"id": it["id"], "summary": fmt.Sprintf("%d words analysed", words), "sentiment": "neutral"})
}

// apiError is a refusal with its status and the detail the body says.
type apiError struct {
	status int
	detail string
}

func (e apiError) Error() string { return e.detail }

// notFound is the 404 of an item of kind ("tasks": "task not found").
func notFound(kind string) apiError {
	return apiError{http.StatusNotFound, strings.TrimSuffix(kind, "s") + " not found"}
}

func readFields(r *http.Request) (map[string]any, error) {
	var fields map[string]any
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&fields); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, apiError{http.StatusBadRequest, "body must be a JSON object: " + err.Error()}
	}
	if fields == nil {
		return nil, apiError{http.StatusBadRequest, "body must be a JSON object"}
	}
	return fields, nil
}

// reply is an answer with a JSON body, made before it is written so that
// it can be kept (see idempotent).
type reply struct {
	status         int
	location, etag string // headers, if set
	body           any
}

func (rp reply) write(w http.ResponseWriter) {
	if rp.location != "" {
		w.Header().Set("Location", rp.location)
	}
	if rp.etag != "" {
		w.Header().Set("ETag", rp.etag)
	}
	writeJSON(w, rp.status, rp.body)
}

func errorReply(err error) reply {
	var tooBig *http.MaxBytesError
	var refused apiError
	switch {
	case errors.As(err, &tooBig):
		return reply{status: http.StatusRequestEntityTooLarge, body: map[string]string{"detail": "body larger than 1 MiB"}}
	case errors.As(err, &refused):
		return reply{status: refused.status, body: map[string]string{"detail": refused.detail}}
	default:
		return reply{status: http.StatusBadRequest, body: map[string]string{"detail": err.Error()}}
	}
}

func writeError(w http.ResponseWriter, err error) { errorReply(err).write(w) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
