// Command sampletraffic plays the users whose traffic becomes the sample
// trace (scripts/make-sample-trace.sh): the seed's user classes against the
// demo API, each with its own credential, HTTP client (keep-alive, cookie
// jar) and think times.
//
//	reader    ReadOnlyUser: lists, gets, searches; 1-3 s between requests
//	writer    WriteHeavyUser: creates, updates, deletes; 1-3 s
//	mixed     AIWorkOSUser: mostly reads, some writes and analyses; 1-3 s
//	hurried   HighLoadUser: health checks and lists, 0.1-0.5 s: meets the rate limit
//	intruder  a wrong key: 401s
//
// and the users whose requests carry what earlier responses gave them, as
// real clients do (each request with a fresh X-Request-ID); 1-3 s:
//
//	login     an app with a bearer token: logs in, creates a task with an
//	          Idempotency-Key (retried now and then), follows its Location,
//	          PUTs and PATCHes it with If-Match, sometimes deletes it; gets
//	          tasks and projects by ids from lists; a new token every 4 rounds
//	browser   a web page with a session cookie: logs in with a form, follows
//	          the 303 to the dashboard, reads and writes its preferences,
//	          lists tasks with the cookie alone; a new session every 3 rounds
//	documents an API key: creates a document with a fresh uuid, gets it by
//	          its Location, analyses it, mostly deletes it with If-Match
//
// At the end it prints each user's responses by status (0: no response).
package main

import (
	crand "crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// user is one player: name labels its counts; key is its X-API-Key, and
// account the user it logs in as (login, browser).
type user struct {
	name, key, class, account string
}

func main() {
	base := flag.String("url", "http://127.0.0.1:18101", "where to send (the recording proxy)")
	duration := flag.Duration("duration", 60*time.Second, "how long the users play")
	only := flag.String("classes", "", "play only these user classes (comma-separated: reader, writer, mixed, hurried, intruder, login, browser, documents); default all")
	flag.Parse()
	users := []user{
		{name: "alice", key: "demo-key-alice", class: "reader"},
		{name: "bob", key: "demo-key-bob", class: "writer"},
		{name: "carol", key: "demo-key-carol", class: "mixed"},
		{name: "dave", key: "demo-key-dave", class: "mixed"},
		{name: "erin", key: "demo-key-erin", class: "reader"},
		{name: "frank", key: "demo-key-frank", class: "hurried"},
		{name: "mallory", key: "not-a-key", class: "intruder"},
		{name: "bob-app", class: "login", account: "bob"},
		{name: "carol-web", class: "browser", account: "carol"},
		{name: "erin-docs", key: "demo-key-erin", class: "documents"},
	}
	if *only != "" {
		users = slices.DeleteFunc(users, func(u user) bool { return !slices.Contains(strings.Split(*only, ","), u.class) })
	}
	stop := time.Now().Add(*duration)
	counts := &tally{byUser: map[string]map[int]int{}}
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPlayer(u, *base, stop, rand.New(rand.NewPCG(uint64(i+1), 42)), counts)
			p.play()
		}()
	}
	wg.Wait()
	for _, u := range users {
		fmt.Printf("%-9s %-9s %v\n", u.name, u.class, counts.of(u.name))
	}
}

// tally counts each user's responses by status.
type tally struct {
	mu     sync.Mutex
	byUser map[string]map[int]int
}

func (t *tally) add(user string, status int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byUser[user] == nil {
		t.byUser[user] = map[int]int{}
	}
	t.byUser[user][status]++
}

func (t *tally) of(user string) map[int]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byUser[user]
}

