// The conform CNI plugin (spec 1.0): the kubelet runs it per ADD/DEL/CHECK/VERSION with CNI_*
// environment variables and the network config on stdin. It is a thin forwarder: everything is
// decided by the node's agent, reached over the unix socket named in the config (`socketPath`),
// with one JSON line each way (agent/cni/protocol.ts defines both).
//
// It is a Go binary, as Cilium's is, because the kubelet starts it twice per pod: a Node.js
// process costs about 0.2 s of CPU to start, which added up to a sixth of a suite run's CPU.
//
// Output: the result (ADD) or nothing (DEL/CHECK) on stdout and exit 0; on failure the spec's
// error object on stdout and exit 1. If the agent is unreachable, ADD and CHECK fail with code 11
// (try again later), while DEL is written to the delete queue (`deleteQueueDir`) and succeeds, so
// a pod can always be torn down; the agent replays queued DELs when it starts.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Mirrors agent/cni/wire.ts.
const (
	errIncompatibleVersion = 1
	errInvalidEnvironment  = 4
	errIOFailure           = 5
	errDecodeFailure       = 6
	errTryAgainLater       = 11
	errInternal            = 999

	protocolVersion   = 1
	defaultSocketPath = "/run/conform/cni/agent.sock"
	// Below the kubelet's own 60 s plugin timeout, so the kubelet gets our error, not a kill.
	defaultTimeoutS = 50
)

var supportedVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0"}

type cniError struct {
	code    int
	msg     string
	details string
}

func (e *cniError) Error() string { return e.msg }

func fail(code int, format string, args ...any) *cniError {
	return &cniError{code: code, msg: fmt.Sprintf(format, args...)}
}

type agentRequest struct {
	V           int               `json:"v"`
	Command     string            `json:"command"`
	ContainerID string            `json:"containerId"`
	Netns       string            `json:"netns"`
	IfName      string            `json:"ifName"`
	Args        map[string]string `json:"args"`
	Config      json.RawMessage   `json:"config"`
}

type agentResponse struct {
	OK     bool                       `json:"ok"`
	Result map[string]json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Msg     string `json:"msg"`
		Details string `json:"details"`
	} `json:"error"`
}

func supported(v string) bool {
	for _, s := range supportedVersions {
		if s == v {
			return true
		}
	}
	return false
}

// parseCniArgs reads CNI_ARGS, `K=V;K2=V2`; values may contain '='.
func parseCniArgs(text string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(text, ";") {
		if item == "" {
			continue
		}
		eq := strings.IndexByte(item, '=')
		if eq <= 0 {
			return nil, fail(errInvalidEnvironment, "CNI_ARGS: item %q is not KEY=VALUE", item)
		}
		out[item[:eq]] = item[eq+1:]
	}
	return out, nil
}

