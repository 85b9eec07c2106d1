package suite

import (
	"context"
	"errors"
	"fmt"
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

// idCdpkit holds the observations in identity.Batch columns, one batch
// per chunk of members as generated: a host bulk-loading resolves batches
// like these. At 10M members they are 36M observations with 73M
// identifiers, some 3 GB in columns where []identity.Observation would
// take 20 GB.
type idCdpkit struct {
	chunks []identity.Batch
	errs   []error // per chunk, the first observation a batch refused
	obs    int
}

func newIDCdpkit(env *Env) *idCdpkit {
	n := (env.Members + chunkOf(env) - 1) / chunkOf(env)
	return &idCdpkit{chunks: make([]identity.Batch, n), errs: make([]error, n)}
}

// sink returns the function genIdentity hands chunk k's observations to.
func (c *idCdpkit) sink(k int) func(o *synth.Observation) {
	ch := &c.chunks[k]
	var ids []identity.Identifier
	return func(o *synth.Observation) {
		ids = ids[:0]
		for _, x := range o.IDs {
			ids = append(ids, identity.Identifier{Kind: x.Kind, Value: x.Value, Scope: x.Scope})
		}
		err := ch.Add(identity.Observation{
			EventID: strconv.FormatUint(o.EventID, 10), Source: o.Source, Time: o.Time, Identifiers: ids,
		})
		if err != nil && c.errs[k] == nil {
			c.errs[k] = err
		}
	}
}

// seal counts the observations once generation is over, and fails if a
// batch refused one: the peers would hold observations cdpkit does not.
func (c *idCdpkit) seal() error {
	c.obs = 0
	for k := range c.chunks {
		if c.errs[k] != nil {
			return fmt.Errorf("identity: batch %d: %w", k, c.errs[k])
		}
		c.obs += c.chunks[k].Len()
	}
	return nil
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
	persons := make([]identity.PersonID, c.obs)
	at := 0
	for k := range c.chunks {
		b := &c.chunks[k]
		if _, err := r.Resolve(b, persons[at:at+b.Len()]); err != nil {
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
		at += b.Len()
	}
	labels := make([]uint32, len(persons))
	for i, p := range persons {
		if p == identity.NoPerson {
			labels[i] = noPerson
			continue
		}
		canon, err := r.Canonical(p)
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
