package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint is a client of an OpenAI-compatible completions API (vLLM,
// llama.cpp server, Ollama, ...): POST {base}/v1/completions with greedy
// decoding (temperature 0).
//
// Time is bounded at every step: connecting (ConnectTimeout), one request
// (Timeout), and a hung server: a request that times out is not retried
// (the server is hung or overloaded; retrying would multiply the wait), and
// after MaxTimeouts timed-out requests in a row every later call fails at
// once. So with the defaults a hung endpoint costs at most
// MaxTimeouts × Timeout = 15 minutes for a whole evaluation.
type Endpoint struct {
	// URL is the completions address, ending in /v1/completions.
	URL string
	// ModelName is sent as "model".
	ModelName string
	// APIKey, when not empty, is sent as a bearer token.
	APIKey string
	// Timeout bounds one request, from sending it to the end of the answer
	// (DefaultTimeout: room for the prefill of a long prompt).
	Timeout time.Duration
	// ConnectTimeout bounds opening the connection (DefaultConnectTimeout).
	// It applies when Client is nil.
	ConnectTimeout time.Duration
	// MaxTimeouts is how many requests in a row may time out before the
	// endpoint is declared hung and every call fails at once (0: never).
	MaxTimeouts int
	// MaxAnswerBytes bounds an answer (DefaultMaxAnswerBytes); a longer one
	// is an error that says it was cut.
	MaxAnswerBytes int64
	// Retries is how many times a failed request is repeated (network
	// errors, HTTP 429 and 5xx); time-outs and other errors are not.
	Retries int
	// Backoff is the wait before the first retry; it doubles each time.
	Backoff time.Duration
	// Client sends the requests (default: one with ConnectTimeout).
	Client *http.Client

	timeouts  atomic.Int32 // timed-out requests in a row
	clientMu  sync.Mutex
	defClient *http.Client
}

// Defaults of NewEndpoint.
const (
	DefaultTimeout        = 5 * time.Minute
	DefaultConnectTimeout = 10 * time.Second
	DefaultMaxTimeouts    = 3
	DefaultMaxAnswerBytes = 64 << 20
)

// NewEndpoint returns a client for base, a server address such as
// http://host:8000 or one already ending in /v1, with 3 retries.
func NewEndpoint(base, model string) (*Endpoint, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("eval: endpoint %q is not an http(s) URL", base)
	}
	if model == "" {
		return nil, fmt.Errorf("eval: endpoint %s needs a model name", base)
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(p, "/v1/completions"):
	case strings.HasSuffix(p, "/v1"):
		p += "/completions"
	default:
		p += "/v1/completions"
	}
	u.Path = p
	return &Endpoint{URL: u.String(), ModelName: model, Timeout: DefaultTimeout, ConnectTimeout: DefaultConnectTimeout,
		MaxTimeouts: DefaultMaxTimeouts, MaxAnswerBytes: DefaultMaxAnswerBytes, Retries: 3, Backoff: 2 * time.Second}, nil
}

// Complete sends p.Text.
func (e *Endpoint) Complete(ctx context.Context, p *Prompt) (string, error) {
	return e.CompleteText(ctx, p.Text, p.MaxNew)
}

// statusError is an HTTP error answer.
type statusError struct {
	code int
	msg  string
}

func (s *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", s.code, s.msg) }

// timeoutError is a request that ran out of Timeout.
type timeoutError struct{ after time.Duration }

func (t *timeoutError) Error() string {
	return fmt.Sprintf("no complete answer within %v (the request timeout)", t.after)
}

func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code == http.StatusTooManyRequests || se.code >= 500
	}
	var te *timeoutError
	return !errors.As(err, &te) // network errors, not time-outs
}

// CompleteText returns the completion of prompt, at most maxTokens tokens.
func (e *Endpoint) CompleteText(ctx context.Context, prompt string, maxTokens int) (string, error) {
	body, err := json.Marshal(map[string]any{
		"model": e.ModelName, "prompt": prompt, "max_tokens": maxTokens, "temperature": 0,
	})
	if err != nil {
		return "", fmt.Errorf("eval: endpoint request: %w", err)
	}
	if n := int(e.timeouts.Load()); e.MaxTimeouts > 0 && n >= e.MaxTimeouts {
		return "", fmt.Errorf("eval: endpoint %s: %d requests in a row got no answer within %v; the server looks hung (see --endpoint-timeout)", e.URL, n, e.Timeout)
	}
	wait := e.Backoff
	var last error
	for attempt := 0; attempt <= max(0, e.Retries); attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("eval: endpoint %s: %w (after: %v)", e.URL, ctx.Err(), last)
			case <-time.After(wait):
			}
			wait *= 2
		}
		text, err := e.post(ctx, body)
		var te *timeoutError
		switch {
		case err == nil:
			e.timeouts.Store(0)
			return text, nil
		case errors.As(err, &te):
			e.timeouts.Add(1)
		}
		last = err
		if ctx.Err() != nil || !retryable(err) {
			break
		}
	}
	return "", fmt.Errorf("eval: endpoint %s: %w", e.URL, last)
}

// post makes one request.
func (e *Endpoint) post(ctx context.Context, body []byte) (string, error) {
	parent := ctx
	if e.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.Timeout)
		defer cancel()
	}
	text, err := e.send(ctx, body)
	if err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "", &timeoutError{e.Timeout}
	}
	return text, err
}

// client returns e.Client or a default client whose connections open
// within ConnectTimeout.
func (e *Endpoint) client() *http.Client {
	if e.Client != nil {
		return e.Client
	}
	e.clientMu.Lock()
	defer e.clientMu.Unlock()
	if e.defClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		connect := e.ConnectTimeout
		if connect <= 0 {
			connect = DefaultConnectTimeout
		}
		tr.DialContext = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
		tr.TLSHandshakeTimeout = connect
		e.defClient = &http.Client{Transport: tr}
	}
	return e.defClient
}

// send makes one request within ctx.
func (e *Endpoint) send(ctx context.Context, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.APIKey)
	}
	resp, err := e.client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	limit := e.MaxAnswerBytes
	if limit <= 0 {
		limit = DefaultMaxAnswerBytes
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", fmt.Errorf("read answer: %w", err)
	}
	if int64(len(data)) > limit {
		return "", &statusError{resp.StatusCode, fmt.Sprintf("answer cut: longer than the limit of %d bytes", limit)}
	}
	if resp.StatusCode/100 != 2 {
		var apiErr struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &apiErr) == nil && apiErr.Error.Message != "" {
			msg = apiErr.Error.Message
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return "", &statusError{resp.StatusCode, msg}
	}
	var out struct {
		Choices []struct {
			Text *string `json:"text"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return "", &statusError{resp.StatusCode, "answer is not JSON: " + err.Error()}
	}
	if len(out.Choices) == 0 || out.Choices[0].Text == nil {
		return "", &statusError{resp.StatusCode, "answer has no choices[0].text"}
	}
	return *out.Choices[0].Text, nil
}
