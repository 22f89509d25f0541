package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
)

// editCLI holds what differs between `gtm zone` and `gtm service`.
type editCLI struct {
	cmd    string // subcommand and document kind: zone, service
	plural string // URL segment
	arg    string // what names one: ORIGIN, NAME
	// nameFlag is the apply flag that names the document when its file
	// does not.
	nameFlag string
}

var (
	zoneCLI    = editCLI{cmd: "zone", plural: "zones", arg: "ORIGIN", nameFlag: "origin"}
	serviceCLI = editCLI{cmd: "service", plural: "services", arg: "NAME", nameFlag: "name"}
)

func runZone(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return editCmd(ctx, zoneCLI, args, stdout, stderr)
}

func runService(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return editCmd(ctx, serviceCLI, args, stdout, stderr)
}

func (c editCLI) usage(w io.Writer) {
	fmt.Fprintf(w, `usage: gtm %[1]s list
       gtm %[1]s get %[2]s
       gtm %[1]s apply -f FILE [--%[3]s %[2]s] [--dry-run] [--if-match VERSION] [--comment TEXT]
       gtm %[1]s delete %[2]s [--dry-run] [--if-match VERSION] [--comment TEXT]
       gtm %[1]s history %[2]s [--patch] [--limit N]
       gtm %[1]s rollback %[2]s VERSION [--dry-run] [--if-match VERSION] [--comment TEXT]
Every form also takes --api URL, --token TOKEN, --token-file FILE and
--ca-file FILE.
`, c.cmd, c.arg, c.nameFlag)
}

// editFlags are every flag of the edit commands; each action uses some.
type editFlags struct {
	api      apiFlags
	file     string
	name     string
	dryRun   bool
	ifMatch  string
	comment  string
	patch    bool
	limit    int
	wantArgs int
}

func editCmd(ctx context.Context, c editCLI, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		c.usage(stderr)
		if len(args) == 0 {
			return exitError{2}
		}
		return nil
	}
	action := args[0]
	var f editFlags
	fs := flag.NewFlagSet(c.cmd+" "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { c.usage(stderr); fs.PrintDefaults() }
	f.api.register(fs)
	switch action {
	case "list":
	case "get":
		f.wantArgs = 1
	case "apply":
		fs.StringVar(&f.file, "f", "", "file to apply: a master file (zone), YAML (service), or JSON")
		fs.StringVar(&f.name, c.nameFlag, "", "the "+c.cmd+" written, when the file does not say")
	case "delete":
		f.wantArgs = 1
	case "history":
		f.wantArgs = 1
		fs.BoolVar(&f.patch, "patch", false, "show each version's diff")
		fs.IntVar(&f.limit, "limit", 0, "show at most N versions (0: all kept)")
	case "rollback":
		f.wantArgs = 2
	default:
		fmt.Fprintf(stderr, "gtm %s: unknown action %q\n", c.cmd, action)
		c.usage(stderr)
		return exitError{2}
	}
	switch action {
	case "apply", "delete", "rollback":
		fs.BoolVar(&f.dryRun, "dry-run", false, "validate and show the diff; write nothing")
		fs.StringVar(&f.ifMatch, "if-match", "", "write only if the current version is VERSION (from get or list)")
		fs.StringVar(&f.comment, "comment", "", "why (recorded in the history)")
	}
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != f.wantArgs || action == "apply" && f.file == "" {
		c.usage(stderr)
		return exitError{2}
	}
	err = c.do(ctx, action, pos, &f, stdout)
	var p problemsError
	if errors.As(err, &p) {
		for _, line := range p.lines {
			fmt.Fprintln(stderr, line)
		}
		fmt.Fprintf(stderr, "gtm %s %s: %d problem(s); nothing was written\n", c.cmd, action, len(p.lines))
		return exitError{1}
	}
	return err
}

