// Command vcsim is ferry's launcher for govmomi's vCenter simulator (vcsim) in the test world.
//
// Build it offline from Debian's golang-github-vmware-govmomi-dev (0.24):
//
//	cd test/vcsim && GO111MODULE=off GOPATH=/usr/share/gocode go build -o vcsim .
//
// It starts a VPX (vCenter) model with the vAPI REST endpoints enabled (Content Library,
// update/download sessions, PUSH and PULL), prints ONE line of JSON to stdout once it serves:
//
//	{"url":"https://127.0.0.1:PORT","datastoreId":"...","datastorePath":"...","caFile":"..."}
//
// and stops on SIGTERM or SIGINT. Diagnostics go to stderr.
//
// Test hook: GET /ferry-test/update-sessions answers {"open":N,"peak":N,"created":N}, the Content
// Library update sessions open now (created, not yet completed, failed, canceled or deleted), the
// most ever open at once, and how many were created; DELETE on it resets peak to open. Tests count
// concurrency limits here, at the source of truth, instead of sampling the client side.
//
// Transport: HTTPS with vcsim's built-in self-signed certificate (Go's httptest localhost
// certificate, valid for 127.0.0.1). That is what a real vCenter looks like to ferry, so the
// TLS code path is exercised; TypeScript clients either set `insecure: true` or trust the
// certificate written to `caFile` (PEM). The upload/download URLs vcsim hands out in update and
// download sessions use the same scheme and host.
//
// Datastores: vcsim creates the model's local datastores with ioutil.TempDir(""), i.e. under
// $TMPDIR, and a local datastore's moref value is "<host dir>@<folder id>". The Content Library
// simulator stores a library at "<part of the datastore id before '@'>/contentlib-<library id>/"
// and an item's files under "<item id>/<file name>" below it. The launcher therefore points
// TMPDIR at -dir before creating the model, so every uploaded byte lands inside the test's dir.
//
// Credentials: vcsim's REST session endpoint accepts any non-empty user and password. With
// -username/-password the launcher rejects POST /rest/com/vmware/cis/session (login) with 401
// unless HTTP Basic auth matches, so a test can prove a wrong password is reported as such.
// vcsim 0.24 has no /api/session (the newer JSON API); only /rest/... is served.
package main

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io/ioutil"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator"
)

const sessionPath = "/rest/com/vmware/cis/session"

func fatal(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "vcsim: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (port 0 picks a free port)")
	dir := flag.String("dir", "", "directory for datastore storage (default: $TMPDIR)")
	username := flag.String("username", "", "when set with -password, the only user the REST login accepts")
	password := flag.String("password", "", "when set with -username, the only password the REST login accepts")
	idle := flag.Duration("session-idle", 0, "expire REST and SOAP sessions idle this long (0 = never)")
	flag.Parse()

	if *dir != "" {
		abs, err := filepath.Abs(*dir)
		if err != nil {
			fatal("dir: %s", err)
		}
		if err := os.MkdirAll(abs, 0o750); err != nil {
			fatal("dir: %s", err)
		}
		// Model.Create makes datastore dirs with ioutil.TempDir("", ...), which honours TMPDIR.
		if err := os.Setenv("TMPDIR", abs); err != nil {
			fatal("dir: %s", err)
		}
		*dir = abs
	}
	if *idle > 0 {
		simulator.SessionIdleTimeout = *idle
	}

	model := simulator.VPX()
	if err := model.Create(); err != nil {
		fatal("create model: %s", err)
	}

	model.Service.RegisterEndpoints = true
	model.Service.Listen = &url.URL{Host: *listen}
	model.Service.TLS = new(tls.Config)

	server := model.Service.NewServer()

	if *username != "" || *password != "" {
		wrapLogin(model.Service.ServeMux, *username, *password)
	}
	countUpdateSessions(model.Service.ServeMux)

	ds, ok := simulator.Map.Any("Datastore").(*simulator.Datastore)
	if !ok {
		fatal("model has no datastore")
	}
	dsPath := ds.Info.GetDatastoreInfo().Url

	caFile := ""
	if *dir != "" {
		caFile = filepath.Join(*dir, "vcsim-ca.pem")
		block := &pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw}
		if err := ioutil.WriteFile(caFile, pem.EncodeToMemory(block), 0o600); err != nil {
			fatal("write ca file: %s", err)
		}
	}

	u := url.URL{Scheme: server.URL.Scheme, Host: server.URL.Host}
	line, err := json.Marshal(map[string]string{
		"url":           u.String(),
		"datastoreId":   ds.Reference().Value,
		"datastorePath": dsPath,
		"caFile":        caFile,
	})
	if err != nil {
		fatal("marshal: %s", err)
	}
	fmt.Println(string(line))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig

	// Server.Close waits for in-flight requests (an upload may be streaming): bound it.
	done := make(chan struct{})
	go func() {
		server.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		fmt.Fprintln(os.Stderr, "vcsim: in-flight requests did not finish within 3s, exiting anyway")
	}
	model.Remove() // removes the datastore dirs it created
}

