//go:build browser

package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// A small client of the Chrome DevTools Protocol, over the pipe that
// chromium opens with --remote-debugging-pipe (it reads commands from fd 3
// and writes answers and events to fd 4, each a JSON message ended by a
// NUL byte): no WebSocket, no library, and no port to find. It drives
// Debian's chromium, which the browser tests need (make browser-test
// installs it).

// browser is a headless chromium and one page in it.
type browser struct {
	cmd     *exec.Cmd
	w       io.WriteCloser
	session string // the page's, for the commands sent to it
	stderr  *lockedBuffer

	mu struct {
		sync.Mutex
		next     int
		pending  map[int]chan cdpMessage
		problems []string // exceptions and console errors of the page
		closed   error
	}
	done chan struct{} // closed when the reader ends
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// chromiumPath finds Debian's chromium, or skips the test with what to do.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: make browser-test installs Debian's (apt-get install chromium)")
	return ""
}

// startBrowser starts a headless chromium with a blank page of width by
// height pixels; the test's cleanup stops it.
func startBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{w: cmdW, stderr: &lockedBuffer{}, done: make(chan struct{})}
	b.mu.pending = map[int]chan cdpMessage{}
	b.cmd = exec.Command(chromiumPath(t),
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-extensions", "--disable-sync", "--no-first-run", "--no-default-browser-check",
		"--hide-scrollbars", "--mute-audio", "--user-data-dir="+t.TempDir(),
		fmt.Sprintf("--window-size=%d,%d", width, height),
		"--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdR, outW} // fds 3 and 4
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	cmdR.Close()
	outW.Close()
	go b.read(outR)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.call(ctx, "", "Browser.close", nil, nil)
		cmdW.Close()
		select {
		case <-b.done:
		case <-time.After(5 * time.Second):
			_ = b.cmd.Process.Kill()
		}
		_ = b.cmd.Wait()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.must(t, b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target))
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	b.must(t, b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached))
	b.session = attached.SessionID
	b.must(t, b.call(ctx, b.session, "Runtime.enable", nil, nil))
	b.must(t, b.call(ctx, b.session, "Page.enable", nil, nil))
	b.must(t, b.call(ctx, b.session, "Log.enable", nil, nil))
	b.must(t, b.resize(ctx, width, height))
	return b
}

func (b *browser) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		var lines []string
		for _, l := range strings.Split(b.stderr.String(), "\n") {
			if !strings.Contains(l, "dbus") { // a container has no D-Bus: noise
				lines = append(lines, l)
			}
		}
		t.Fatalf("chromium: %v\nits stderr:\n%s", err, strings.Join(lines, "\n"))
	}
}

// read hands each answer to its caller and keeps the page's problems.
func (b *browser) read(r io.Reader) {
	defer close(b.done)
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			b.mu.closed = fmt.Errorf("chromium's pipe: %w", err)
			for id, ch := range b.mu.pending {
				close(ch)
				delete(b.mu.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.mu.pending[m.ID]
			delete(b.mu.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		switch m.Method {
		case "Runtime.exceptionThrown":
			b.problem("exception: " + string(m.Params))
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(m.Params, &p) == nil && (p.Type == "error" || p.Type == "assert") {
				b.problem("console." + p.Type + ": " + string(m.Params))
			}
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level, Text, URL string
				} `json:"entry"`
			}
			if json.Unmarshal(m.Params, &p) == nil && p.Entry.Level == "error" {
				b.problem("log: " + p.Entry.Text + " " + p.Entry.URL)
			}
		}
	}
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.problems = append(b.mu.problems, s)
}

// problems returns the page's exceptions and errors so far.
func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.mu.problems...)
}

// call sends method with params to session ("" for the browser) and
// decodes the result into result, if not nil.
func (b *browser) call(ctx context.Context, session, method string, params, result any) error {
	b.mu.Lock()
	if err := b.mu.closed; err != nil {
		b.mu.Unlock()
		return err
	}
	b.mu.next++
	id := b.mu.next
	ch := make(chan cdpMessage, 1)
	b.mu.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	b.mu.Lock()
	_, err = b.w.Write(append(raw, 0))
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: chromium went away", method)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %d %s", method, m.Error.Code, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	}
}

func (b *browser) resize(ctx context.Context, width, height int) error {
	return b.call(ctx, b.session, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
}

func (b *browser) navigate(ctx context.Context, url string) error {
	var r struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call(ctx, b.session, "Page.navigate", map[string]any{"url": url}, &r); err != nil {
		return err
	}
	if r.ErrorText != "" {
		return fmt.Errorf("navigating to %s: %s", url, r.ErrorText)
	}
	return nil
}

// eval runs expression in the page, awaiting a promise, and decodes its
// value (JSON-serializable) into v.
func (b *browser) eval(ctx context.Context, expression string, v any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := b.call(ctx, b.session, "Runtime.evaluate",
		map[string]any{"expression": expression, "returnByValue": true, "awaitPromise": true}, &r)
	if err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("evaluating: %s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(r.Result.Value, v)
}

// screenshot captures the whole page, however tall, as a PNG.
func (b *browser) screenshot(ctx context.Context, width int) ([]byte, error) {
	var m struct {
		Content struct {
			Height float64 `json:"height"`
		} `json:"cssContentSize"`
	}
	if err := b.call(ctx, b.session, "Page.getLayoutMetrics", nil, &m); err != nil {
		return nil, err
	}
	height := int(m.Content.Height + 0.5)
	if height <= 0 {
		return nil, errors.New("the page has no height")
	}
	if err := b.resize(ctx, width, height); err != nil {
		return nil, err
	}
	var shot struct {
		Data []byte `json:"data"` // base64 in JSON: encoding/json decodes it
	}
	if err := b.call(ctx, b.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		return nil, err
	}
	return shot.Data, nil
}
