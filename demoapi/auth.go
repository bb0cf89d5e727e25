package demoapi

import (
	"context"
	crand "crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultUsers are the accounts a default Server knows, user name to
// password, for POST /api/v1/login and POST /web/login; the sample traffic
// logs in with them. New copies it: changing it later changes no Server.
var DefaultUsers = map[string]string{
	"alice": "demo-password-alice",
	"bob":   "demo-password-bob",
	"carol": "demo-password-carol",
	"dave":  "demo-password-dave",
	"erin":  "demo-password-erin",
	"frank": "demo-password-frank",
}

const (
	// tokenTTL is how long a bearer token is accepted (expires_in).
	tokenTTL = time.Hour
	// sessionTTL is how long a sid cookie is accepted: a working day.
	sessionTTL = 12 * time.Hour
	// maxLogins bounds the live tokens and, apart, the live sessions: a
	// load test that logs in a million times drops the oldest.
	maxLogins = 100_000
)

// principal is who sent a request: an API key, or a user who logged in
// with a token or a session cookie.
type principal struct {
	// id names the rate-limit bucket and the scope of Idempotency-Keys:
	// "key:<key>" or "user:<name>" (a user's token and cookie share one).
	id string
	// user is the user's name; "" for an API key.
	user string
}

// login is a bearer token or a session this server issued.
type login struct {
	user    string
	expires time.Time
}

type principalKey struct{}

// principalOf returns who sent r, as auth found out.
func principalOf(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// authError is a refused credential; challenge, if set, is the
// WWW-Authenticate header to send with the 401.
type authError struct {
	detail, challenge string
}

func (e *authError) Error() string { return e.detail }

// auth lets a request through with an X-API-Key, a bearer token or a sid
// cookie, within the rate limit of whoever it is.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return s.limited(s.identify, h)
}

// cookieAuth lets a request through with a sid cookie only, as a web
// page's route does.
func (s *Server) cookieAuth(h http.HandlerFunc) http.HandlerFunc {
	return s.limited(s.session, h)
}

func (s *Server) limited(identify func(*http.Request) (principal, *authError), h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := identify(r)
		if err != nil {
			if err.challenge != "" {
				w.Header().Set("WWW-Authenticate", err.challenge)
			}
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": err.detail})
			return
		}
		if wait := s.take(p.id); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"detail": "Rate limit exceeded"})
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// identify finds the principal of an API request: the first credential
// present decides (X-API-Key, then Authorization, then the sid cookie), so
// a wrong key is refused even beside a good cookie.
func (s *Server) identify(r *http.Request) (principal, *authError) {
	if key := r.Header.Get("X-API-Key"); key != "" {
		if !s.keys[key] {
			return principal{}, &authError{detail: "Invalid or missing API key"}
		}
		return principal{id: "key:" + key}, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		return s.bearer(h)
	}
	if _, err := r.Cookie("sid"); err == nil {
		return s.session(r)
	}
	return principal{}, &authError{detail: "Invalid or missing API key: send X-API-Key, Authorization: Bearer <token> or the sid cookie"}
}

// bearer checks an Authorization header's token.
func (s *Server) bearer(header string) (principal, *authError) {
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return principal{}, &authError{detail: "Authorization must be Bearer <token>", challenge: `Bearer realm="demoapi"`}
	}
	l, ok := s.tokens.get(strings.TrimSpace(token))
	if !ok || !s.now().Before(l.expires) {
		return principal{}, &authError{detail: "Invalid or expired token", challenge: `Bearer realm="demoapi", error="invalid_token"`}
	}
	return principal{id: "user:" + l.user, user: l.user}, nil
}

// session checks the sid cookie.
func (s *Server) session(r *http.Request) (principal, *authError) {
	c, err := r.Cookie("sid")
	if err != nil {
		return principal{}, &authError{detail: "Not logged in: no sid cookie"}
	}
	l, ok := s.sessions.get(c.Value)
	if !ok || !s.now().Before(l.expires) {
		return principal{}, &authError{detail: "Not logged in: unknown or expired session"}
	}
	return principal{id: "user:" + l.user, user: l.user}, nil
}

// checkPassword says whether password is user's, in time that does not
// tell how much of it was right.
func (s *Server) checkPassword(user, password string) bool {
	want, ok := s.users[user]
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1
}

// newSecret returns 32 hex characters from crypto/rand: a token or a
// session id nobody can guess.
func newSecret() string {
	b := make([]byte, 16)
	crand.Read(b) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b)
}

// apiLogin answers POST /api/v1/login: a JSON body with username and
// password gives a bearer token, as an OAuth2 password grant does.
func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) {
	// Checking a password is slow on purpose in real servers (bcrypt).
	s.delay(r, 20*time.Millisecond, 120*time.Millisecond)
	var c struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		var tooBig *http.MaxBytesError
		if !errors.As(err, &tooBig) {
			err = apiError{http.StatusBadRequest, `body must be a JSON object {"username": ..., "password": ...}: ` + err.Error()}
		}
		writeError(w, err)
		return
	}
	if !s.checkPassword(c.Username, c.Password) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Incorrect username or password"})
		return
	}
	token := newSecret()
	s.tokens.put(token, login{user: c.Username, expires: s.now().Add(tokenTTL)})
	w.Header().Set("Cache-Control", "no-store") // RFC 6749: tokens are not cached
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "bearer",
		"expires_in": int(tokenTTL.Seconds()), "user": map[string]string{"name": c.Username}})
}

// webLogin answers POST /web/login: an HTML form's username and password
// give a sid cookie and a redirect to the dashboard, as a web app does.
func (s *Server) webLogin(w http.ResponseWriter, r *http.Request) {
	s.delay(r, 20*time.Millisecond, 120*time.Millisecond)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "body must be application/x-www-form-urlencoded"})
		return
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if !errors.As(err, &tooBig) {
			err = apiError{http.StatusBadRequest, "read the form: " + err.Error()}
		}
		writeError(w, err)
		return
	}
	user := r.PostForm.Get("username")
	if !s.checkPassword(user, r.PostForm.Get("password")) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Incorrect username or password"})
		return
	}
	sid := newSecret()
	s.sessions.put(sid, login{user: user, expires: s.now().Add(sessionTTL)})
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/web/dashboard", http.StatusSeeOther)
}
