// Package e2e runs the commands together as a user would: record through
// the proxy, replay, analyze, and checks what only the whole chain shows.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/replaykit/replaykit/internal/syncbuf"
	"github.com/replaykit/replaykit/results"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "replaykit-e2e-")
	if err != nil {
		panic(err)
	}
	bin = dir
	cmd := exec.Command("go", "build", "-o", dir+"/", "../cmd/record", "../cmd/replay", "../cmd/analyze", "../cmd/demoapi")
	if out, err := cmd.CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var listeningOn = regexp.MustCompile(`listening on (?:http://)?(\S+?),?\s`)

// start runs a server command in the background (given port 0), waits
// for the line that says where it listens, and returns that address. A
// port picked beforehand and passed in could be taken by another test's
// server meanwhile. The output goes to out; the command is interrupted
// (then killed) when the test ends.
func start(t *testing.T, out *syncbuf.Buffer, env []string, name string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = out, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(cmd); pw.Close() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			out.Write([]byte(line + "\n"))
			if m := listeningOn.FindStringSubmatch(line + " "); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not say where it listens:\n%s", name, out.String())
		return nil, ""
	}
}

func stop(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func runCmd(t *testing.T, out io.Writer, env []string, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	for range 100 {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer", url)
}

// listening says whether a TCP socket listens on port, and on which
// address (from /proc/net/tcp and tcp6): "127.0.0.1" or "0.0.0.0"...
func listening(t *testing.T, port string) []string {
	var out []string
	var p int
	fmt.Sscan(port, &p)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" { // LISTEN
				continue
			}
			addr, hexPort, _ := strings.Cut(fields[1], ":")
			var lp int
			fmt.Sscanf(hexPort, "%X", &lp)
			if lp != p {
				continue
			}
			switch addr {
			case "0100007F":
				out = append(out, "127.0.0.1")
			case "00000000000000000000000001000000":
				out = append(out, "::1")
			default:
				out = append(out, addr)
			}
		}
	}
	return out
}

