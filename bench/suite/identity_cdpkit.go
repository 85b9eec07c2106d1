package suite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/internal/synth"
)

// idConfig declares synth's identifier kinds with the normalisers they
// need and no limits or caps that could bind, so that cdpkit resolves to
// plain connected components like the peers (see identityConfig). Junk
// values are blocked by the kinds' default filter; the well-known
// placeholder phone 13800000000 is blocked by name.
func idConfig(sizeHint int) identity.Config {
	return identity.Config{
		Kinds: []identity.Kind{
			{Name: synth.KindMemberCard},
			{Name: synth.KindWeChatUnionID},
			{Name: synth.KindPhone, Normalize: identity.NormalizeCNMobile, Blocked: []string{"13800000000"}},
			{Name: synth.KindAlipayUID},
			{Name: synth.KindWeChatOpenID, Scoped: true},
			{Name: synth.KindTaobaoID},
			{Name: synth.KindJDID},
			{Name: synth.KindMeituanID},
			{Name: synth.KindDeviceID, Normalize: identity.NormalizeLower},
			{Name: synth.KindInsurerID},
		},
		MaxIdentifiers: 65535,
		MaxMerges:      16383,
		SizeHint:       sizeHint,
	}
}

// idCdpkit holds the observations as identity.Observations, in the chunks
// they were generated in: a host feeds a resolver in batches like these.
// At 10M members they are 36M observations with 73M identifiers, so each
// chunk's identifiers share one array and the slices are cut to size.
type idCdpkit struct {
	chunks []idObsChunk
	obs    int
}

type idObsChunk struct {
	obs []identity.Observation
	ids []identity.Identifier
	off []uint32 // observation i's identifiers are ids[off[i]:off[i+1]]
}

// sink returns the function genIdentity hands chunk k's observations to.
func (c *idCdpkit) sink(k int) func(o *synth.Observation) {
	ch := &c.chunks[k]
	ch.off = append(ch.off, 0)
	return func(o *synth.Observation) {
		for _, x := range o.IDs {
			ch.ids = append(ch.ids, identity.Identifier{Kind: x.Kind, Value: x.Value, Scope: x.Scope})
		}
		ch.off = append(ch.off, uint32(len(ch.ids)))
		ch.obs = append(ch.obs, identity.Observation{
			EventID: strconv.FormatUint(o.EventID, 10), Source: o.Source, Time: o.Time,
		})
	}
}

// seal cuts each chunk's slices to size and points every observation at
// its identifiers, once generation is over.
func (c *idCdpkit) seal() {
	c.obs = 0
	for k := range c.chunks {
		ch := &c.chunks[k]
		ch.obs, ch.ids = slices.Clone(ch.obs), slices.Clone(ch.ids)
		for i := range ch.obs {
			ch.obs[i].Identifiers = ch.ids[ch.off[i]:ch.off[i+1]:ch.off[i+1]]
		}
		ch.off = nil
		c.obs += len(ch.obs)
	}
}

// resolve resolves every observation with a new Resolver, batch by batch,
// and returns each observation's person (its canonical ID once all are
// resolved, since later merges alias earlier persons) and the number of
// live persons.
func (c *idCdpkit) resolve(nodes int) ([]uint32, int64, error) {
	r, err := identity.New(idConfig(nodes))
	if err != nil {
		return nil, 0, err
	}
	labels := make([]uint32, 0, c.obs)
	var results []identity.Result
	for _, ch := range c.chunks {
		batch := ch.obs
		results = append(results[:0], make([]identity.Result, len(batch))...)
		if err := r.ObserveBatch(batch, results); err != nil {
			var be *identity.BatchError
			if !errors.As(err, &be) {
				return nil, 0, err
			}
			for _, oe := range be.Errors {
				if !errors.Is(oe, identity.ErrNoIdentifier) {
					return nil, 0, oe
				}
			}
		}
		for _, res := range results {
			labels = append(labels, uint32(res.Person))
		}
	}
	for i, p := range labels {
		if identity.PersonID(p) == identity.NoPerson {
			labels[i] = noPerson
			continue
		}
		canon, err := r.Canonical(identity.PersonID(p))
		if err != nil {
			return nil, 0, fmt.Errorf("observation %d: %w", i, err)
		}
		labels[i] = uint32(canon)
	}
	return labels, int64(r.Stats().Persons), nil
}

func (c *idCdpkit) resolveImpl(d *idData) harness.Impl {
	return harness.Impl{
		Name: harness.Reference,
		Run: func(context.Context) (harness.Answer, error) {
			_, persons, err := c.resolve(d.nNodes)
			return harness.Answer{Count: persons}, err
		},
		Full: func(context.Context) (harness.Answer, error) {
			labels, persons, err := c.resolve(d.nNodes)
			return harness.Answer{Count: persons, Partition: labels}, err
		},
	}
}
