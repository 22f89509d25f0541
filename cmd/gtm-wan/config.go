package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config defaults.
const (
	DefaultTUN       = "wan0"
	DefaultIntraMS   = 0.5
	DefaultDefaultMS = 20
	// maxDelayMS bounds a delay: longer ones are typos, and a packet held
	// for minutes only fills the queue.
	maxDelayMS = 10000
)

// Config describes a WAN: the sites it joins (one network namespace each)
// and the one-way delays between them. It is read from YAML or JSON (JSON
// is YAML), strictly: an unknown key is an error.
type Config struct {
	// TUN names the device created in every namespace. Default "wan0".
	TUN string `yaml:"tun"`
	// Range is the IPv4 prefix routed through the TUN in every namespace;
	// every site address lies inside it. Choose a private range that is
	// used nowhere else: no route for it is added outside the namespaces.
	Range string `yaml:"range"`
	// IntraMS is the one-way delay between two sites of the same place
	// (a region's DNS node and its gateways, say). Default 0.5.
	IntraMS *float64 `yaml:"intra_ms"`
	// DefaultMS is the one-way delay of pairs no entry of Delays names.
	// Default 20.
	DefaultMS *float64 `yaml:"default_ms"`
	Sites     []Site   `yaml:"sites"`
	// Delays are applied in order over the defaults, so a site-level entry
	// written after a place-level one refines it.
	Delays []Delay `yaml:"delays"`

	rng netip.Prefix
}

// Site is one network namespace on the WAN.
type Site struct {
	Name string `yaml:"name"`
	// Netns is the namespace's name under /var/run/netns. Default: Name.
	Netns string `yaml:"netns"`
	// Place groups sites that are close together (a region); default Name.
	// Cut and delay commands accept a place name for all of its sites.
	Place string `yaml:"place"`
	// Addrs are the site's IPv4 addresses; the first is the source of the
	// traffic it sends into the WAN.
	Addrs []string `yaml:"addrs"`
	// Gateways are IP:PORT HTTP servers run inside the namespace, answering
	// every request 200 "ok <addr>": stand-ins for API gateways, which the
	// control API stops and starts. Each IP must be one of Addrs.
	Gateways []string `yaml:"gateways"`

	addrs []netip.Addr
	gws   []netip.AddrPort
}

// Delay sets the one-way delay, both directions, between every site of A
// and every site of B (site or place names).
type Delay struct {
	A  string  `yaml:"a"`
	B  string  `yaml:"b"`
	MS float64 `yaml:"ms"`
}

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes YAML or JSON, applies defaults and validates.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) applyDefaults() {
	if c.TUN == "" {
		c.TUN = DefaultTUN
	}
	if c.IntraMS == nil {
		v := float64(DefaultIntraMS)
		c.IntraMS = &v
	}
	if c.DefaultMS == nil {
		v := float64(DefaultDefaultMS)
		c.DefaultMS = &v
	}
	for i := range c.Sites {
		s := &c.Sites[i]
		if s.Netns == "" {
			s.Netns = s.Name
		}
		if s.Place == "" {
			s.Place = s.Name
		}
	}
}

// validate checks everything the WAN relies on and reports every problem
// at once, each with its path.
func (c *Config) validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if len(c.TUN) > 15 || strings.ContainsAny(c.TUN, "/ ") {
		add("tun", "%q is not an interface name (at most 15 characters, no '/' or space)", c.TUN)
	}
	rng, err := netip.ParsePrefix(c.Range)
	switch {
	case err != nil:
		add("range", "%q is not a prefix such as 10.77.0.0/16", c.Range)
	case !rng.Addr().Is4():
		add("range", "%s: only IPv4 is forwarded", c.Range)
	default:
		c.rng = rng.Masked()
	}
	if v := *c.IntraMS; v < 0 || v > maxDelayMS {
		add("intra_ms", "%g is outside 0..%d", v, maxDelayMS)
	}
	if v := *c.DefaultMS; v < 0 || v > maxDelayMS {
		add("default_ms", "%g is outside 0..%d", v, maxDelayMS)
	}
	if len(c.Sites) < 2 {
		add("sites", "a WAN joins at least two sites, got %d", len(c.Sites))
	}
	names := map[string]bool{}
	places := map[string]bool{}
	owner := map[netip.Addr]string{}
	netns := map[string]string{}
	for i := range c.Sites {
		s := &c.Sites[i]
		p := fmt.Sprintf("sites[%d]", i)
		if s.Name == "" || strings.ContainsAny(s.Name, ",*/ ") {
			add(p+".name", "%q: want a non-empty name without ',', '*', '/' or spaces", s.Name)
		} else if names[s.Name] {
			add(p+".name", "%q is used twice", s.Name)
		}
		names[s.Name] = true
		places[s.Place] = true
		if strings.ContainsAny(s.Netns, "/ ") || s.Netns == "." || s.Netns == ".." {
			add(p+".netns", "%q is not a namespace name (a file under /var/run/netns)", s.Netns)
		} else if o, ok := netns[s.Netns]; ok {
			add(p+".netns", "%q is also the namespace of site %q", s.Netns, o)
		}
		netns[s.Netns] = s.Name
		if len(s.Addrs) == 0 {
			add(p+".addrs", "a site needs at least one address")
		}
		s.addrs = s.addrs[:0]
		for j, a := range s.Addrs {
			ip, err := netip.ParseAddr(a)
			switch {
			case err != nil || !ip.Is4():
				add(fmt.Sprintf("%s.addrs[%d]", p, j), "%q is not an IPv4 address", a)
				continue
			case c.rng.IsValid() && !c.rng.Contains(ip):
				add(fmt.Sprintf("%s.addrs[%d]", p, j), "%s is outside range %s", ip, c.rng)
			}
			if o, ok := owner[ip]; ok {
				add(fmt.Sprintf("%s.addrs[%d]", p, j), "%s is also an address of site %q", ip, o)
			}
			owner[ip] = s.Name
			s.addrs = append(s.addrs, ip)
		}
		s.gws = s.gws[:0]
		for j, g := range s.Gateways {
			ap, err := netip.ParseAddrPort(g)
			if err != nil || ap.Port() == 0 {
				add(fmt.Sprintf("%s.gateways[%d]", p, j), "%q is not IP:PORT", g)
				continue
			}
			if owner[ap.Addr()] != s.Name {
				add(fmt.Sprintf("%s.gateways[%d]", p, j), "%s is not an address of this site", ap.Addr())
			}
			s.gws = append(s.gws, ap)
		}
	}
	for i, d := range c.Delays {
		p := fmt.Sprintf("delays[%d]", i)
		for _, n := range []string{d.A, d.B} {
			if !names[n] && !places[n] {
				add(p, "%q is neither a site nor a place", n)
			}
		}
		if d.MS < 0 || d.MS > maxDelayMS {
			add(p+".ms", "%g is outside 0..%d", d.MS, maxDelayMS)
		}
	}
	return errors.Join(errs...)
}