// transport counts every response a user gets, a redirect's too, and
// gives each request of the users who send one a fresh X-Request-ID.
type transport struct {
	next      http.RoundTripper
	user      string
	requestID bool
	counts    *tally
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.requestID {
		req = req.Clone(req.Context()) // a RoundTripper must not change its request
		req.Header.Set("X-Request-ID", newUUID())
	}
	resp, err := t.next.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	t.counts.add(t.user, status)
	return resp, err
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// player plays one user until stop.
type player struct {
	user
	base  string
	stop  time.Time
	rng   *rand.Rand
	c     *http.Client
	token string // the bearer token, once logged in
	// known are the ids of each kind this user has seen in answers (lists
	// and creates), as a real client knows ids: from the API.
	known map[string][]int
	mine  []int // the tasks it created and has not deleted
}

// learn keeps the ids an answer about kind shows.
func (p *player) learn(kind string, r result) {
	if r.status/100 != 2 || r.body == nil {
		return
	}
	add := func(v any) {
		if f, ok := v.(float64); ok && !slices.Contains(p.known[kind], int(f)) {
			p.known[kind] = append(p.known[kind], int(f))
		}
	}
	add(r.body["id"])
	items, _ := r.body["items"].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			add(m["id"])
		}
	}
}

// id is an id of kind the user knows, learnt with a list first if it
// knows none; 0 when the list has none.
func (p *player) id(kind string) int {
	if len(p.known[kind]) == 0 {
		p.learn(kind, p.send("GET", "/api/v1/"+kind+"?limit=20", ""))
		p.think(1, 3)
	}
	if len(p.known[kind]) == 0 {
		return 0
	}
	return p.known[kind][p.rng.IntN(len(p.known[kind]))]
}

// forget drops an id the user deleted.
func (p *player) forget(kind string, id int) {
	p.known[kind] = slices.DeleteFunc(p.known[kind], func(x int) bool { return x == id })
}

func newPlayer(u user, base string, stop time.Time, rng *rand.Rand, counts *tally) *player {
	jar, _ := cookiejar.New(nil) // never fails without options
	newcomer := u.class == "login" || u.class == "browser" || u.class == "documents"
	tr := &transport{next: http.DefaultTransport.(*http.Transport).Clone(), user: u.name, requestID: newcomer, counts: counts}
	return &player{user: u, base: base, stop: stop, rng: rng, c: &http.Client{Timeout: 10 * time.Second, Jar: jar, Transport: tr},
		known: map[string][]int{}}
}

// result is a response as a flow needs it.
type result struct {
	status int // 0: no response
	header http.Header
	body   map[string]any
}

// send sends a request with the user's credential and headers (name,
// value, ...); a JSON body gets its Content-Type unless headers set one.
func (p *player) send(method, path, body string, headers ...string) result {
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		log.Printf("%s: %v", p.name, err)
		return result{}
	}
	if p.key != "" {
		req.Header.Set("X-API-Key", p.key)
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	req.Header.Set("User-Agent", "sampletraffic/1 ("+p.class+")")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := p.c.Do(req)
	if err != nil {
		log.Printf("%s: %v", p.name, err)
		return result{}
	}
	defer resp.Body.Close()
	r := result{status: resp.StatusCode, header: resp.Header}
	json.NewDecoder(resp.Body).Decode(&r.body)
	io.Copy(io.Discard, resp.Body)
	return r
}

// visit sends a request, then thinks 1-3 s; ok is false once the time is
// up (then nothing is sent).
func (p *player) visit(method, path, body string, headers ...string) (r result, ok bool) {
	if !time.Now().Before(p.stop) {
		return result{}, false
	}
	r = p.send(method, path, body, headers...)
	p.think(1, 3)
	return r, true
}

func (p *player) think(lo, hi float64) {
	time.Sleep(time.Duration((lo + p.rng.Float64()*(hi-lo)) * float64(time.Second)))
}

func (p *player) play() {
	for round := 0; time.Now().Before(p.stop); round++ {
		switch p.class {
		case "login":
			p.playApp(round)
		case "browser":
			p.playBrowser(round)
		case "documents":
			p.playDocuments()
		default:
			p.playClassic()
		}
	}
}

