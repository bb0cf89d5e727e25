package demoapi

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func do(t *testing.T, h http.Handler, method, path, key, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var v map[string]any
	json.Unmarshal(rec.Body.Bytes(), &v)
	return rec.Code, v, rec.Header()
}

func TestEndpoints(t *testing.T) {
	s := New(Config{NoDelay: true, IDBase: 1})
	key := DefaultKeys[0]
	tests := []struct {
		method, path, key, body string
		want                    int
	}{
		{"GET", "/health", "", "", 200},
		{"GET", "/api/v1/tasks", "", "", 401},
		{"GET", "/api/v1/tasks", "wrong-key", "", 401},
		{"GET", "/api/v1/tasks", key, "", 200},
		{"GET", "/api/v1/tasks?status=done&limit=5", key, "", 200},
		{"GET", "/api/v1/tasks/1", key, "", 200},
		{"GET", "/api/v1/tasks/9999", key, "", 404},
		{"POST", "/api/v1/tasks", key, `{"title":"write the report"}`, 201},
		{"POST", "/api/v1/tasks", key, `{"status":"todo"}`, 422},
		{"POST", "/api/v1/tasks", key, `not json`, 400},
		{"POST", "/api/v1/tasks", key, `{"title":"` + strings.Repeat("x", 2<<20) + `"}`, 413},
		{"PUT", "/api/v1/projects/2", key, `{"title":"renamed"}`, 200},
		{"PATCH", "/api/v1/documents/3", key, `{"status":"reviewed"}`, 200},
		{"DELETE", "/api/v1/tasks/2", key, "", 204},
		{"DELETE", "/api/v1/tasks/2", key, "", 404},
		{"GET", "/api/v1/search?q=quarterly", key, "", 200},
		{"GET", "/api/v1/search", key, "", 400},
		{"POST", "/api/v1/documents/4/analyze", key, "", 200},
		{"POST", "/api/v1/documents/999/analyze", key, "", 404},
		{"GET", "/nope", key, "", 404},
	}
	for _, tt := range tests {
		code, body, _ := do(t, s, tt.method, tt.path, tt.key, tt.body)
		if code != tt.want {
			t.Errorf("%s %s: %d (%v), want %d", tt.method, tt.path, code, body, tt.want)
		}
	}
}

func TestCRUDRoundTrip(t *testing.T) {
	s := New(Config{NoDelay: true, IDBase: 1})
	key := DefaultKeys[1]
	code, created, _ := do(t, s, "POST", "/api/v1/tasks", key, `{"title":"a","priority":3}`)
	if code != 201 {
		t.Fatal(code)
	}
	path := fmt.Sprintf("/api/v1/tasks/%v", created["id"])
	_, got, _ := do(t, s, "GET", path, key, "")
	if got["title"] != "a" || got["priority"] != float64(3) || got["status"] != "todo" {
		t.Errorf("got %v", got)
	}
	do(t, s, "PATCH", path, key, `{"status":"done"}`)
	_, got, _ = do(t, s, "GET", path, key, "")
	if got["status"] != "done" || got["title"] != "a" {
		t.Errorf("after PATCH %v", got)
	}
	do(t, s, "PUT", path, key, `{"title":"b"}`)
	_, got, _ = do(t, s, "GET", path, key, "")
	if got["title"] != "b" || got["priority"] != nil {
		t.Errorf("after PUT (replace) %v", got)
	}
}

func TestRateLimit(t *testing.T) {
	s := New(Config{NoDelay: true, RatePerKey: 10, Burst: 5, IDBase: 1})
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	var codes []int
	for i := 0; i < 7; i++ {
		code, _, h := do(t, s, "GET", "/api/v1/tasks/1", DefaultKeys[0], "")
		codes = append(codes, code)
		if code == 429 && h.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q", h.Get("Retry-After"))
		}
	}
	if !slices.Equal(codes, []int{200, 200, 200, 200, 200, 429, 429}) {
		t.Errorf("codes %v: burst of 5, then 429", codes)
	}
	// Another key has its own bucket; time refills this one.
	if code, _, _ := do(t, s, "GET", "/api/v1/tasks/1", DefaultKeys[1], ""); code != 200 {
		t.Errorf("other key: %d", code)
	}
	now = now.Add(200 * time.Millisecond) // 2 tokens at 10/s
	for i, want := range []int{200, 200, 429} {
		if code, _, _ := do(t, s, "GET", "/api/v1/tasks/1", DefaultKeys[0], ""); code != want {
			t.Errorf("after refill, request %d: %d, want %d", i, code, want)
		}
	}
}