// wrapLogin registers a handler for the exact login path (more specific than the vAPI
// simulator's "/rest/" pattern) that checks Basic credentials before passing the request on.
// Only the login itself (POST without ~action) is checked; everything else is unchanged.
func wrapLogin(mux *http.ServeMux, username, password string) {
	probe := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: sessionPath}}
	next, pattern := mux.Handler(probe)
	if pattern == "" || pattern == sessionPath {
		fatal("vAPI session endpoint not registered (pattern %q)", pattern)
	}
	mux.HandleFunc(sessionPath, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Query().Get("~action") == "" {
			u, p, ok := r.BasicAuth()
			if !ok || !equal(u, username) || !equal(p, password) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = fmt.Fprint(w, `{"type":"com.vmware.vapi.std.errors.unauthenticated","value":{"messages":[{"default_message":"Authentication required.","id":"com.vmware.vapi.endpoint.method.authentication.required"}]}}`)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

const updateSessionPath = "/rest/com/vmware/content/library/item/update-session"

// sessionCounter keeps the high-water mark of open update sessions (see the test hook above).
type sessionCounter struct {
	sync.Mutex
	open    map[string]bool
	peak    int
	created int
}

// recorder keeps the status and body of a response while passing them on.
type recorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if len(r.body) < 4096 {
		r.body = append(r.body, b...)
	}
	return r.ResponseWriter.Write(b)
}

// countUpdateSessions wraps the vAPI update-session endpoints (more specific patterns than the
// simulator's "/rest/") to count sessions, and serves the counts on /ferry-test/update-sessions.
func countUpdateSessions(mux *http.ServeMux) {
	c := &sessionCounter{open: map[string]bool{}}
	probe := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: updateSessionPath}}
	next, pattern := mux.Handler(probe)
	if pattern == "" || pattern == updateSessionPath {
		fatal("vAPI update-session endpoint not registered (pattern %q)", pattern)
	}
	mux.HandleFunc(updateSessionPath, func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		action := r.URL.Query().Get("~action")
		if r.Method != http.MethodPost || (action != "" && action != "create") || rec.status != http.StatusOK {
			return
		}
		var created struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(rec.body, &created); err != nil || created.Value == "" {
			fmt.Fprintf(os.Stderr, "vcsim: update session create answered %q\n", rec.body)
			return
		}
		c.Lock()
		c.open[created.Value] = true
		c.created++
		if len(c.open) > c.peak {
			c.peak = len(c.open)
		}
		c.Unlock()
	})
	mux.HandleFunc(updateSessionPath+"/", func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		action := r.URL.Query().Get("~action")
		closing := r.Method == http.MethodDelete ||
			(r.Method == http.MethodPost && (action == "complete" || action == "fail" || action == "cancel"))
		if !closing || rec.status != http.StatusOK {
			return
		}
		id := strings.TrimPrefix(path.Base(r.URL.Path), "id:")
		c.Lock()
		delete(c.open, id)
		c.Unlock()
	})
	mux.HandleFunc("/ferry-test/update-sessions", func(w http.ResponseWriter, r *http.Request) {
		c.Lock()
		if r.Method == http.MethodDelete {
			c.peak = len(c.open)
		}
		body, _ := json.Marshal(map[string]int{"open": len(c.open), "peak": c.peak, "created": c.created})
		c.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}
