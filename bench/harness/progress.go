package harness

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Progress shows on a terminal (stderr) how far data generation and loading
// have got: runs at tens of millions of members take minutes, and a silent
// terminal looks hung. On a terminal it redraws one line a few times a
// second; elsewhere (CI logs, a file) it writes a line per tenth done.
// A nil *Progress shows nothing. Safe for concurrent use: workers of one
// task may all call Add.
type Progress struct {
	w   io.Writer
	tty bool
	mu  sync.Mutex
}

// NewProgress returns a Progress writing to w; tty says whether w is a
// terminal that understands a carriage return.
func NewProgress(w io.Writer, tty bool) *Progress {
	return &Progress{w: w, tty: tty}
}

// IsTerminal reports whether f is a character device, the test a progress
// line needs without a terminal library.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Task is one piece of work with a known total. A nil *Task ignores calls.
type Task struct {
	p     *Progress
	label string
	total int64
	done  atomic.Int64
	start time.Time
	shown atomic.Int64 // last tenth (non-tty) or unix-nano of the last redraw (tty)
}

// Start begins a task of total units.
func (p *Progress) Start(label string, total int64) *Task {
	if p == nil {
		return nil
	}
	t := &Task{p: p, label: label, total: max(total, 1), start: time.Now()}
	if p.tty {
		t.shown.Store(0)
	}
	t.draw(0, false)
	return t
}

// Add records n more units done.
func (t *Task) Add(n int64) {
	if t == nil {
		return
	}
	d := t.done.Add(n)
	if t.p.tty {
		now := time.Now().UnixNano()
		last := t.shown.Load()
		if now-last < int64(200*time.Millisecond) || !t.shown.CompareAndSwap(last, now) {
			return
		}
		t.draw(d, false)
		return
	}
	tenth := min(d*10/t.total, 10)
	last := t.shown.Load()
	if tenth > last && tenth < 10 && t.shown.CompareAndSwap(last, tenth) {
		t.draw(d, false)
	}
}

// Done ends the task, showing its time.
func (t *Task) Done() {
	if t == nil {
		return
	}
	t.draw(t.done.Load(), true)
}

func (t *Task) draw(done int64, final bool) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	pct := float64(min(done, t.total)) * 100 / float64(t.total)
	el := time.Since(t.start).Round(100 * time.Millisecond)
	switch {
	case final && p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s: done in %v\n", t.label, el)
	case final:
		fmt.Fprintf(p.w, "%s: done in %v\n", t.label, el)
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s: %5.1f%% %s", t.label, pct, el)
	default:
		fmt.Fprintf(p.w, "%s: %3.0f%% %s\n", t.label, pct, el)
	}
}

// Note writes a line of its own, such as a notice that a case was skipped.
func (p *Progress) Note(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}
