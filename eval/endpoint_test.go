package eval

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewEndpointURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"http://localhost:8000", "http://localhost:8000/v1/completions"},
		{"http://localhost:8000/", "http://localhost:8000/v1/completions"},
		{"http://localhost:8000/v1", "http://localhost:8000/v1/completions"},
		{"https://h/v1/", "https://h/v1/completions"},
		{"http://h/proxy/v1/completions", "http://h/proxy/v1/completions"},
		{"http://h/api", "http://h/api/v1/completions"},
	}
	for _, c := range cases {
		e, err := NewEndpoint(c.in, "m")
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if e.URL != c.want {
			t.Errorf("NewEndpoint(%q).URL = %q, want %q", c.in, e.URL, c.want)
		}
	}
	for _, bad := range []string{"localhost:8000", "ftp://h", "http://", "::"} {
		if _, err := NewEndpoint(bad, "m"); err == nil {
			t.Errorf("NewEndpoint(%q): no error", bad)
		}
	}
	if _, err := NewEndpoint("http://h", ""); err == nil {
		t.Error("no model name: no error")
	}
}

// fakeServer answers completions with a scripted sequence of behaviours.
type fakeServer struct {
	calls   atomic.Int32
	respond func(call int, w http.ResponseWriter, req map[string]any)
	mu      sync.Mutex
	lastReq map[string]any
	auth    string
}