// parseInterleaved parses flags placed before, between or after the
// positional arguments (`gtm zone get example.com. --api URL`).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func (c editCLI) do(ctx context.Context, action string, pos []string, f *editFlags, stdout io.Writer) error {
	base := "/api/v1/" + c.plural
	switch action {
	case "list":
		return c.list(ctx, f, base, stdout)
	case "get":
		rep, err := f.api.send(ctx, http.MethodGet, base+"/"+url.PathEscape(dns.Fqdn(pos[0])), nil, nil)
		if err != nil {
			return err
		}
		_, err = stdout.Write(rep)
		return err
	case "apply":
		body, err := os.ReadFile(f.file)
		if err != nil {
			return err
		}
		name, err := c.docName(f, body)
		if err != nil {
			return err
		}
		hdr := map[string]string{"Content-Type": c.mediaType(f.file)}
		return c.write(ctx, f, http.MethodPut, base+"/"+url.PathEscape(name), body, hdr, "written", stdout)
	case "delete":
		return c.write(ctx, f, http.MethodDelete, base+"/"+url.PathEscape(dns.Fqdn(pos[0])), nil, nil, "deleted", stdout)
	case "history":
		return c.history(ctx, f, base+"/"+url.PathEscape(dns.Fqdn(pos[0]))+"/history", stdout)
	case "rollback":
		v, err := strconv.ParseUint(pos[1], 10, 64)
		if err != nil || v == 0 {
			return fmt.Errorf("VERSION %q: want a version number from `gtm %s history`", pos[1], c.cmd)
		}
		path := base + "/" + url.PathEscape(dns.Fqdn(pos[0])) + "/rollback?version=" + strconv.FormatUint(v, 10)
		return c.write(ctx, f, http.MethodPost, path, nil, nil, fmt.Sprintf("rolled back to v%d", v), stdout)
	}
	return nil
}

// docName is the zone or service a file is for: the flag, else what the
// file says ($ORIGIN, or a service's name:), else a zone file's name
// ("example.com.zone").
func (c editCLI) docName(f *editFlags, body []byte) (string, error) {
	if f.name != "" {
		return dns.Fqdn(f.name), nil
	}
	if c.cmd == "zone" {
		for _, line := range strings.Split(string(body), "\n") {
			fields := strings.Fields(line)
			if len(fields) >= 2 && strings.EqualFold(fields[0], "$ORIGIN") {
				return dns.Fqdn(fields[1]), nil
			}
		}
		if b := filepath.Base(f.file); strings.HasSuffix(b, ".zone") && len(b) > len(".zone") {
			return dns.Fqdn(strings.TrimSuffix(b, ".zone")), nil
		}
	} else {
		var s struct {
			Name string `yaml:"name"`
		}
		if yaml.Unmarshal(body, &s) == nil && s.Name != "" {
			return dns.Fqdn(s.Name), nil
		}
	}
	return "", fmt.Errorf("%s does not say which %s it is: give --%s", f.file, c.cmd, c.nameFlag)
}

func (c editCLI) mediaType(file string) string {
	switch {
	case strings.HasSuffix(file, ".json"):
		return "application/json"
	case c.cmd == "zone":
		return "text/dns"
	}
	return "application/yaml"
}

// changeResult mirrors api.ChangeResult.
type changeResult struct {
	Kind           string `json:"kind"`
	Name           string `json:"name"`
	Version        uint64 `json:"version"`
	Previous       uint64 `json:"previous"`
	DryRun         bool   `json:"dry_run"`
	Deleted        bool   `json:"deleted"`
	Source         string `json:"source"`
	Serial         uint32 `json:"serial"`
	SerialWritten  uint32 `json:"serial_written"`
	Diff           string `json:"diff"`
	ChangedRegions []struct {
		Region string   `json:"region"`
		Before []string `json:"before"`
		After  []string `json:"after"`
	} `json:"changed_regions"`
}

