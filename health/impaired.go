package health

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gtm-project/gtm/zones"
)

// markImpaired sets Impaired on probers whose own vantage point is broken,
// and counts each prober's fresh and stale endpoint results.
//
// Why set their votes aside: a prober that lost its uplink, or sits on the
// wrong side of a partition, sees every endpoint fail. If its votes counted,
// one broken prober (alone, or with one other in a two-prober quorum) would
// take healthy endpoints out everywhere and trigger a failover that helps no
// client. Without its votes the decision rests on probers whose view is
// trustworthy; if none remain, endpoints go Unknown, which is usable, so the
// failure mode is "keep answering", never "answer nothing".
//
// A prober is impaired when
//   - (a) it reports control targets and every fresh one fails, or
//   - (b) at least two regions have checked endpoints, it sees more than
//     half of the checked endpoints of every region Down, and at least one
//     other non-impaired prober with fresh results does not. When every
//     prober sees the same, the likelier story is a real outage, and a
//     single prober is believed alone.
func markImpaired(probers map[string]*proberAcc, refs []endpointRef, now time.Time, next *time.Time) {
	for _, p := range probers {
		var failed []string
		for _, r := range p.control {
			if !isFresh(now, r.At, r.Interval, zones.DefaultInterval, next) {
				continue
			}
			p.ControlTotal++
			if verdictOf(r) == Down {
				p.ControlFailed++
				failed = append(failed, cmp.Or(r.Target, r.Endpoint))
			}
		}
		if p.ControlTotal > 0 && p.ControlFailed == p.ControlTotal {
			p.Impaired = true
			p.Reason = fmt.Sprintf("all %d control targets fail (%s)", p.ControlTotal, strings.Join(failed, ", "))
		}
	}

	checked := map[string]int{} // region -> checked endpoints
	for _, ref := range refs {
		if ref.checked {
			checked[ref.st.Region]++
		}
		for _, r := range ref.results {
			p := probers[proberID(r)]
			if !isFresh(now, r.At, r.Interval, ref.interval, next) {
				p.Stale++
				continue
			}
			p.Fresh++
			if ref.checked && verdictOf(r) == Down {
				p.down[ref.st.Region]++
			}
		}
	}
	if len(checked) < 2 {
		return
	}
	regions := make([]string, 0, len(checked))
	for r := range checked {
		regions = append(regions, r)
	}
	slices.Sort(regions)

	var blind []*proberAcc
	others := 0
	for _, p := range probers {
		if p.Impaired || p.Fresh == 0 {
			continue
		}
		all := true
		for _, r := range regions {
			if p.down[r]*2 <= checked[r] {
				all = false
				break
			}
		}
		if all {
			blind = append(blind, p)
		} else {
			others++
		}
	}
	if others == 0 {
		return
	}
	for _, p := range blind {
		parts := make([]string, len(regions))
		for i, r := range regions {
			parts[i] = fmt.Sprintf("%s %d/%d", r, p.down[r], checked[r])
		}
		p.Impaired = true
		p.Reason = fmt.Sprintf("sees most endpoints down in every region (%s) while %d other prober(s) do not",
			strings.Join(parts, ", "), others)
	}
}
