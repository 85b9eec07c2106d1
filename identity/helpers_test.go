package identity

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func id(kind, value string) Identifier { return Identifier{Kind: kind, Value: value} }

func openid(app, value string) Identifier {
	return Identifier{Kind: KindWeChatOpenID, Scope: app, Value: value}
}

// harness feeds observations with increasing event IDs and times.
type harness struct {
	t   testing.TB
	r   *Resolver
	n   int
	now time.Time
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	r, err := New(cfg)
	require.NoError(t, err)
	return &harness{t: t, r: r, now: t0}
}

// obs observes identifiers as event "e<n>", one minute after the last.
func (h *harness) obs(ids ...Identifier) Result {
	h.t.Helper()
	h.n++
	h.now = h.now.Add(time.Minute)
	res, err := h.r.Observe(Observation{EventID: fmt.Sprintf("e%d", h.n), Source: "test", Time: h.now, Identifiers: ids})
	require.NoError(h.t, err)
	h.check()
	return res
}

// at observes at a given time.
func (h *harness) at(when time.Time, ids ...Identifier) Result {
	h.t.Helper()
	h.now = when
	h.n++
	res, err := h.r.Observe(Observation{EventID: fmt.Sprintf("e%d", h.n), Source: "test", Time: when, Identifiers: ids})
	require.NoError(h.t, err)
	h.check()
	return res
}

func (h *harness) check() {
	h.t.Helper()
	h.r.mu.RLock()
	defer h.r.mu.RUnlock()
	require.NoError(h.t, h.r.check())
}

func (h *harness) lookup(i Identifier) PersonID {
	h.t.Helper()
	p, err := h.r.Lookup(i)
	require.NoError(h.t, err, "lookup %v", i)
	return p
}

// idents lists a person's identifiers as strings.
func (h *harness) idents(p PersonID) []string {
	h.t.Helper()
	ids, err := h.r.Identifiers(p)
	require.NoError(h.t, err)
	return strs(ids)
}

func strs(ids []Identifier) []string {
	out := make([]string, len(ids))
	for i, x := range ids {
		out[i] = x.String()
	}
	return out
}

// partition returns the live persons as sorted identifier lists, keyed by
// the event ID of the observation that created them: the same key a
// replay from scratch would give, whatever the person numbers are.
func partition(t testing.TB, r *Resolver) map[string][]string {
	t.Helper()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string][]string)
	for p := range r.persons.len() {
		pp := r.persons.at(p)
		if pp.status() != stateLive {
			continue
		}
		var ids []string
		for _, x := range r.personIdents(nil, p) {
			ids = append(ids, r.identifier(x).String())
		}
		slices.Sort(ids)
		key := string(r.log.rec(pp.born).eventID())
		require.NotContains(t, out, key, "two persons born at %s", key)
		out[key] = ids
	}
	return out
}

// outcomes lists, per stored observation, which identifiers it linked and
// dropped, in log order: the lineage a replay must reproduce.
func outcomes(r *Resolver) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for off := r.log.skipPad(0); off < r.log.end; off = r.log.following(off) {
		rc := r.log.rec(off)
		if rc.tag() != tagLive {
			continue
		}
		var sb strings.Builder
		sb.WriteString(string(rc.eventID()))
		for _, e := range rc.entries() {
			switch entryStatus(e) {
			case stLinked:
				sb.WriteString(" +" + r.identifier(entryID(e)).String())
			case stDropped:
				sb.WriteString(" -" + r.identifier(entryID(e)).String())
			}
		}
		fmt.Fprintf(&sb, " %v", r.cfg.limitNames(r.viol[off]))
		out = append(out, sb.String())
	}
	return out
}
