package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options of a running agent.
type Options struct {
	// Base is the metadata server ("http://169.254.169.254").
	Base string
	// Self is the agent's own binary, run for argv[0] "reachgate".
	Self string
	Log  *slog.Logger
	// Poll bounds one wait for a metadata change (default 60 s).
	Poll time.Duration
	// DefaultTimeout bounds a job that names none (default 10 minutes).
	DefaultTimeout time.Duration
}

// maxOutput bounds what a job's stdout and stderr keep each.
const maxOutput = 4 << 20

type mdClient struct {
	base string
	hc   *http.Client
}

func (c *mdClient) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/computeMetadata/v1/"+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Metadata-Flavor", "Google")
	return c.hc.Do(req)
}

// attributes waits (up to poll) for the instance's attributes to differ from etag and
// returns them with their new ETag.
func (c *mdClient) attributes(ctx context.Context, etag string, poll time.Duration) (map[string]string, string, error) {
	q := url.Values{"recursive": {"true"}}
	if etag != "" {
		q.Set("wait_for_change", "true")
		q.Set("last_etag", etag)
		q.Set("timeout_sec", strconv.Itoa(int(poll.Seconds())))
	}
	resp, err := c.do(ctx, http.MethodGet, "instance/attributes/?"+q.Encode(), nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, "", fmt.Errorf("metadata server: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	m := map[string]string{}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, "", fmt.Errorf("metadata server: attributes: %w", err)
	}
	return m, resp.Header.Get("ETag"), nil
}

func (c *mdClient) guest(ctx context.Context, key, value string, del bool) error {
	method, body := http.MethodPut, io.Reader(strings.NewReader(value))
	if del {
		method, body = http.MethodDelete, nil
	}
	resp, err := c.do(ctx, method, "instance/guest-attributes/"+GuestNamespace+"/"+key, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("guest attribute %s: %s: %s", key, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// Run is the agent: it announces itself, then runs each job that appears in the metadata
// once, until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Poll <= 0 {
		o.Poll = 60 * time.Second
	}
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = 10 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	c := &mdClient{base: strings.TrimSuffix(o.Base, "/"), hc: &http.Client{Timeout: o.Poll + 30*time.Second}}
	ready, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "started": time.Now().UTC().Format(time.RFC3339Nano)})
	for {
		err := c.guest(ctx, ReadyKey, string(ready), false)
		if err == nil {
			break
		}
		o.Log.Warn("announce", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	o.Log.Info("agent ready", "metadata", c.base)
	var (
		mu      sync.Mutex
		seen    = map[string]bool{}
		written = map[string]int{} // job → chunks of its result
		etag    string
	)
	for ctx.Err() == nil {
		attrs, tag, err := c.attributes(ctx, etag, o.Poll)
		if err != nil {
			if ctx.Err() == nil {
				o.Log.Warn("read metadata", "err", err)
				time.Sleep(time.Second)
			}
			continue
		}
		etag = tag
		mu.Lock()
		for k, v := range attrs {
			id, ok := strings.CutPrefix(k, JobPrefix)
			if !ok || seen[id] || !IDPattern.MatchString(id) {
				continue
			}
			seen[id] = true
			go func() {
				n := runJob(ctx, c, o, id, v)
				mu.Lock()
				written[id] = n
				mu.Unlock()
			}()
		}
		// A job whose item is gone has been read: its result goes too.
		for id, n := range written {
			if _, listed := attrs[JobPrefix+id]; listed {
				continue
			}
			for i := range n {
				_ = c.guest(ctx, fmt.Sprintf("%s-%d", id, i), "", true)
			}
			_ = c.guest(ctx, id, "", true)
			delete(written, id)
			delete(seen, id)
		}
		mu.Unlock()
	}
	return ctx.Err()
}

// runJob runs one job and writes its result; it returns the result's chunk count.
func runJob(ctx context.Context, c *mdClient, o Options, id, spec string) int {
	var job Job
	res := Result{Exit: -1}
	if err := json.Unmarshal([]byte(spec), &job); err != nil || len(job.Argv) == 0 {
		res.Error = fmt.Sprintf("job %s: want JSON {\"argv\": [...]}: %v", id, err)
	} else {
		res = execute(ctx, o, job)
	}
	o.Log.Info("job", "id", id, "argv0", job.Argv, "exit", res.Exit, "error", res.Error)
	chunks, err := res.Chunks()
	if err != nil {
		return 0
	}
	for i, ch := range chunks {
		if err := c.guest(ctx, fmt.Sprintf("%s-%d", id, i), ch, false); err != nil {
			o.Log.Warn("write result", "id", id, "err", err)
			return i
		}
	}
	if err := c.guest(ctx, id, strconv.Itoa(len(chunks)), false); err != nil {
		o.Log.Warn("write result", "id", id, "err", err)
	}
	return len(chunks)
}

type capped struct {
	bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	if room := maxOutput - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func execute(ctx context.Context, o Options, job Job) Result {
	timeout := o.DefaultTimeout
	if job.TimeoutSec > 0 {
		timeout = time.Duration(job.TimeoutSec) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := job.Argv
	if argv[0] == "reachgate" && o.Self != "" {
		argv = append([]string{o.Self}, argv[1:]...)
	}
	var stdout, stderr capped
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = bytes.NewReader(job.Stdin)
	if o.Self != "" {
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(o.Self)+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	res := Result{Exit: -1, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if cmd.ProcessState != nil {
		res.Exit = cmd.ProcessState.ExitCode()
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.Error = fmt.Sprintf("stopped after %s", timeout)
	case err != nil && !errors.As(err, &ee):
		res.Error = err.Error()
	}
	return res
}
