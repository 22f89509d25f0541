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
// and anchors relative zone file names.
func ParseConfig(path string, data []byte) (*Config, error) {
	cfg := &Config{path: path}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(path, err)
	}
	cfg.lines = map[string]int{}
	indexLines(&root, "", cfg.lines)

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlErrors(path, err)
	}
	cfg.ApplyDefaults()
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errs.Err()
	}
	return cfg, nil
}

// RegionOrder lists region names in the order they are written in the
// config: the fallback order of the latency and geo policies when a client
// has no location.
func (c *Config) RegionOrder() []string {
	names := make([]string, 0, len(c.Regions))
	for n := range c.Regions {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		li, lj := c.lines["regions."+names[i]], c.lines["regions."+names[j]]
		if li != lj {
			return li < lj
		}
		return names[i] < names[j]
	})
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
		if l, ok := c.lines[p]; ok {
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

// yamlErrors turns yaml.v3 errors into file:line errors.
func yamlErrors(path string, err error) ErrorList {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out ErrorList
	for _, m := range msgs {
		e := Error{File: path, Msg: m}
		if sm := yamlLineRe.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = sm[2]
			if fm := unknownFieldRe.FindStringSubmatch(e.Msg); fm != nil {
				e.Msg = fmt.Sprintf("unknown key %q", fm[1])
			}
		}
		out = append(out, e)
	}
	out.sort()
	return out
}

// UnmarshalYAML reads "5s", "250ms" and friends.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a string such as \"5s\"", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: bad duration %q: want a number with a unit, such as 5s or 250ms", n.Line, n.Value)
	}
	if v < 0 {
		return fmt.Errorf("line %d: negative duration %q", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
