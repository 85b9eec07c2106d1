package identity

import (
	"slices"
	"strconv"
	"testing"

	"github.com/cdpkit/cdpkit/internal/synth"
)

// synthWalk walks the bench suite's identity data for n members:
// synth's chain without shared store phones and kiosks, each
// observation's identifiers as the source reported them (phones in
// several formats, 3% junk). The observation and its identifiers are
// reused by the walk.
func synthWalk(tb testing.TB, n int, fn func(o *Observation)) {
	tb.Helper()
	g, err := synth.New(synth.Config{Seed: 20261001, Members: n, SharedPhoneShare: -1, SharedDeviceShare: -1})
	if err != nil {
		tb.Fatal(err)
	}
	var o Observation
	for so := range g.Observations() {
		o.Identifiers = o.Identifiers[:0]
		for _, x := range so.IDs {
			o.Identifiers = append(o.Identifiers, Identifier{Kind: x.Kind, Value: x.Value, Scope: x.Scope})
		}
		o.EventID, o.Source, o.Time = strconv.FormatUint(so.EventID, 10), so.Source, so.Time
		fn(&o)
	}
}

// synthBatch is synthWalk's observations in a Batch.
func synthBatch(tb testing.TB, n int) *Batch {
	b := new(Batch)
	synthWalk(tb, n, func(o *Observation) {
		if err := b.Add(*o); err != nil {
			tb.Fatal(err)
		}
	})
	return b
}

// synthBenchConfig is the bench suite's configuration: synth's kinds with
// their normalisers and no limit that could bind.
func synthBenchConfig(sizeHint int) Config {
	return Config{
		Kinds: []Kind{
			{Name: synth.KindMemberCard},
			{Name: synth.KindWeChatUnionID},
			{Name: synth.KindPhone, Normalize: NormalizeCNMobile, Blocked: []string{"13800000000"}},
			{Name: synth.KindAlipayUID},
			{Name: synth.KindWeChatOpenID, Scoped: true},
			{Name: synth.KindTaobaoID},
			{Name: synth.KindJDID},
			{Name: synth.KindMeituanID},
			{Name: synth.KindDeviceID, Normalize: NormalizeLower},
			{Name: synth.KindInsurerID},
		},
		MaxIdentifiers: 65535,
		MaxMerges:      16383,
		SizeHint:       sizeHint,
	}
}

// BenchmarkResolveSynth resolves the bench suite's observations of
// benchMembers() members, held in a Batch, into a fresh resolver, as the
// bench's identity/resolve case does; with DefaultKinds, limits are
// checked as well. cpu-ns/obs is CPU time on all threads, which a busy
// machine disturbs less than wall time.
func BenchmarkResolveSynth(b *testing.B) {
	batch := synthBatch(b, benchMembers())
	for _, bc := range []struct {
		name string
		cfg  func(hint int) Config
	}{
		{"nolimits", synthBenchConfig},
		{"defaultkinds", func(hint int) Config { return Config{Kinds: DefaultKinds(), SizeHint: hint} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchResolve(b, batch.Len(), func() {
				r, err := New(bc.cfg(3 * benchMembers()))
				if err != nil {
					b.Fatal(err)
				}
				r.Resolve(batch, nil)
			})
		})
	}
}

// BenchmarkObserveBatchSynth is BenchmarkResolveSynth's nolimits case fed
// to ObserveBatch as Observations, 4096 at a time as a host reading a
// file would.
func BenchmarkObserveBatchSynth(b *testing.B) {
	var obs []Observation
	synthWalk(b, benchMembers(), func(o *Observation) {
		c := *o
		c.Identifiers = slices.Clone(o.Identifiers)
		obs = append(obs, c)
	})
	benchResolve(b, len(obs), func() {
		r, err := New(synthBenchConfig(3 * benchMembers()))
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(obs); i += 4096 {
			r.ObserveBatch(obs[i:min(i+4096, len(obs))], nil)
		}
	})
}

// benchResolve times run, which resolves n observations, reporting wall
// and CPU time per observation.
func benchResolve(b *testing.B, n int, run func()) {
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/obs")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N*n), "cpu-ns/obs")
}