func (c editCLI) write(ctx context.Context, f *editFlags, method, path string, body []byte, hdr map[string]string, done string, stdout io.Writer) error {
	q := url.Values{}
	if f.dryRun {
		q.Set("dry_run", "1")
	}
	if f.comment != "" {
		q.Set("comment", f.comment)
	}
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + q.Encode()
	}
	if hdr == nil {
		hdr = map[string]string{}
	}
	if f.ifMatch != "" {
		hdr["If-Match"] = `"` + strings.Trim(f.ifMatch, `"`) + `"`
	}
	rep, err := f.api.send(ctx, method, path, body, hdr)
	if err != nil {
		return err
	}
	var res changeResult
	if err := json.Unmarshal(rep, &res); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", res.Kind, res.Name)
	if res.DryRun {
		fmt.Fprintf(&b, "dry run, nothing written (current version %d)", res.Version)
	} else {
		fmt.Fprintf(&b, "%s: version %d (was %d)", done, res.Version, res.Previous)
	}
	if res.Serial != 0 {
		fmt.Fprintf(&b, "; serial %d", res.Serial)
		if res.SerialWritten != 0 {
			fmt.Fprintf(&b, " (raised from %d)", res.SerialWritten)
		}
	}
	if res.Deleted {
		switch res.Source {
		case "file":
			b.WriteString("; served from the config files again")
		default:
			b.WriteString("; no longer served")
		}
	}
	b.WriteString("\n")
	if res.Diff == "" {
		b.WriteString("no change in the text\n")
	} else {
		b.WriteString(res.Diff)
	}
	if len(res.ChangedRegions) > 0 {
		b.WriteString("clients whose answer changes, by region:\n")
		for _, rc := range res.ChangedRegions {
			fmt.Fprintf(&b, "  %s: %s -> %s\n", rc.Region, answerList(rc.Before), answerList(rc.After))
		}
	} else if res.Kind == "service" {
		b.WriteString("no region's answer changes\n")
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

func answerList(a []string) string {
	if len(a) == 0 {
		return "(nothing)"
	}
	return strings.Join(a, ", ")
}

func (c editCLI) list(ctx context.Context, f *editFlags, path string, stdout io.Writer) error {
	rep, err := f.api.send(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	var rows []struct {
		Origin    string    `json:"origin"`
		Name      string    `json:"name"`
		Source    string    `json:"source"`
		Version   uint64    `json:"version"`
		By        string    `json:"by"`
		At        time.Time `json:"at"`
		Comment   string    `json:"comment"`
		Served    bool      `json:"served"`
		Serial    uint32    `json:"serial"`
		Records   int       `json:"records"`
		Policy    string    `json:"policy"`
		Endpoints int       `json:"endpoints"`
	}
	if err := json.Unmarshal(rep, &rows); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if c.cmd == "zone" {
		fmt.Fprintln(tw, "ORIGIN\tSOURCE\tVERSION\tSERIAL\tRECORDS\tBY\tAT\tCOMMENT")
	} else {
		fmt.Fprintln(tw, "NAME\tSOURCE\tVERSION\tPOLICY\tENDPOINTS\tBY\tAT\tCOMMENT")
	}
	for _, r := range rows {
		src := r.Source
		if !r.Served {
			src += " (not served yet)"
		}
		at := "-"
		if !r.At.IsZero() {
			at = r.At.UTC().Format(time.RFC3339)
		}
		if c.cmd == "zone" {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Origin, src, r.Version, r.Serial, r.Records, dash(r.By), at, r.Comment)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", r.Name, src, r.Version, r.Policy, r.Endpoints, dash(r.By), at, r.Comment)
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c editCLI) history(ctx context.Context, f *editFlags, path string, stdout io.Writer) error {
	if f.limit > 0 {
		path += "?limit=" + strconv.Itoa(f.limit)
	}
	rep, err := f.api.send(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	var h struct {
		Versions []struct {
			Version uint64    `json:"version"`
			By      string    `json:"by"`
			At      time.Time `json:"at"`
			Comment string    `json:"comment"`
			Deleted bool      `json:"deleted"`
			Diff    string    `json:"diff"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(rep, &h); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	var b strings.Builder
	for _, v := range h.Versions {
		what := v.Comment
		if v.Deleted {
			what = strings.TrimSpace("deleted " + what)
		}
		fmt.Fprintf(&b, "v%-4d %s  %-12s %s\n", v.Version, v.At.UTC().Format(time.RFC3339), dash(v.By), what)
		if f.patch && v.Diff != "" {
			b.WriteString(v.Diff)
			b.WriteString("\n")
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// problemsError is a 400 answer listing validation errors, each printed
// on its own line as file:line: path: message.
type problemsError struct{ lines []string }

func (p problemsError) Error() string { return strings.Join(p.lines, "\n") }

// send is apiFlags.do with a body and headers: non-2xx answers become
// errors carrying the server's message, and validation errors a
// problemsError.
func (a *apiFlags) send(ctx context.Context, method, path string, body []byte, hdr map[string]string) ([]byte, error) {
	tok, err := a.bearer()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.api, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	hc, err := a.client()
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	var e struct {
		Error  string `json:"error"`
		Errors []struct {
			File    string `json:"file"`
			Line    int    `json:"line"`
			Path    string `json:"path"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &e) == nil && len(e.Errors) > 0 {
		var p problemsError
		for _, x := range e.Errors {
			p.lines = append(p.lines, zones.Error{File: x.File, Line: x.Line, Path: x.Path, Msg: x.Message}.Error())
		}
		return nil, p
	}
	msg := e.Error
	if msg == "" {
		msg = strings.TrimSpace(string(b))
	}
	return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg)
}