// The store is safe under concurrency (run with -race): parallel creates
// get distinct ids and all are listed.
func TestConcurrentWrites(t *testing.T) {
	srv := httptest.NewServer(New(Config{NoDelay: true, RatePerKey: 1e6, Burst: 1e6}))
	defer srv.Close()
	var wg sync.WaitGroup
	ids := make(chan float64, 200)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				req, _ := http.NewRequest("POST", srv.URL+"/api/v1/projects", strings.NewReader(`{"title":"p"}`))
				req.Header.Set("X-API-Key", DefaultKeys[2])
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				var v map[string]any
				json.NewDecoder(resp.Body).Decode(&v)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ids <- v["id"].(float64)
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[float64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %v given twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 200 {
		t.Errorf("%d distinct ids", len(seen))
	}
}

// The slow endpoints' latency model has the median and tail it claims.
func TestLatencyModel(t *testing.T) {
	s := New(Config{Seed: 7})
	var d []float64
	for i := 0; i < 20000; i++ {
		d = append(d, float64(s.Latency(80*time.Millisecond, 600*time.Millisecond)))
	}
	slices.Sort(d)
	med, p99 := d[len(d)/2], d[len(d)*99/100]
	if math.Abs(med/float64(80*time.Millisecond)-1) > 0.05 || math.Abs(p99/float64(600*time.Millisecond)-1) > 0.1 {
		t.Errorf("median %v p99 %v, want about 80ms and 600ms", time.Duration(med), time.Duration(p99))
	}
}

// call sends a request to srv with headers (name, value, name, value...)
// and returns the response (body read) and its JSON body.
func call(t *testing.T, c *http.Client, method, url, body string, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	return resp, v
}

func serve(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	cfg.NoDelay = true
	s := New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// logIn returns a bearer token for user.
func logIn(t *testing.T, url, user string) string {
	t.Helper()
	resp, v := call(t, http.DefaultClient, "POST", url+"/api/v1/login", fmt.Sprintf(`{"username":%q,"password":%q}`, user, DefaultUsers[user]))
	token, _ := v["access_token"].(string)
	if resp.StatusCode != 200 || token == "" {
		t.Fatalf("login %s: %d %v", user, resp.StatusCode, v)
	}
	return token
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestLogin(t *testing.T) {
	_, srv := serve(t, Config{})
	tests := []struct {
		name, body string
		want       int
	}{
		{"alice", `{"username":"alice","password":"demo-password-alice"}`, 200},
		{"frank", `{"username":"frank","password":"demo-password-frank"}`, 200},
		{"wrong password", `{"username":"alice","password":"demo-password-bob"}`, 401},
		{"unknown user", `{"username":"mallory","password":"demo-password-mallory"}`, 401},
		{"no password", `{"username":"alice"}`, 401},
		{"not json", `username=alice`, 400},
		{"password a number", `{"username":"alice","password":1}`, 400},
	}
	for _, tt := range tests {
		resp, v := call(t, http.DefaultClient, "POST", srv.URL+"/api/v1/login", tt.body, "Content-Type", "application/json")
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d %v, want %d", tt.name, resp.StatusCode, v, tt.want)
			continue
		}
		if tt.want != 200 {
			if v["detail"] == nil {
				t.Errorf("%s: no detail in %v", tt.name, v)
			}
			continue
		}
		token, _ := v["access_token"].(string)
		user, _ := v["user"].(map[string]any)
		if !hex32.MatchString(token) || v["token_type"] != "bearer" || v["expires_in"] != float64(3600) || user["name"] != tt.name {
			t.Errorf("%s: %v", tt.name, v)
		}
	}
	if a, b := logIn(t, srv.URL, "alice"), logIn(t, srv.URL, "alice"); a == b {
		t.Errorf("two logins, one token %s", a)
	}
}

func TestBearerAuth(t *testing.T) {
	s, srv := serve(t, Config{})
	token := logIn(t, srv.URL, "bob")
	tests := []struct {
		name      string
		headers   []string
		want      int
		challenge bool // a WWW-Authenticate header with the 401
	}{
		{"token", []string{"Authorization", "Bearer " + token}, 200, false},
		{"scheme in lower case", []string{"Authorization", "bearer " + token}, 200, false},
		{"unknown token", []string{"Authorization", "Bearer " + strings.Repeat("0", 32)}, 401, true},
		{"basic", []string{"Authorization", "Basic Ym9iOnB3"}, 401, true},
		{"empty bearer", []string{"Authorization", "Bearer"}, 401, true},
		{"api key still works", []string{"X-API-Key", DefaultKeys[0]}, 200, false},
		{"wrong key beside a good token", []string{"X-API-Key", "nope", "Authorization", "Bearer " + token}, 401, false},
		{"nothing", nil, 401, false},
	}
	for _, tt := range tests {
		resp, v := call(t, http.DefaultClient, "GET", srv.URL+"/api/v1/tasks", "", tt.headers...)
		if resp.StatusCode != tt.want || (resp.Header.Get("WWW-Authenticate") != "") != tt.challenge {
			t.Errorf("%s: %d %v WWW-Authenticate %q, want %d", tt.name, resp.StatusCode, v, resp.Header.Get("WWW-Authenticate"), tt.want)
		}
	}
	// An hour later the token has expired.
	s.now = func() time.Time { return time.Now().Add(tokenTTL + time.Second) }
	if resp, _ := call(t, http.DefaultClient, "GET", srv.URL+"/api/v1/tasks", "", "Authorization", "Bearer "+token); resp.StatusCode != 401 {
		t.Errorf("expired token: %d", resp.StatusCode)
	}
}

// A user's token and session share the user's rate-limit bucket; an API
// key has its own.
func TestRateLimitPerPrincipal(t *testing.T) {
	s, srv := serve(t, Config{RatePerKey: 1e-3, Burst: 2})
	token := logIn(t, srv.URL, "carol")
	sid := webLogIn(t, s, "carol")
	codes := func(headers ...string) int {
		resp, _ := call(t, http.DefaultClient, "GET", srv.URL+"/api/v1/projects", "", headers...)
		return resp.StatusCode
	}
	got := []int{codes("Authorization", "Bearer "+token), codes("Cookie", "sid="+sid), codes("Authorization", "Bearer "+token),
		codes("X-API-Key", DefaultKeys[2])}
	if !slices.Equal(got, []int{200, 200, 429, 200}) {
		t.Errorf("token, cookie, token, key: %v, want the third refused", got)
	}
}

func TestIDBase(t *testing.T) {
	first := func(cfg Config) (task, project float64) {
		_, srv := serve(t, cfg)
		_, tasks := call(t, http.DefaultClient, "GET", srv.URL+"/api/v1/tasks?limit=1", "", "X-API-Key", DefaultKeys[0])
		_, projects := call(t, http.DefaultClient, "GET", srv.URL+"/api/v1/projects?limit=1", "", "X-API-Key", DefaultKeys[0])
		return tasks["items"].([]any)[0].(map[string]any)["id"].(float64), projects["items"].([]any)[0].(map[string]any)["id"].(float64)
	}
	a, _ := first(Config{Seed: 1})
	b, _ := first(Config{Seed: 1})
	if a == b || a < 1000 || a >= 1000000 || b < 1000 || b >= 1000000 {
		t.Errorf("same seed, first ids %v and %v: want two different ones in [1000, 1000000)", a, b)
	}
	task, project := first(Config{IDBase: 5000})
	if task != 5000 || project != 5000 {
		t.Errorf("IDBase 5000: first task %v, project %v", task, project)
	}
	_, srv := serve(t, Config{IDBase: 5000})
	if _, v := call(t, http.DefaultClient, "POST", srv.URL+"/api/v1/tasks", `{"title":"t"}`, "X-API-Key", DefaultKeys[0]); v["id"] != float64(5030) {
		t.Errorf("IDBase 5000: the first new task after 30 seeded is %v", v["id"])
	}
}

// Create answers 201 with the new item's Location, and following it finds
// the item.
func TestLocation(t *testing.T) {
	_, srv := serve(t, Config{IDBase: 100})
	for _, kind := range []string{"tasks", "projects", "documents"} {
		resp, created := call(t, http.DefaultClient, "POST", srv.URL+"/api/v1/"+kind, `{"title":"new"}`, "X-API-Key", DefaultKeys[0])
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 201 || loc != fmt.Sprintf("/api/v1/%s/%v", kind, created["id"]) {
			t.Errorf("%s: %d Location %q for %v", kind, resp.StatusCode, loc, created)
			continue
		}
		resp, got := call(t, http.DefaultClient, "GET", srv.URL+loc, "", "X-API-Key", DefaultKeys[0])
		if resp.StatusCode != 200 || got["id"] != created["id"] || got["title"] != "new" {
			t.Errorf("%s: GET %s: %d %v", kind, loc, resp.StatusCode, got)
		}
	}
}

func TestETag(t *testing.T) {
	_, srv := serve(t, Config{IDBase: 100})
	key := []string{"X-API-Key", DefaultKeys[0]}
	resp, created := call(t, http.DefaultClient, "POST", srv.URL+"/api/v1/tasks", `{"title":"v1"}`, key...)
	url := srv.URL + resp.Header.Get("Location")
	v1 := resp.Header.Get("ETag")
	if want := fmt.Sprintf(`"tasks-%v-v1"`, created["id"]); v1 != want {
		t.Fatalf("ETag on create %q, want %q", v1, want)
	}
	if resp, _ := call(t, http.DefaultClient, "GET", url, "", key...); resp.Header.Get("ETag") != v1 {
		t.Errorf("GET: ETag %q, want %q", resp.Header.Get("ETag"), v1)
	}
	id := fmt.Sprint(created["id"])
	steps := []struct {
		name, method, ifMatch, body string
		want                        int
		etag                        string // after the step; "" for none
	}{
		{"PUT without If-Match", "PUT", "", `{"title":"v2"}`, 200, `"tasks-` + id + `-v2"`},
		{"PATCH with the current tag", "PATCH", `"tasks-` + id + `-v2"`, `{"status":"done"}`, 200, `"tasks-` + id + `-v3"`},
		{"PUT with a stale tag", "PUT", v1, `{"title":"lost"}`, 412, ""},
		{"PATCH with a stale tag", "PATCH", v1, `{"title":"lost"}`, 412, ""},
		{"PATCH with a weak tag", "PATCH", `W/"tasks-` + id + `-v3"`, `{"title":"lost"}`, 412, ""},
		{"PUT with one of a list", "PUT", v1 + `, "tasks-` + id + `-v3"`, `{"title":"v4"}`, 200, `"tasks-` + id + `-v4"`},
		{"PATCH with *", "PATCH", "*", `{"status":"todo"}`, 200, `"tasks-` + id + `-v5"`},
		{"DELETE with a stale tag", "DELETE", v1, "", 412, ""},
		{"DELETE with the current tag", "DELETE", `"tasks-` + id + `-v5"`, "", 204, ""},
		{"PATCH with * after the delete", "PATCH", "*", `{"status":"todo"}`, 404, ""},
	}
	for _, st := range steps {
		var h []string
		if st.ifMatch != "" {
			h = []string{"If-Match", st.ifMatch}
		}
		resp, v := call(t, http.DefaultClient, st.method, url, st.body, append(h, key...)...)
		if resp.StatusCode != st.want || resp.Header.Get("ETag") != st.etag {
			t.Errorf("%s: %d ETag %q (%v), want %d %q", st.name, resp.StatusCode, resp.Header.Get("ETag"), v, st.want, st.etag)
		}
		if st.want == 412 && v["detail"] == nil {
			t.Errorf("%s: no detail in %v", st.name, v)
		}
	}
}

// webLogIn returns the sid of a new session of user.
func webLogIn(t *testing.T, s *Server, user string) string {
	t.Helper()
	req := httptest.NewRequest("POST", "/web/login", strings.NewReader("username="+user+"&password="+DefaultUsers[user]))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sid" {
			return c.Value
		}
	}
	t.Fatalf("web login %s: %d, no sid cookie", user, rec.Code)
	return ""
}