// playClassic plays one request of the seed's user classes. Ids come from
// what the user saw: its lists and its creates.
func (p *player) playClassic() {
	switch p.class {
	case "reader":
		switch p.rng.IntN(5) {
		case 0:
			p.learn("tasks", p.send("GET", "/api/v1/tasks?limit=20", ""))
		case 1:
			p.send("GET", fmt.Sprintf("/api/v1/tasks/%d", p.id("tasks")), "")
		case 2:
			p.learn("projects", p.send("GET", "/api/v1/projects", ""))
		case 3:
			p.send("GET", fmt.Sprintf("/api/v1/documents/%d", p.id("documents")), "")
		default:
			p.send("GET", "/api/v1/search?q="+[]string{"quarterly", "plan", "topic", "notes"}[p.rng.IntN(4)], "")
		}
		p.think(1, 3)
	case "writer":
		switch p.rng.IntN(6) {
		case 0, 1:
			r := p.send("POST", "/api/v1/tasks", fmt.Sprintf(`{"title":"task from bob %d","priority":%d}`, p.rng.IntN(1000), p.rng.IntN(5)))
			p.learn("tasks", r)
			if id, ok := r.body["id"].(float64); ok && r.status == http.StatusCreated {
				p.mine = append(p.mine, int(id))
			}
		case 2:
			p.send("PATCH", fmt.Sprintf("/api/v1/tasks/%d", p.id("tasks")), `{"status":"done"}`)
		case 3:
			p.send("PUT", fmt.Sprintf("/api/v1/documents/%d", p.id("documents")), `{"title":"rewritten","content":"new text for the plan"}`)
		case 4:
			// Only what it created itself: others' tasks are not its to delete.
			if n := len(p.mine); n > 0 {
				id := p.mine[n-1]
				p.mine = p.mine[:n-1]
				p.send("DELETE", fmt.Sprintf("/api/v1/tasks/%d", id), "")
				p.forget("tasks", id)
			}
		default:
			p.learn("tasks", p.send("GET", "/api/v1/tasks?status=todo", ""))
		}
		p.think(1, 3)
	case "mixed":
		switch p.rng.IntN(10) {
		case 0:
			p.learn("tasks", p.send("POST", "/api/v1/tasks", `{"title":"follow up"}`))
		case 1:
			p.send("POST", fmt.Sprintf("/api/v1/documents/%d/analyze", p.id("documents")), "")
		case 2:
			p.send("PATCH", fmt.Sprintf("/api/v1/projects/%d", p.id("projects")), `{"status":"review"}`)
		case 3, 4:
			p.learn("tasks", p.send("GET", "/api/v1/tasks?limit=10", ""))
		case 5:
			p.send("GET", "/api/v1/search?q=plan", "")
		default:
			p.send("GET", fmt.Sprintf("/api/v1/tasks/%d", p.id("tasks")), "")
		}
		p.think(1, 3)
	case "hurried":
		if p.rng.IntN(3) == 0 {
			p.send("GET", "/health", "")
		} else {
			p.send("GET", "/api/v1/tasks?limit=5", "")
		}
		p.think(0.1, 0.5)
	case "intruder":
		p.send("GET", "/api/v1/tasks", "")
		p.think(3, 6)
	}
}

// playApp plays one round of the app with a bearer token.
func (p *player) playApp(round int) {
	if round%4 == 0 || p.token == "" {
		if !p.logIn() {
			return
		}
	}
	if !p.taskLifecycle() {
		return
	}
	p.browse("tasks")
	p.browse("projects")
}

// logIn gets a new bearer token.
func (p *player) logIn() bool {
	p.token = "" // the login itself goes without the old one
	body, _ := json.Marshal(map[string]string{"username": p.account, "password": "demo-password-" + p.account})
	r, ok := p.visit("POST", "/api/v1/login", string(body))
	if token, _ := r.body["access_token"].(string); ok && r.status == http.StatusOK && token != "" {
		p.token = token
		return true
	}
	return false
}

