package boltstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/loyalty"
)

// The crash test runs this test binary again as a child process that
// writes to a bbolt file and prints the ID of every transaction Apply
// acknowledged; the parent SIGKILLs it at a random moment, reopens the
// file and checks that every acknowledged transaction is there with the
// same content, and that the audit (balances recomputed from entries,
// each transaction's entries complete, on both sides of a merge) passes.

const (
	envCrashDB    = "CDPKIT_LOYALTY_CRASH_DB"
	envCrashRound = "CDPKIT_LOYALTY_CRASH_ROUND"
	envCrashMode  = "CDPKIT_LOYALTY_CRASH_MODE"
)

// Crash test modes: the operations a child writes.
const (
	modePlain = "plain" // orders, redemptions, refunds on 40 shared members
	modeMerge = "merge" // the same on chains of members merged one into the next
)

// mergeEvery is how many steps a worker spends on one member in merge
// mode before merging it into the next.
const mergeEvery = 5

// chainMember is the member a merge-mode worker writes to at step i: its
// own chain, so every merge of the chain is made by one goroutine in
// order.
func chainMember(round, g, i int) uint32 {
	return uint32(1_000_000 + round*100_000 + g*1000 + i/mergeEvery)
}

// opFor is the operation transaction i of worker g writes in a round.
func opFor(mode string, round, g, i int) loyalty.Op {
	if mode == modePlain {
		return crashOp(round, g, i)
	}
	m := chainMember(round, g, i)
	tx := fmt.Sprintf("r%d-g%d-%d", round, g, i)
	at := t0.Add(time.Duration(round*100000+i) * time.Second)
	if i%mergeEvery == mergeEvery-1 {
		return loyalty.Merge{Tx: tx, Member: m + 1, From: m, At: at}
	}
	// The plain mix, addressed to the chain's current member: a refund of
	// an order placed before a merge reaches it through the survivor.
	switch op := crashOp(round, g, i).(type) {
	case loyalty.Order:
		op.Member = m
		return op
	case loyalty.Redeem:
		op.Member = m
		return op
	case loyalty.Refund:
		op.Member = m
		return op
	default:
		panic(fmt.Sprintf("crashOp gave %T", op))
	}
}

// crashOp is the operation a child writes as transaction i of worker g in
// a round: a pure function, so the parent can re-apply an acknowledged one
// and expect a replay.
func crashOp(round, g, i int) loyalty.Op {
	tx := fmt.Sprintf("r%d-g%d-%d", round, g, i)
	rng := rand.New(rand.NewPCG(uint64(round), uint64(g<<32|i)))
	m := uint32(rng.IntN(40))
	at := t0.Add(time.Duration(round*100000+i) * time.Second)
	switch k := rng.IntN(10); {
	case k < 6:
		return orderOp(tx, m, at, int64(100+rng.IntN(100000)))
	case k < 8:
		return loyalty.Redeem{Tx: tx, Member: m, At: at, Points: int64(1 + rng.IntN(400))}
	default:
		// Part of an order this worker placed a few steps back, if that
		// step was an order (else of nothing: refused, harmlessly).
		j := i - 1 - rng.IntN(5)
		if j >= 0 {
			if o, ok := crashOp(round, g, j).(loyalty.Order); ok {
				m = o.Member
			}
		}
		prev := fmt.Sprintf("r%d-g%d-%d", round, g, j)
		return loyalty.Refund{Tx: tx, Member: m, At: at, OrderID: "O-" + prev, Lines: []loyalty.Line{{Category: "otc", Paid: int64(1 + rng.IntN(500))}}}
	}
}

func parseTx(tx string) (round, g, i int, err error) {
	_, err = fmt.Sscanf(strings.ReplaceAll(tx, "-", " "), "r%d g%d %d", &round, &g, &i)
	return
}

