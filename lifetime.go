package cdpkit

import "github.com/cdpkit/cdpkit/rfm"

// LifetimeModel returns the lifetime-value model the last RefreshTags
// fitted on every buyer's purchase history — BG/NBD with time in days,
// Gamma-Gamma (Spend, when it could be fitted) on spend in fen — so that a
// host can report or monitor its parameters. ok is false before the first
// refresh, with Config.NoLifetimeValue, and when there was nothing to fit.
func (e *Engine) LifetimeModel() (m rfm.Model, ok bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.st.model == nil {
		return rfm.Model{}, false
	}
	m = *e.st.model
	if m.Spend != nil {
		gg := *m.Spend
		m.Spend = &gg
	}
	return m, true
}