// taskLifecycle creates a task, reads it where the API said it is, edits
// it twice with the ETag each answer gave, and deletes it a third of the
// time; false once the time is up or a step failed.
func (p *player) taskLifecycle() bool {
	key := newUUID()
	task, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("task from %s's app", p.account), "client_ref": newUUID(),
		"priority": p.rng.IntN(5)})
	r, ok := p.visit("POST", "/api/v1/tasks", string(task), "Idempotency-Key", key)
	if !ok || r.status != http.StatusCreated {
		return false
	}
	// Now and then the answer is taken for lost and the create retried,
	// with the same key: the API answers with the same task.
	if p.rng.IntN(4) == 0 {
		if r, ok = p.visit("POST", "/api/v1/tasks", string(task), "Idempotency-Key", key); !ok || r.status != http.StatusCreated {
			return false
		}
	}
	loc := r.header.Get("Location")
	if r, ok = p.visit("GET", loc, ""); !ok || r.status != http.StatusOK {
		return false
	}
	edit, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("task from %s's app (edited)", p.account),
		"client_ref": r.body["client_ref"], "priority": r.body["priority"], "status": "in_progress"})
	if r, ok = p.visit("PUT", loc, string(edit), "If-Match", r.header.Get("ETag")); !ok || r.status != http.StatusOK {
		return false
	}
	if r, ok = p.visit("PATCH", loc, `{"status":"done"}`, "If-Match", r.header.Get("ETag")); !ok || r.status != http.StatusOK {
		return false
	}
	if p.rng.IntN(3) == 0 {
		if r, ok = p.visit("DELETE", loc, "", "If-Match", r.header.Get("ETag")); !ok || r.status != http.StatusNoContent {
			return false
		}
	}
	return true
}

// browse lists items of kind and opens one of those listed.
func (p *player) browse(kind string) bool {
	r, ok := p.visit("GET", "/api/v1/"+kind+"?limit=20", "")
	items, _ := r.body["items"].([]any)
	if !ok || len(items) == 0 {
		return false
	}
	it, _ := items[p.rng.IntN(len(items))].(map[string]any)
	_, ok = p.visit("GET", fmt.Sprintf("/api/v1/%s/%v", kind, it["id"]), "")
	return ok
}

// playBrowser plays one round of the web page with a session cookie.
func (p *player) playBrowser(round int) {
	if round%3 == 0 {
		// The client follows the 303 to the dashboard with the new cookie.
		form := url.Values{"username": {p.account}, "password": {"demo-password-" + p.account}}.Encode()
		if r, ok := p.visit("POST", "/web/login", form, "Content-Type", "application/x-www-form-urlencoded"); !ok || r.status != http.StatusOK {
			return
		}
	}
	r, ok := p.visit("GET", "/web/preferences", "")
	if !ok || r.status != http.StatusOK {
		return
	}
	prefs := map[string]any{"theme": []string{"light", "dark", "system"}[p.rng.IntN(3)], "page_size": []int{10, 20, 50}[p.rng.IntN(3)],
		"notifications": p.rng.IntN(2) == 0}
	body, _ := json.Marshal(prefs)
	if _, ok = p.visit("PUT", "/web/preferences", string(body)); !ok {
		return
	}
	if _, ok = p.visit("GET", "/api/v1/tasks?limit=10", ""); !ok {
		return
	}
	p.visit("GET", "/web/dashboard", "")
}

// playDocuments plays one document's life: created with a uuid of the
// client's, read by its Location, analysed, mostly deleted with If-Match.
func (p *player) playDocuments() {
	doc, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("Meeting notes %d", p.rng.IntN(1000)), "uuid": newUUID(),
		"content": strings.Repeat("Decisions and follow-ups for the quarterly plan. ", 1+p.rng.IntN(8))})
	r, ok := p.visit("POST", "/api/v1/documents", string(doc))
	if !ok || r.status != http.StatusCreated {
		return
	}
	loc := r.header.Get("Location")
	if r, ok = p.visit("GET", loc, ""); !ok || r.status != http.StatusOK {
		return
	}
	tag := r.header.Get("ETag")
	if r, ok = p.visit("POST", loc+"/analyze", ""); !ok || r.status != http.StatusOK {
		return
	}
	if p.rng.IntN(3) != 0 {
		p.visit("DELETE", loc, "", "If-Match", tag)
	}
}