func TestWebLogin(t *testing.T) {
	_, srv := serve(t, Config{})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	tests := []struct {
		name, body string
		headers    []string
		want       int
	}{
		{"alice", "username=alice&password=demo-password-alice", form, 303},
		{"wrong password", "username=alice&password=nope", form, 401},
		{"unknown user", "username=mallory&password=demo-password-alice", form, 401},
		{"json", `{"username":"alice","password":"demo-password-alice"}`, []string{"Content-Type", "application/json"}, 400},
	}
	setCookie := regexp.MustCompile(`^sid=[0-9a-f]{32}; Path=/; HttpOnly; SameSite=Lax$`)
	for _, tt := range tests {
		resp, _ := call(t, noRedirect, "POST", srv.URL+"/web/login", tt.body, tt.headers...)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
		if tt.want == 303 && (resp.Header.Get("Location") != "/web/dashboard" || !setCookie.MatchString(resp.Header.Get("Set-Cookie"))) {
			t.Errorf("%s: Location %q Set-Cookie %q", tt.name, resp.Header.Get("Location"), resp.Header.Get("Set-Cookie"))
		}
		if tt.want != 303 && resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s: Set-Cookie %q", tt.name, resp.Header.Get("Set-Cookie"))
		}
	}
	// A browser follows the redirect with the cookie.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, v := call(t, browser, "POST", srv.URL+"/web/login", "username=dave&password=demo-password-dave", form...)
	user, _ := v["user"].(map[string]any)
	tasks, _ := v["tasks"].([]any)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/web/dashboard" || user["name"] != "dave" || len(tasks) != 5 {
		t.Fatalf("after the redirect: %d %s %v", resp.StatusCode, resp.Request.URL.Path, v)
	}
	for _, it := range tasks {
		if it.(map[string]any)["owner"] != "dave" {
			t.Errorf("dave's dashboard shows %v", it)
		}
	}
}

