package pharmacy

import (
	"errors"
	"fmt"
	"runtime"
)

// Config sizes the story. The zero value runs the README's default: a
// chain of one million members with about twenty million orders and
// refunds over three years.
type Config struct {
	// Members is the number of members the chain has. Default 1,000,000.
	Members int
	// Seed selects the generated data; the same seed gives the same story.
	// 0 is a seed like any other.
	Seed uint64
	// MeanOrders is the mean number of everyday (non-refill) orders per
	// member over the three years (synth.Config.MeanOrders). Default 13.5:
	// with the refills of the chronic patients and the refunds, about 20
	// orders per member.
	MeanOrders float64
	// Salt makes the campaign/hold-out split: the same salt gives the same
	// arms. Default "refill-reminder-2026-10".
	Salt string
	// Workers is the number of goroutines generating data. Default
	// GOMAXPROCS.
	Workers int
	// Progress, if not nil, is told when each stage starts, with the
	// stage's name; from the goroutine that called Run.
	Progress func(stage string)
}

// ErrConfig is wrapped by the errors Run returns for a bad Config.
var ErrConfig = errors.New("bad story config")

// MaxMembers bounds Config.Members: the story holds every order in memory.
const MaxMembers = 20_000_000

func (c Config) withDefaults() (Config, error) {
	if c.Members == 0 {
		c.Members = 1_000_000
	}
	if c.Members < 1 || c.Members > MaxMembers {
		return c, fmt.Errorf("%w: members %d out of range 1..%d", ErrConfig, c.Members, MaxMembers)
	}
	if c.MeanOrders == 0 {
		c.MeanOrders = 13.5
	}
	if c.MeanOrders < 0 || c.MeanOrders > 1000 {
		return c, fmt.Errorf("%w: mean orders %g out of range (0, 1000]", ErrConfig, c.MeanOrders)
	}
	if c.Salt == "" {
		c.Salt = "refill-reminder-2026-10"
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Workers < 0 {
		return c, fmt.Errorf("%w: workers %d is negative", ErrConfig, c.Workers)
	}
	return c, nil
}
