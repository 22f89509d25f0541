package routing

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText prints the explanation for people, as `gtm explain` shows it:
// the client and its location, then per service a table of the
// candidate groups best first, the choice, the reason and the scope.
func (e Explanation) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	p("question\t%s %s\n", e.Name, e.Type)
	switch {
	case e.Client == "":
		p("client\tunknown (configured order)\n")
	case e.ECS:
		p("client\t%s/%d (ECS)\n", e.Client, e.SourcePrefix)
	default:
		p("client\t%s (the resolver; no ECS)\n", e.Client)
	}
	if l := e.Location; l != nil {
		where := "not in the location database"
		if l.Found {
			var parts []string
			for _, s := range []string{l.Country, l.Continent} {
				if s != "" {
					parts = append(parts, s)
				}
			}
			if l.Lat != nil && l.Lon != nil {
				parts = append(parts, fmt.Sprintf("%.2f,%.2f", *l.Lat, *l.Lon))
			} else {
				parts = append(parts, "no coordinates")
			}
			where = strings.Join(parts, " ")
		}
		p("location\t%s (network %s)\n", where, l.Network)
	}
	if e.LatencyNetwork != "" {
		p("latency map\t%s\n", e.LatencyNetwork)
	}
	for _, s := range e.Services {
		p("service\t%s policy %s, %s records\n", s.Name, s.Policy, s.Family)
		p("\tRANK\tGROUP\tUSABLE\tDISTANCE\tRTT\tBY\n")
		for _, g := range s.Groups {
			rank := "-"
			if g.Rank > 0 {
				rank = strconv.Itoa(g.Rank)
			}
			dist, rtt := "-", "-"
			if g.DistanceKM != nil {
				dist = fmt.Sprintf("%.0f km", *g.DistanceKM)
			}
			if g.RTTMS != nil {
				rtt = fmt.Sprintf("%.1f ms", *g.RTTMS)
			}
			by := g.By
			if g.Rule {
				by += " (geo rule)"
			}
			p("\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", rank, g.Group, g.Usable, g.Endpoints, dist, rtt, by)
		}
		open := ""
		if s.FailedOpen {
			open = ", failed open"
		}
		p("chosen\t%s (reason %s, ECS scope /%d%s)\n", s.Chosen, s.Reason, s.Scope, open)
	}
	p("rcode\t%s\n", e.Rcode)
	for i, a := range e.Answer {
		label := ""
		if i == 0 {
			label = "answer"
		}
		p("%s\t%s\n", label, a)
	}
	if e.ECS {
		p("ECS scope\t/%d\n", e.Scope)
	}
	return tw.Flush()
}