func (f *fakeServer) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(f.calls.Add(1))
		if r.Method != http.MethodPost || r.URL.Path != "/v1/completions" {
			http.Error(w, "wrong method or path "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.lastReq = req
		f.auth = r.Header.Get("Authorization")
		f.mu.Unlock()
		f.respond(n, w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func ok(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"choices": []map[string]any{{"text": text, "index": 0}}})
}

func newTestEndpoint(t *testing.T, url string) *Endpoint {
	e, err := NewEndpoint(url, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	e.Backoff = time.Millisecond
	e.Timeout = 2 * time.Second
	return e
}

func TestEndpointSuccess(t *testing.T) {
	f := &fakeServer{respond: func(_ int, w http.ResponseWriter, req map[string]any) { ok(w, " 31415.") }}
	srv := f.start(t)
	e := newTestEndpoint(t, srv.URL+"/v1")
	e.APIKey = "k"
	out, err := e.Complete(context.Background(), &Prompt{Text: "What is the pass key?", MaxNew: 7})
	if err != nil {
		t.Fatal(err)
	}
	if out != " 31415." {
		t.Errorf("output %q", out)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := map[string]any{"model": "tiny", "prompt": "What is the pass key?", "max_tokens": 7.0, "temperature": 0.0}
	for k, v := range want {
		if f.lastReq[k] != v {
			t.Errorf("request %s = %v, want %v", k, f.lastReq[k], v)
		}
	}
	if f.auth != "Bearer k" {
		t.Errorf("Authorization %q", f.auth)
	}
}

func TestEndpointErrors(t *testing.T) {
	cases := []struct {
		name      string
		respond   func(call int, w http.ResponseWriter)
		wantErr   string // "" = success
		wantCalls int
	}{
		{"retry 500 then ok", func(call int, w http.ResponseWriter) {
			if call < 3 {
				http.Error(w, "overloaded", http.StatusInternalServerError)
				return
			}
			ok(w, "fine")
		}, "", 3},
		{"429 is retried", func(call int, w http.ResponseWriter) {
			if call == 1 {
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
			ok(w, "fine")
		}, "", 2},
		{"always 503: bounded retries", func(call int, w http.ResponseWriter) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}, "HTTP 503: down", 4},
		{"400 with OpenAI error: no retry", func(call int, w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"This model's maximum context length is 4096 tokens","type":"invalid_request_error"}}`)
		}, "HTTP 400: This model's maximum context length is 4096 tokens", 1},
		{"404 plain text", func(call int, w http.ResponseWriter) {
			http.Error(w, "no such model", http.StatusNotFound)
		}, "HTTP 404: no such model", 1},
		{"not JSON", func(call int, w http.ResponseWriter) {
			io.WriteString(w, "<html>proxy</html>")
		}, "answer is not JSON", 1},
		{"no choices", func(call int, w http.ResponseWriter) {
			io.WriteString(w, `{"choices":[]}`)
		}, "no choices[0].text", 1},
		{"timeout is not retried", func(call int, w http.ResponseWriter) {
			time.Sleep(300 * time.Millisecond)
			ok(w, "late")
		}, "no complete answer within 100ms", 1},
		{"answer cut at the limit", func(call int, w http.ResponseWriter) {
			ok(w, strings.Repeat("x", 5000))
		}, "answer cut: longer than the limit of 1000 bytes", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeServer{respond: func(call int, w http.ResponseWriter, _ map[string]any) { c.respond(call, w) }}
			srv := f.start(t)
			e := newTestEndpoint(t, srv.URL)
			e.Timeout = 100 * time.Millisecond
			e.MaxAnswerBytes = 1000
			out, err := e.CompleteText(context.Background(), "p", 4)
			if c.wantErr == "" {
				if err != nil || out != "fine" {
					t.Fatalf("got %q, %v; want fine", out, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), srv.URL) {
				t.Fatalf("error %v, want it to contain %q and the URL", err, c.wantErr)
			}
			if got := int(f.calls.Load()); got != c.wantCalls {
				t.Errorf("%d requests, want %d", got, c.wantCalls)
			}
		})
	}
}

func TestEndpointCancel(t *testing.T) {
	f := &fakeServer{respond: func(_ int, w http.ResponseWriter, _ map[string]any) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}}
	srv := f.start(t)
	e := newTestEndpoint(t, srv.URL)
	e.Backoff = time.Hour // a retry would wait forever: cancellation must end it
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := e.CompleteText(ctx, "p", 4)
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("error %v, want the context's", err)
	}
	if time.Since(t0) > 5*time.Second {
		t.Errorf("cancellation took %v", time.Since(t0))
	}
}

func TestEndpointUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	e := newTestEndpoint(t, url)
	e.Retries = 1
	if _, err := e.CompleteText(context.Background(), "p", 4); err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("error %v, want a connection error naming the URL", err)
	}
}

// TestEndpointHung: a server that never answers costs one request timeout
// per call, and after MaxTimeouts in a row every call fails at once with a
// message saying the server looks hung (before: 4 attempts of 10 minutes
// per prompt, about 40 minutes each).
func TestEndpointHung(t *testing.T) {
	release := make(chan struct{})
	f := &fakeServer{respond: func(_ int, w http.ResponseWriter, _ map[string]any) {
		select {
		case <-release:
		case <-time.After(30 * time.Second):
		}
	}}
	srv := f.start(t)
	defer close(release)
	e := newTestEndpoint(t, srv.URL)
	e.Timeout = 200 * time.Millisecond
	t0 := time.Now()
	for i := range DefaultMaxTimeouts {
		if _, err := e.CompleteText(context.Background(), "p", 4); err == nil || !strings.Contains(err.Error(), "no complete answer within 200ms") {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := e.CompleteText(context.Background(), "p", 4)
	if err == nil || !strings.Contains(err.Error(), "3 requests in a row got no answer within 200ms; the server looks hung") {
		t.Fatalf("after %d time-outs: %v", DefaultMaxTimeouts, err)
	}
	if got := int(f.calls.Load()); got != DefaultMaxTimeouts {
		t.Errorf("%d requests, want %d", got, DefaultMaxTimeouts)
	}
	if el := time.Since(t0); el > 20*time.Second {
		t.Errorf("took %v", el)
	}
}

// TestEndpointDefaults: the defaults bound a request and a connection.
func TestEndpointDefaults(t *testing.T) {
	e, err := NewEndpoint("http://h", "m")
	if err != nil {
		t.Fatal(err)
	}
	if e.Timeout != DefaultTimeout || e.ConnectTimeout != DefaultConnectTimeout || e.MaxTimeouts != DefaultMaxTimeouts || e.MaxAnswerBytes != DefaultMaxAnswerBytes {
		t.Errorf("defaults %+v", e)
	}
	if worst := time.Duration(e.MaxTimeouts) * e.Timeout; worst > 20*time.Minute {
		t.Errorf("a hung endpoint may cost %v", worst)
	}
	tr, ok := e.client().Transport.(*http.Transport)
	if !ok || tr.TLSHandshakeTimeout != DefaultConnectTimeout || tr.DialContext == nil {
		t.Errorf("default transport %+v", tr)
	}
}