// TestCrashChild is the child process; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(envCrashDB)
	if path == "" {
		t.Skip("helper process for TestCrashRecovery")
	}
	round, _ := strconv.Atoi(os.Getenv(envCrashRound))
	mode := os.Getenv(envCrashMode)
	s, err := Open(path, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	l := loyalty.NewLedger(testProgram(t), s, nil)
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	ack := func(line string) {
		mu.Lock()
		out.WriteString(line + "\n")
		out.Flush() // one write per acknowledgement: what the parent reads was acknowledged
		mu.Unlock()
	}
	ack("ready")
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			for i := range 1_000_000 {
				op := opFor(mode, round, g, i)
				_, err := l.Apply(context.Background(), op)
				switch {
				case err == nil:
					ack("ack " + op.TxID())
				case errors.Is(err, loyalty.ErrInsufficientPoints), errors.Is(err, loyalty.ErrUnknownOrder),
					errors.Is(err, loyalty.ErrRefundTooLarge):
				default:
					ack("error " + err.Error())
					os.Exit(4)
				}
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	crashRounds(t, modePlain, 6, 20250301)
}

// TestCrashRecoveryMerges kills a child that merges accounts while it
// writes: each merge is on disk on both sides or on neither.
func TestCrashRecoveryMerges(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	crashRounds(t, modeMerge, 6, 20250302)
}

func crashRounds(t *testing.T, mode string, rounds int, seed uint64) {
	path := t.TempDir() + "/crash.db"
	rng := rand.New(rand.NewPCG(seed, 1))
	acked := map[string]bool{}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashDB+"="+path, envCrashRound+"="+strconv.Itoa(round), envCrashMode+"="+mode)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		lines := make(chan string, 1<<16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		require.Equal(t, "ready", <-lines, "child did not start")
		// Kill at a random moment — mid-batch, mid-sync, between batches —
		// after a random number of acknowledgements, so every round has
		// work in flight.
		n := 0
		record := func(line string) {
			tx, ok := strings.CutPrefix(line, "ack ")
			require.True(t, ok, "child said %q", line)
			acked[tx] = true
			n++
		}
		for target := rng.IntN(400); n < target; {
			line, ok := <-lines
			if !ok {
				break
			}
			record(line)
		}
		time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		for line := range lines {
			record(line)
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, "signal: killed", ee.Error(), "child exited on its own")
		t.Logf("round %d: %d transactions acknowledged before the kill", round, n)

		verifyAfterCrash(t, path, mode, round, acked)
	}
	assert.NotEmpty(t, acked)
}

func verifyAfterCrash(t *testing.T, path, mode string, round int, acked map[string]bool) {
	t.Helper()
	s, err := Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	l := loyalty.NewLedger(testProgram(t), s, nil)
	last := map[int]int{} // the last acknowledged step of each worker this round
	for tx := range acked {
		r, g, i, err := parseTx(tx)
		require.NoError(t, err)
		if r == round {
			last[g] = max(last[g], i)
		}
	}
	if mode == modeMerge {
		// Before anything is re-applied: every merge of the round, up to
		// well past what was acknowledged, is on both sides or neither.
		merges := 0
		for g, lastI := range last {
			for i := mergeEvery - 1; i <= lastI+10*mergeEvery; i += mergeEvery {
				op := opFor(mode, round, g, i).(loyalty.Merge)
				_, recorded, err := l.Receipt(ctx, op.Tx)
				require.NoError(t, err)
				from, err := l.Balance(ctx, op.From, op.At)
				require.NoError(t, err)
				// The survivor may have been merged on in turn: the end of
				// the chain holds everything.
				into, err := l.Balance(ctx, op.Member, op.At)
				require.NoError(t, err)
				for into.Merged {
					into, err = l.Balance(ctx, into.MergedInto, op.At)
					require.NoError(t, err)
				}
				require.Equal(t, recorded, from.Merged, "merge %s recorded %v, loser closed %v", op.Tx, recorded, from.Merged)
				require.Equal(t, recorded, slices.Contains(into.MergedFrom, op.From), "merge %s recorded %v, survivor", op.Tx, recorded)
				if recorded {
					require.Equal(t, op.Member, from.MergedInto)
					merges++
				}
			}
		}
		t.Logf("round %d: %d merges on disk", round, merges)
	}
	for tx := range acked {
		round, g, i, err := parseTx(tx)
		require.NoError(t, err)
		r, err := l.Apply(ctx, opFor(mode, round, g, i))
		require.NoError(t, err, "acknowledged %s", tx)
		require.True(t, r.Replayed, "acknowledged %s was lost", tx)
	}
	rep, err := l.Audit(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK(), "audit after crash: %v", rep.Problems)
}
