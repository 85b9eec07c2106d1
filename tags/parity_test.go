package tags

import (
	"math/rand/v2"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/require"
)

// TestCompiledMatchesCEL is the property that the compiled path has CEL's
// semantics: on random well-typed rules and random records with absent
// fields and edge-case values, it gives the same value, or an error of the
// same kind, as cel-go's interpreter.
var seedA, nRules uint64 = 1, 1500

func TestCompiledMatchesCEL(t *testing.T) {
	s := testSchema()
	loc, err := LoadLocation("America/New_York")
	require.NoError(t, err)
	clock := Clock{AsOf: time.Date(2024, 3, 10, 12, 0, 0, 0, loc), Location: loc}
	ev, err := NewEvaluator(clock)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(seedA, 2))
	recs := make([]*Record, 40)
	for i := range recs {
		recs[i] = randRecord(r, s, uint32(i), loc)
	}
	rules, compiled, mismatches := 0, 0, 0
	if raceEnabled && nRules > 500 {
		nRules = 500
		defer func() { nRules = 1500 }()
	}
	for i := uint64(0); i < nRules && mismatches < 10; i++ {
		g := &gen{r: r}
		src := g.rule()
		rule, err := s.Compile("p", src)
		if err != nil {
			t.Fatalf("generated rule %q does not compile: %v", src, err)
		}
		rules++
		if rule.fast == nil {
			continue
		}
		compiled++
		for _, rec := range recs {
			fv, ferr := ev.evalBool(rule, rec)
			out, cerr := ev.celEval(rule, rec)
			var cv bool
			if cerr == nil {
				b, ok := out.(types.Bool)
				require.True(t, ok)
				cv = bool(b)
			}
			if (ferr == nil) != (cerr == nil) || fv != cv || (ferr != nil && ferr.Kind != cerr.Kind) {
				mismatches++
				t.Errorf("rule %s\nmember %d: compiled %v %v, cel %v %v", src, rec.ID, fv, ferr, cv, cerr)
				break
			}
		}
	}
	t.Logf("%d rules, %d compiled", rules, compiled)
	require.Greater(t, compiled, rules*2/3, "most generated rules should compile")
}