// Secrets planted in recorded requests (an API key, a bearer token, a
// session cookie, a custom credential header) reach no file and no output
// line of a record + replay + analyze run: not the trace, not the results,
// not the reports, not a log line or an error message, even though the
// real API key is handed to replay. Every file written is 0600, and the
// demo API and the proxy listen on loopback when given a bare :PORT.
func TestSecretsStayOut(t *testing.T) {
	const (
		apiKey  = "sk-live-PLANTED-api-key-4f1d"
		bearer  = "PLANTED-bearer-token-9c2e"
		cookie  = "PLANTED-session-cookie-77aa"
		custom  = "PLANTED-custom-credential-31b0"
		refused = "sk-live-PLANTED-wrong-key-0d0d"
	)
	secrets := []string{apiKey, bearer, cookie, custom, refused}
	dir := t.TempDir()
	var logs syncbuf.Buffer

	_, apiAddr := start(t, &logs, nil, "demoapi", "--addr", ":0", "--keys", apiKey, "--no-delay")
	waitHTTP(t, "http://"+apiAddr+"/health")
	recorder, proxyAddr := start(t, &logs, nil, "record", "--proxy", ":0", "--upstream", "http://"+apiAddr,
		"-o", filepath.Join(dir, "traces"), "--redact-header", "X-Custom-Credential")
	waitHTTP(t, "http://"+proxyAddr+"/health")
	_, apiPort, _ := net.SplitHostPort(apiAddr)
	_, proxyPort, _ := net.SplitHostPort(proxyAddr)
	for name, port := range map[string]string{"demoapi": apiPort, "record --proxy": proxyPort} {
		if got := listening(t, port); len(got) == 0 || strings.Join(got, ",") != "127.0.0.1" {
			t.Errorf("%s given :%s listens on %v, want 127.0.0.1 only", name, port, got)
		}
	}

	// A user's requests through the proxy, every secret in a header.
	client := &http.Client{Timeout: 5 * time.Second}
	send := func(method, path, body, key string) {
		req, _ := http.NewRequest(method, "http://"+proxyAddr+path, strings.NewReader(body))
		req.Header.Set("X-API-Key", key)
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Cookie", "session="+cookie+"; theme=dark")
		req.Header.Set("X-Custom-Credential", custom)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for i := range 20 {
		send("GET", "/api/v1/tasks", "", apiKey)
		send("POST", "/api/v1/tasks", fmt.Sprintf(`{"title":"task %d"}`, i), apiKey)
		send("GET", "/api/v1/projects", "", refused) // a 401, recorded too
	}
	// A login: the token it hands out, then a form login and the session
	// cookie the server sets, each used by later requests. Neither may
	// reach a file (the trace keeps links, positions only).
	noRedirect := &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(req *http.Request) (*http.Response, []byte) {
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	req, _ := http.NewRequest("POST", "http://"+proxyAddr+"/api/v1/login", strings.NewReader(`{"username":"bob","password":"demo-password-bob"}`))
	req.Header.Set("Content-Type", "application/json")
	_, body := do(req)
	var login struct {
		Token string `json:"access_token"`
	}
	if json.Unmarshal(body, &login); len(login.Token) < 16 {
		t.Fatalf("login answered %s", body)
	}
	req, _ = http.NewRequest("POST", "http://"+proxyAddr+"/web/login", strings.NewReader("username=carol&password=demo-password-carol"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ := do(req)
	var sid string
	for _, c := range resp.Cookies() {
		if c.Name == "sid" {
			sid = c.Value
		}
	}
	if len(sid) < 16 {
		t.Fatalf("web login set no sid cookie: %v", resp.Header)
	}
	secrets = append(secrets, login.Token, sid)
	for range 5 {
		req, _ = http.NewRequest("GET", "http://"+proxyAddr+"/api/v1/tasks", nil)
		req.Header.Set("Authorization", "Bearer "+login.Token)
		if resp, _ := do(req); resp.StatusCode != 200 {
			t.Fatalf("the token's request: %s", resp.Status)
		}
		req, _ = http.NewRequest("GET", "http://"+proxyAddr+"/web/dashboard", nil)
		req.Header.Set("Cookie", "sid="+sid)
		if resp, _ := do(req); resp.StatusCode != 200 {
			t.Fatalf("the cookie's request: %s", resp.Status)
		}
	}
	stop(recorder) // SIGINT: the trace is written whole

	code := runCmd(t, &logs, []string{"API_KEY=" + apiKey}, "replay", "--trace", filepath.Join(dir, "traces", "*.parquet"),
		"--host", "http://"+apiAddr, "--out", filepath.Join(dir, "results"), "--duration", "3s", "--scale", "3",
		"--pacing", "stress", "--format", "html,csv,json,junit", "light")
	if code > 1 {
		t.Fatalf("replay exit %d:\n%s", code, logs.String())
	}
	code = runCmd(t, &logs, []string{"API_KEY=" + apiKey}, "replay", "--trace", filepath.Join(dir, "traces", "*.parquet"),
		"--host", "http://"+apiAddr, "--check-only")
	if code != 0 {
		t.Errorf("check-only exit %d", code)
	}
	code = runCmd(t, &logs, []string{"API_KEY=" + refused}, "replay", "--trace", filepath.Join(dir, "traces", "*.parquet"),
		"--host", "http://"+apiAddr, "--check-only")
	if code != 1 {
		t.Errorf("check-only with a refused key: exit %d", code)
	}
	runCmd(t, &logs, nil, "analyze", filepath.Join(dir, "results", "*.parquet"), "--out", filepath.Join(dir, "report"),
		"--format", "html,csv,json,junit")
	// The replayed sessions logged in anew and used what they got.
	paths, _ := filepath.Glob(filepath.Join(dir, "results", "*.parquet"))
	carried := map[string]int{}
	for _, p := range paths {
		rows, err := results.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			// The dashboard's cookie comes from the replay's cookie jar
			// (the recorded one is redacted); the token is a carried value.
			if r.Name == "/web/dashboard" || (r.Name == "/api/v1/tasks" && r.Method == "GET" && r.Carried > 0) {
				if r.Status != 200 {
					t.Errorf("replayed %s %s: %d (%d values carried); want 200 with the live token or cookie", r.Method, r.Name, r.Status, r.Carried)
				}
				carried[r.Name]++
			}
		}
	}
	if carried["/web/dashboard"] == 0 || carried["/api/v1/tasks"] == 0 {
		t.Errorf("replayed with carried values: %v; want the token's and the cookie's requests", carried)
	}

	// Every byte written, and every line printed.
	files := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, _ := os.ReadFile(path)
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds the secret %q", path, s)
			}
		}
		if info, _ := d.Info(); info.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", path, info.Mode().Perm())
		}
		return nil
	})
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("a log line holds the secret %q", s)
		}
	}
	kinds := map[string]bool{}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if !d.IsDir() {
			kinds[filepath.Ext(path)] = true
		}
		return nil
	})
	for _, ext := range []string{".parquet", ".html", ".csv", ".json", ".xml"} {
		if !kinds[ext] {
			t.Errorf("no %s file written: the check saw %d files", ext, files)
		}
	}
}