func requireEnv(names ...string) error {
	var missing []string
	for _, n := range names {
		if os.Getenv(n) == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	plural := ""
	if len(missing) > 1 {
		plural = "s"
	}
	return fail(errInvalidEnvironment, "missing environment variable%s %s", plural, strings.Join(missing, ", "))
}

// callAgent sends one request line and reads one response line.
func callAgent(socketPath string, req *agentRequest, timeout time.Duration) (*agentResponse, error) {
	conn, err := net.DialTimeout("unix", socketPath, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	line, _ := json.Marshal(req)
	if _, err := conn.Write(append(line, '\n')); err != nil {
		return nil, fail(errIOFailure, "cannot send to the conform agent at %s: %v", socketPath, err)
	}
	var buf []byte
	chunk := make([]byte, 64*1024)
	for {
		n, err := conn.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if i := strings.IndexByte(string(buf), '\n'); i >= 0 {
			var resp agentResponse
			if json.Unmarshal(buf[:i], &resp) != nil {
				shown := buf
				if len(shown) > 200 {
					shown = shown[:200]
				}
				return nil, fail(errDecodeFailure, "the agent's answer is not JSON: %s", shown)
			}
			return &resp, nil
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, fail(errTryAgainLater, "the agent did not answer within %gs (%s)", timeout.Seconds(), socketPath)
			}
			return nil, fail(errIOFailure, "the agent closed the connection without an answer (%s)", socketPath)
		}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// queueDelete writes the DEL for the agent to replay; temp file + rename, so the agent never
// reads half a request.
func queueDelete(dir string, req *agentRequest) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	base := unsafeName.ReplaceAllString(req.ContainerID+"."+req.IfName, "_")
	queued := struct {
		*agentRequest
		QueuedAt string `json:"queuedAt"`
	}{req, time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
	body, _ := json.Marshal(queued)
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.tmp", base, os.Getpid()))
	if err := os.WriteFile(tmp, append(body, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, base+".json"))
}

// convertResult gives a 1.0.0 result the shape cniVersion expects: 0.3.x/0.4.0 results carry
// `version: "4"|"6"` on every IP config; 1.0.0 dropped it.
func convertResult(result map[string]json.RawMessage, cniVersion string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for k, v := range result {
		out[k] = v
	}
	out["cniVersion"], _ = json.Marshal(cniVersion)
	if cniVersion == "1.0.0" {
		return out, nil
	}
	var ips []map[string]json.RawMessage
	if raw, ok := result["ips"]; ok {
		if err := json.Unmarshal(raw, &ips); err != nil {
			return nil, fail(errInternal, "the agent's ADD result has malformed ips: %v", err)
		}
	}
	for _, ip := range ips {
		var address string
		_ = json.Unmarshal(ip["address"], &address)
		version := "4"
		if strings.Contains(address, ":") {
			version = "6"
		}
		ip["version"], _ = json.Marshal(version)
	}
	if ips == nil {
		ips = []map[string]json.RawMessage{}
	}
	out["ips"], _ = json.Marshal(ips)
	return out, nil
}

// run is the whole plugin; it returns what to print and the exit code.
func run(stdin io.Reader) (any, int) {
	command := os.Getenv("CNI_COMMAND")
	cniVersion := "1.0.0"
	result, err := func() (any, error) {
		if command == "VERSION" {
			return map[string]any{"cniVersion": "1.0.0", "supportedVersions": supportedVersions}, nil
		}
		if command != "ADD" && command != "DEL" && command != "CHECK" {
			if command == "" {
				return nil, fail(errInvalidEnvironment, "missing environment variable CNI_COMMAND")
			}
			return nil, fail(errInvalidEnvironment, "CNI_COMMAND %q is not supported (ADD, DEL, CHECK, VERSION)", command)
		}
		raw, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fail(errIOFailure, "cannot read the network configuration on stdin: %v", err)
		}
		var config map[string]json.RawMessage
		if err := json.Unmarshal(raw, &config); err != nil || config == nil {
			why := "not a JSON object"
			if err != nil {
				why = err.Error()
			}
			return nil, fail(errDecodeFailure, "network configuration on stdin is not a JSON object: %s", why)
		}
		str := func(key string) (string, bool) {
			var s string
			ok := json.Unmarshal(config[key], &s) == nil && config[key] != nil
			return s, ok
		}
		version, isString := str("cniVersion")
		if isString {
			cniVersion = version
		}
		if !isString || !supported(version) {
			cniVersion = "1.0.0"
			shown := string(config["cniVersion"])
			if shown == "" {
				shown = "undefined"
			}
			return nil, fail(errIncompatibleVersion, "cniVersion %s is not supported (supported: %s)", shown, strings.Join(supportedVersions, ", "))
		}
		if command == "CHECK" && version != "0.4.0" && version != "1.0.0" {
			return nil, fail(errIncompatibleVersion, "CHECK needs cniVersion 0.4.0 or later, the config says %s", version)
		}
		if command == "DEL" {
			err = requireEnv("CNI_CONTAINERID", "CNI_IFNAME")
		} else {
			err = requireEnv("CNI_CONTAINERID", "CNI_IFNAME", "CNI_NETNS")
		}
		if err != nil {
			return nil, err
		}
		socketPath, ok := str("socketPath")
		if !ok {
			socketPath = os.Getenv("CONFORM_CNI_SOCKET")
			if socketPath == "" {
				socketPath = defaultSocketPath
			}
		}
		timeoutS := float64(defaultTimeoutS)
		var t float64
		if json.Unmarshal(config["timeoutSeconds"], &t) == nil && config["timeoutSeconds"] != nil {
			timeoutS = t
		}
		args, err := parseCniArgs(os.Getenv("CNI_ARGS"))
		if err != nil {
			return nil, err
		}
		req := &agentRequest{V: protocolVersion, Command: command, ContainerID: os.Getenv("CNI_CONTAINERID"), Netns: os.Getenv("CNI_NETNS"), IfName: os.Getenv("CNI_IFNAME"), Args: args, Config: raw}
		resp, err := callAgent(socketPath, req, time.Duration(timeoutS*float64(time.Second)))
		if err != nil {
			var ce *cniError
			if errors.As(err, &ce) {
				return nil, ce
			}
			unreachable := errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
			if queueDir, ok := str("deleteQueueDir"); unreachable && command == "DEL" && ok {
				if qerr := queueDelete(queueDir, req); qerr != nil {
					return nil, fail(errIOFailure, "the agent at %s is down and the DEL could not be queued in %s: %v", socketPath, queueDir, qerr)
				}
				return nil, nil
			}
			code := errIOFailure
			if unreachable {
				code = errTryAgainLater
			}
			return nil, fail(code, "cannot reach the conform agent at %s: %v", socketPath, err)
		}
		if !resp.OK {
			if resp.Error == nil {
				return nil, fail(errInternal, "the agent refused the request without saying why")
			}
			return nil, &cniError{code: resp.Error.Code, msg: resp.Error.Msg, details: resp.Error.Details}
		}
		if command != "ADD" {
			return nil, nil
		}
		if resp.Result == nil {
			return nil, fail(errInternal, "the agent answered ADD without a result")
		}
		return convertResult(resp.Result, cniVersion)
	}()
	if err != nil {
		var ce *cniError
		if !errors.As(err, &ce) {
			ce = fail(errInternal, "%v", err)
		}
		body := map[string]any{"cniVersion": cniVersion, "code": ce.code, "msg": ce.msg}
		if ce.details != "" {
			body["details"] = ce.details
		}
		return body, 1
	}
	return result, 0
}

func main() {
	out, code := run(os.Stdin)
	if out != nil {
		line, _ := json.Marshal(out)
		os.Stdout.Write(append(line, '\n'))
	}
	os.Exit(code)
}
