package zones

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// LoadConfig reads, defaults and validates the config file at path. It
// does not read zone files; Load does both. On failure the error is an
// ErrorList naming file:line for each problem.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{{File: path, Msg: err.Error()}}
	}
	return ParseConfig(path, data)
}

// ParseConfig is LoadConfig on bytes already read; path names them in errors
// and anchors relative zone file names. The Config keeps data (to find the
// lines of errors found later): the caller must not change it.
func ParseConfig(path string, data []byte) (*Config, error) {
	cfg, errs := parseConfig(path, data)
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	return cfg, nil
}

// parseConfig decodes, defaults and validates. It returns the config
// whenever the YAML could be read, even with errors, so Load can go on to
// report the zone files' errors in the same pass.
func parseConfig(path string, data []byte) (*Config, ErrorList) {
	cfg := &Config{path: path}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(path, err, nil)
	}
	cfg.lines = &lineIndex{data: data}
	cfg.regionOrder = regionOrder(&root)

	var errs ErrorList
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		errs = yamlErrors(path, err, cfg.lines.get())
		// A type error (unknown key, bad duration, a string for a number)
		// leaves the rest decoded: validate it too, so one run names every
		// problem. Anything else means the document could not be read.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, errs
		}
	}
	cfg.ApplyDefaults()
	errs = append(errs, cfg.Validate()...)
	errs.sort()
	return cfg, errs
}

// RegionOrder lists region names in the order they are written in the
// config: the fallback order of the latency and geo policies when a client
// has no location. Regions added in code follow, by name.
func (c *Config) RegionOrder() []string {
	names := make([]string, 0, len(c.Regions))
	seen := make(map[string]bool, len(c.Regions))
	for _, n := range c.regionOrder {
		if _, ok := c.Regions[n]; ok && !seen[n] {
			names = append(names, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range c.Regions {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// regionOrder reads the keys of the top-level regions mapping in document
// order.
func regionOrder(root *yaml.Node) []string {
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil
	}
	var names []string
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != "regions" || doc.Content[i+1].Kind != yaml.MappingNode {
			continue
		}
		m := doc.Content[i+1]
		for j := 0; j+1 < len(m.Content); j += 2 {
			names = append(names, m.Content[j].Value)
		}
	}
	return names
}

// Path is the file the config was read from ("" when built in code).
func (c *Config) Path() string { return c.path }

// Dir is the directory relative file names in the config are resolved against.
func (c *Config) Dir() string {
	if c.path == "" {
		return "."
	}
	return filepath.Dir(c.path)
}

// Resolve returns name relative to the config file's directory.
func (c *Config) Resolve(name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(c.Dir(), name)
}

// errAt builds an Error for a config path, located at its line.
func (c *Config) errAt(path, format string, args ...any) Error {
	return Error{File: c.path, Line: c.lineOf(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// lineOf finds the line of path or, failing that, of its nearest parent.
func (c *Config) lineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := c.lines.get()[p]; ok {
			return l
		}
	}
	return 0
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// lineIndex maps config paths to lines, built from the YAML text the first
// time an error needs it. A valid config never does, and the map costs
// about ten times its text (a string per key path: 13 MB for 10,000
// services), so it is not kept for nothing. Copies of a Config share it.
type lineIndex struct {
	once sync.Once
	data []byte // the YAML, until m is built
	m    map[string]int
}

// get returns the map (nil for a nil index: a Config built in code).
func (li *lineIndex) get() map[string]int {
	if li == nil {
		return nil
	}
	li.once.Do(func() {
		if li.m != nil || li.data == nil {
			return
		}
		li.m = map[string]int{}
		var root yaml.Node
		if err := yaml.Unmarshal(li.data, &root); err == nil {
			indexLines(&root, "", li.m)
		}
		li.data = nil
	})
	return li.m
}

// indexLines records the line of every mapping key and sequence item.
func indexLines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			out[p] = k.Line
			indexLines(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			out[p] = c.Line
			indexLines(c, p, out)
		}
	}
}

var yamlLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
var unknownFieldRe = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
var duplicateKeyRe = regexp.MustCompile(`^mapping key ("(?:[^"\\]|\\.)*") already defined at line \d+$`)

// yamlErrors turns yaml.v3 errors into file:line errors. lines (nil when
// the document could not be parsed) supplies the config path where the line
// names one: the parent of an unknown key, or the one key written there.
func yamlErrors(path string, err error, lines map[string]int) ErrorList {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out ErrorList
	for _, m := range msgs {
		e := Error{File: path, Msg: strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLineRe.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = sm[2]
			if fm := unknownFieldRe.FindStringSubmatch(e.Msg); fm != nil {
				e.Msg = fmt.Sprintf("unknown key %q", fm[1])
				e.Path = parentPath(keyAt(lines, e.Line, fm[1]))
			} else if dm := duplicateKeyRe.FindStringSubmatch(e.Msg); dm != nil {
				if key, err := strconv.Unquote(dm[1]); err == nil {
					e.Path = parentPath(keyAt(lines, e.Line, key))
				}
			} else {
				e.Path = deepestAt(lines, e.Line)
			}
		}
		out = append(out, e)
	}
	out.sort()
	return out
}

// keyAt finds the path of the key named key written on line, or "" when it
// is not exactly one.
func keyAt(lines map[string]int, line int, key string) string {
	found := ""
	for p, l := range lines {
		if l != line || (p != key && !strings.HasSuffix(p, "."+key)) {
			continue
		}
		if found != "" {
			return ""
		}
		found = p
	}
	return found
}

// deepestAt finds the one path on line that holds no other path on that
// line, or "" when there is none or several (a flow mapping such as
// {interval: 5 seconds, timeout: 2s} leaves the key in doubt). Keys win
// over sequence items: in "interval: [5s]" the problem is the interval.
func deepestAt(lines map[string]int, line int) string {
	var keys, all []string
	for p, l := range lines {
		if l != line {
			continue
		}
		all = append(all, p)
		if !strings.HasSuffix(p, "]") {
			keys = append(keys, p)
		}
	}
	if p, n := onlyLeaf(keys); n > 0 {
		return p
	}
	p, _ := onlyLeaf(all)
	return p
}

// onlyLeaf returns the path among paths that holds none of the others,
// when there is exactly one, and how many such paths there are.
func onlyLeaf(paths []string) (string, int) {
	found, n := "", 0
	for _, p := range paths {
		leaf := true
		for _, q := range paths {
			if len(q) > len(p) && strings.HasPrefix(q, p) && (q[len(p)] == '.' || q[len(p)] == '[') {
				leaf = false
				break
			}
		}
		if leaf {
			found = p
			n++
		}
	}
	if n != 1 {
		return "", n
	}
	return found, n
}

// UnmarshalYAML reads "5s", "250ms" and friends.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	// A *yaml.TypeError (not a plain error) lets the decoder go on and
	// report every other problem in the file too.
	bad := func(format string, args ...any) error {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
	}
	if n.Kind != yaml.ScalarNode {
		return bad("a duration must be a string such as \"5s\"")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return bad("bad duration %q: want a number with a unit, such as 5s or 250ms", n.Value)
	}
	if v < 0 {
		return bad("negative duration %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