func TestCookieRoutes(t *testing.T) {
	s, srv := serve(t, Config{})
	sid := "sid=" + webLogIn(t, s, "erin")
	unknown := "sid=" + strings.Repeat("0", 32)
	tests := []struct {
		method, path, cookie, body string
		want                       int
	}{
		{"GET", "/web/dashboard", sid, "", 200},
		{"GET", "/web/dashboard", "", "", 401},
		{"GET", "/web/dashboard", unknown, "", 401},
		{"GET", "/web/preferences", sid, "", 200},
		{"GET", "/web/preferences", "", "", 401},
		{"PUT", "/web/preferences", sid, `{"theme":"dark","page_size":50}`, 200},
		{"PUT", "/web/preferences", unknown, `{"theme":"light"}`, 401},
		{"PUT", "/web/preferences", sid, `[1]`, 400},
		{"GET", "/api/v1/tasks", sid, "", 200},
		{"POST", "/api/v1/tasks", sid, `{"title":"from the web"}`, 201},
		{"GET", "/api/v1/tasks", unknown, "", 401},
	}
	for _, tt := range tests {
		var h []string
		if tt.cookie != "" {
			h = []string{"Cookie", tt.cookie}
		}
		if resp, v := call(t, http.DefaultClient, tt.method, srv.URL+tt.path, tt.body, h...); resp.StatusCode != tt.want {
			t.Errorf("%s %s cookie %q: %d %v, want %d", tt.method, tt.path, tt.cookie, resp.StatusCode, v, tt.want)
		}
	}
	// An API key is no session: the web pages want the cookie.
	if resp, _ := call(t, http.DefaultClient, "GET", srv.URL+"/web/dashboard", "", "X-API-Key", DefaultKeys[4]); resp.StatusCode != 401 {
		t.Errorf("dashboard with an API key: %d", resp.StatusCode)
	}
	_, prefs := call(t, http.DefaultClient, "GET", srv.URL+"/web/preferences", "", "Cookie", sid)
	if prefs["theme"] != "dark" || prefs["page_size"] != float64(50) {
		t.Errorf("preferences after PUT: %v", prefs)
	}
	_, dash := call(t, http.DefaultClient, "GET", srv.URL+"/web/dashboard", "", "Cookie", sid)
	if tasks, _ := dash["tasks"].([]any); len(tasks) == 0 || tasks[0].(map[string]any)["title"] != "from the web" {
		t.Errorf("dashboard: the task created with the cookie is not the newest: %v", dash)
	}
}

