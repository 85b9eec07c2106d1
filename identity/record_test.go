package identity

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordEventIDRoundTrip(t *testing.T) {
	cases := []struct {
		ev     string
		digits bool
		words  int // event ID words, worked out by hand
	}{
		{"", false, 0},
		{"0", true, 1},
		{"007", true, 1},                     // leading zeros are kept
		{"12345678", true, 1},                // eight digits fill a word
		{"123456789", true, 1},               // a number below 2^40: one word
		{"88000012345", true, 1},             // 11 digits: 1 word, not 3
		{"1099511627775", true, 1},           // 2^40-1, the largest number kept as one
		{"1099511627776", true, 2},           // 2^40: 13 packed digits
		{"9999999999999", true, 2},           // 13 digits over 2^40
		{"12345678901234", true, 2},          // 14 digits
		{"012345678", true, 2},               // a leading zero: 9 packed digits
		{"00000000000", true, 2},             // 11 zeros
		{strings.Repeat("9", 255), true, 32}, // ⌈255/8⌉
		{"12a", false, 1},
		{"e1", false, 1},
		{"/09:", false, 1}, // '/' and ':' border the digits
		{"12 3", false, 1},
		{"-1", false, 1},
		{"١٢", false, 1}, // Arabic-Indic digits are not ASCII digits
		{"\xff\x00", false, 1},
		{strings.Repeat("x", 255), false, 64},
	}
	var l evlog
	var offs []uint32
	for i, c := range cases {
		n := i % 3
		words := recWords(n, c.ev)
		require.Equal(t, 3+n+c.words, words, "%q", c.ev)
		off := l.alloc(words)
		require.NotEqual(t, noRec, off)
		r := l.view(off, words)
		writeRec(r, n, uint32(i), uint32(1000+i), c.ev)
		for j := range r.entries() {
			r.entries()[j] = mkEntry(stLinked, uint32(j+1))
		}
		offs = append(offs, off)
	}
	check := func() {
		for i, c := range cases {
			r := l.rec(offs[i])
			require.Len(t, r, 3+i%3+c.words, "%q", c.ev)
			if r.tag() == tagDeleted {
				continue
			}
			assert.Equal(t, uint32(tagLive), r.tag(), "%q", c.ev)
			assert.Equal(t, c.digits, r.digits(), "%q", c.ev)
			assert.Equal(t, []byte(c.ev), r.eventID(), "%q", c.ev)
			assert.True(t, r.eventIDEquals(c.ev), "%q", c.ev)
			assert.False(t, r.eventIDEquals(c.ev+"0"), "%q", c.ev)
			if c.ev != "" {
				other := []byte(c.ev)
				other[len(other)-1] ^= 1 // '0'↔'1', '9'↔'8', 'a'↔'`'
				assert.False(t, r.eventIDEquals(string(other)), "%q", c.ev)
			}
			assert.Equal(t, uint32(i), r.source())
			assert.Equal(t, uint32(1000+i), r.time())
			assert.Equal(t, i%3, r.n())
			for j, e := range r.entries() {
				assert.Equal(t, uint32(j+1), entryID(e))
			}
		}
		// The log walks record by record whatever was wiped.
		var walked []uint32
		for off := l.skipPad(0); off < l.end; off = l.following(off) {
			walked = append(walked, off)
		}
		assert.Equal(t, offs, walked)
	}
	check()
	for i := 0; i < len(cases); i += 2 {
		wipeRec(l.rec(offs[i]))
		require.Equal(t, uint32(tagDeleted), l.rec(offs[i]).tag())
	}
	check()
}

