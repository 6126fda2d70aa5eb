package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Endpoint is a client of an OpenAI-compatible completions API (vLLM,
// llama.cpp server, Ollama, ...): POST {base}/v1/completions with greedy
// decoding (temperature 0).
type Endpoint struct {
	// URL is the completions address, ending in /v1/completions.
	URL string
	// ModelName is sent as "model".
	ModelName string
	// APIKey, when not empty, is sent as a bearer token.
	APIKey string
	// Timeout bounds one request (default 10 minutes: long prompts).
	Timeout time.Duration
	// Retries is how many times a failed request is repeated (network
	// errors, timeouts, HTTP 429 and 5xx); other errors are not retried.
	Retries int
	// Backoff is the wait before the first retry; it doubles each time.
	Backoff time.Duration
	// Client sends the requests (default http.DefaultClient).
	Client *http.Client
}

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
	return &Endpoint{URL: u.String(), ModelName: model, Timeout: 10 * time.Minute, Retries: 3, Backoff: 2 * time.Second}, nil
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

func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code == http.StatusTooManyRequests || se.code >= 500
	}
	return true // network errors and timeouts
}

// CompleteText returns the completion of prompt, at most maxTokens tokens.
func (e *Endpoint) CompleteText(ctx context.Context, prompt string, maxTokens int) (string, error) {
	body, err := json.Marshal(map[string]any{
		"model": e.ModelName, "prompt": prompt, "max_tokens": maxTokens, "temperature": 0,
	})
	if err != nil {
		return "", fmt.Errorf("eval: endpoint request: %w", err)
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
		if err == nil {
			return text, nil
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
	if e.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.APIKey)
	}
	client := e.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", fmt.Errorf("read answer: %w", err)
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