func TestIdempotencyKey(t *testing.T) {
	_, srv := serve(t, Config{IDBase: 100})
	bob := []string{"Authorization", "Bearer " + logIn(t, srv.URL, "bob")}
	carol := []string{"Authorization", "Bearer " + logIn(t, srv.URL, "carol")}
	post := func(who []string, key string) (*http.Response, map[string]any) {
		h := who
		if key != "" {
			h = append([]string{"Idempotency-Key", key}, who...)
		}
		return call(t, http.DefaultClient, "POST", srv.URL+"/api/v1/tasks", `{"title":"once"}`, h...)
	}
	first, v := post(bob, "k1")
	again, w := post(bob, "k1")
	if first.StatusCode != 201 || again.StatusCode != 201 || v["id"] != w["id"] || v["created_at"] != w["created_at"] ||
		first.Header.Get("Location") != again.Header.Get("Location") || first.Header.Get("ETag") != again.Header.Get("ETag") {
		t.Errorf("retry: %d %v %v, first %d %v %v", again.StatusCode, w, again.Header, first.StatusCode, v, first.Header)
	}
	if again.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("Idempotent-Replayed: first %q, retry %q", first.Header.Get("Idempotent-Replayed"), again.Header.Get("Idempotent-Replayed"))
	}
	others := map[string]func() (*http.Response, map[string]any){
		"another key":         func() (*http.Response, map[string]any) { return post(bob, "k2") },
		"another user's key":  func() (*http.Response, map[string]any) { return post(carol, "k1") },
		"no key":              func() (*http.Response, map[string]any) { return post(bob, "") },
		"no key, second time": func() (*http.Response, map[string]any) { return post(bob, "") },
	}
	seen := map[any]string{v["id"]: "k1"}
	for name, f := range others {
		resp, x := f()
		if resp.StatusCode != 201 || seen[x["id"]] != "" {
			t.Errorf("%s: %d id %v, already given to %q", name, resp.StatusCode, x["id"], seen[x["id"]])
		}
		seen[x["id"]] = name
	}
}