// TestDigitEventIDsBehaveAsBytes runs the same history twice, once with
// decimal event IDs (kept as packed digits) and once with the same IDs
// behind a letter (kept as bytes): everything but the names must agree,
// and the digit resolver must survive a snapshot.
func TestDigitEventIDsBehaveAsBytes(t *testing.T) {
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 99))
		cfg := genConfig(rng)
		obs := genObservations(rng, 120, "", t0)
		for i := range obs {
			if i%7 == 3 {
				obs[i].EventID = "0" + obs[i].EventID
			}
			if i%11 == 5 {
				obs[i].EventID += "123456789012" // past two words of digits
			}
		}
		dr, err := New(cfg)
		require.NoError(t, err)
		br, err := New(cfg)
		require.NoError(t, err)
		for i, o := range obs {
			b := o
			b.EventID = "e" + o.EventID
			_, err1 := dr.Observe(o)
			_, err2 := br.Observe(b)
			assert.Equal(t, err1 == nil, err2 == nil)
			switch i {
			case 40:
				s1, err1 := dr.SplitObservation(obs[20].EventID)
				s2, err2 := br.SplitObservation("e" + obs[20].EventID)
				require.NoError(t, err1)
				require.NoError(t, err2)
				assert.Equal(t, s2, s1)
			case 80:
				p, err := dr.Lookup(o.Identifiers[0])
				if err == nil {
					e1, err1 := dr.Erase(p)
					require.NoError(t, err1)
					e2, err2 := br.Erase(p)
					require.NoError(t, err2)
					for k := range e2.EventIDs {
						e2.EventIDs[k] = strings.TrimPrefix(e2.EventIDs[k], "e")
					}
					assert.Equal(t, e2, e1)
				}
			}
		}
		want := map[string][]string{}
		for k, v := range partition(t, br) {
			want[strings.TrimPrefix(k, "e")] = v
		}
		assert.Equal(t, want, partition(t, dr), "seed %d", seed)
		var wantOut []string
		for _, s := range outcomes(br) {
			wantOut = append(wantOut, strings.TrimPrefix(s, "e"))
		}
		assert.Equal(t, wantOut, outcomes(dr), "seed %d", seed)
		for p := range dr.Persons() {
			d, err := dr.Explain(p)
			require.NoError(t, err)
			b, err := br.Explain(p)
			require.NoError(t, err)
			for _, steps := range [][]Step{b.Steps, b.Refused} {
				for k := range steps {
					steps[k].EventID = strings.TrimPrefix(steps[k].EventID, "e")
				}
			}
			assert.Equal(t, b, d, "seed %d person %d", seed, p)
		}
		for _, r := range []*Resolver{dr, br} {
			r.mu.RLock()
			require.NoError(t, r.check())
			r.mu.RUnlock()
		}

		snap := snapshotBytes(t, dr)
		restored, err := RestoreSnapshot(bytes.NewReader(snap), cfg)
		require.NoError(t, err, "seed %d", seed)
		assert.Equal(t, outcomes(dr), outcomes(restored))
		assert.Equal(t, snap, snapshotBytes(t, restored))
	}
}

func TestEventIndexClosedChunkHasNoSlack(t *testing.T) {
	r, err := New(Config{Kinds: testKinds()})
	require.NoError(t, err)
	var want []uint32
	for i := range uint32(1000) {
		r.eventInsert(i*3, i<<20)
		want = append(want, i<<20|i*3)
	}
	require.Greater(t, cap(r.events[0]), 1000, "append's growth left slack to drop")
	r.eventInsert(2<<logChunkBits|5, 7<<20) // the log skipped chunk 1
	assert.Equal(t, want, r.events[0])
	assert.Equal(t, 1000, cap(r.events[0]))
	assert.Empty(t, r.events[1])
	assert.Equal(t, []uint32{7<<20 | 5}, r.events[2])
}

// TestNumberEventIDLayout checks a tagNumber record's words against the
// layout worked out by hand: 88000012345 = 0x14_7D35_A039.
func TestNumberEventIDLayout(t *testing.T) {
	r := make(rec, recWords(2, "88000012345"))
	require.Len(t, r, 3+2+1)
	writeRec(r, 2, 77, 1234, "88000012345")
	assert.Equal(t, uint32(tagNumber)<<30|2<<22|0x14<<14|77, r[0])
	assert.Equal(t, uint32(0x7D35A039), r[5])
	assert.Equal(t, 11, r.evLen())
	assert.Equal(t, len(r), headWords(r[0]))

	for _, c := range []struct {
		ev  string
		num bool
	}{
		{"0", true}, {"9", true}, {"10", true}, {"1000", true}, {"4294967295", true}, {"4294967296", true},
		{"1099511627775", true}, {"1099511627776", false}, {"00", false}, {"01", false}, {"", false}, {"1a", false},
	} {
		v, ok := numberID(c.ev)
		assert.Equal(t, c.num, ok, "%q", c.ev)
		r := make(rec, recWords(0, c.ev))
		writeRec(r, 0, 1, 1, c.ev)
		assert.Equal(t, c.num, r[0]>>30 == tagNumber, "%q", c.ev)
		assert.Equal(t, len(c.ev), r.evLen(), "%q", c.ev)
		assert.Equal(t, c.ev, string(r.eventID()))
		if ok {
			got, _ := r.number()
			assert.Equal(t, v, got, "%q", c.ev)
			// Other spellings of the same number are other event IDs.
			assert.False(t, r.eventIDEquals("0"+c.ev), "%q", c.ev)
			assert.False(t, r.eventIDEquals(c.ev+" "), "%q", c.ev)
			assert.True(t, r.eventIDEquals(c.ev), "%q", c.ev)
		}
	}
}