// Retries that arrive together still make one task (run with -race).
func TestIdempotencyKeyConcurrent(t *testing.T) {
	_, srv := serve(t, Config{RatePerKey: 1e6, Burst: 1e6})
	var wg sync.WaitGroup
	ids := make([]any, 16)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/tasks", strings.NewReader(`{"title":"once"}`))
			req.Header.Set("X-API-Key", DefaultKeys[0])
			req.Header.Set("Idempotency-Key", "same")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var v map[string]any
			json.NewDecoder(resp.Body).Decode(&v)
			ids[i] = v["id"]
		}()
	}
	wg.Wait()
	if ids[0] == nil || slices.ContainsFunc(ids, func(id any) bool { return id != ids[0] }) {
		t.Errorf("ids %v: want one", ids)
	}
}

func TestDocumentUUID(t *testing.T) {
	_, srv := serve(t, Config{IDBase: 100})
	key := []string{"X-API-Key", DefaultKeys[0]}
	const u = "0b6f3c2e-6a43-4c8e-9d7e-2f1a5b9c8d70"
	post := func(body string) int {
		resp, _ := call(t, http.DefaultClient, "POST", srv.URL+"/api/v1/documents", body, key...)
		return resp.StatusCode
	}
	resp, doc := call(t, http.DefaultClient, "POST", srv.URL+"/api/v1/documents", `{"title":"d","uuid":"`+u+`"}`, key...)
	if resp.StatusCode != 201 || doc["uuid"] != u {
		t.Fatalf("create with a uuid: %d %v", resp.StatusCode, doc)
	}
	loc := srv.URL + resp.Header.Get("Location")
	tests := []struct {
		name, body string
		want       int
	}{
		{"the same uuid", `{"title":"again","uuid":"` + u + `"}`, 409},
		{"in upper case", `{"title":"again","uuid":"` + strings.ToUpper(u) + `"}`, 409},
		{"another uuid", `{"title":"other","uuid":"` + strings.Replace(u, "0b6f", "1b6f", 1) + `"}`, 201},
		{"no uuid", `{"title":"plain"}`, 201},
		{"not a uuid", `{"title":"bad","uuid":"abc"}`, 422},
		{"a number", `{"title":"bad","uuid":7}`, 422},
	}
	for _, tt := range tests {
		if got := post(tt.body); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	// The uuid is the document's: a PUT keeps it; once deleted, it is free.
	if _, v := call(t, http.DefaultClient, "PUT", loc, `{"title":"renamed","uuid":"`+strings.Replace(u, "0b6f", "2b6f", 1)+`"}`, key...); v["uuid"] != u {
		t.Errorf("after PUT: %v", v)
	}
	call(t, http.DefaultClient, "DELETE", loc, "", key...)
	if got := post(`{"title":"reborn","uuid":"` + u + `"}`); got != 201 {
		t.Errorf("the uuid of a deleted document: %d", got)
	}
}

func TestFIFO(t *testing.T) {
	f := newFIFO[int](3)
	for i, k := range []string{"a", "b", "c", "b", "d"} {
		f.put(k, i)
	}
	var kept []string
	for _, k := range []string{"a", "b", "c", "d"} {
		if _, ok := f.get(k); ok {
			kept = append(kept, k)
		}
	}
	if !slices.Equal(kept, []string{"b", "c", "d"}) {
		t.Errorf("kept %v, want the oldest dropped", kept)
	}
	if v, seen := f.getOrPut("c", 9); !seen || v != 2 {
		t.Errorf("getOrPut of a kept key: %v %v", v, seen)
	}
}
