package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/rfm"
)

// cdnowArgs read CDNOW_sample.txt (master_id sample_id yyyymmdd cds
// dollars) with the calibration period of Fader, Hardie & Lee (2005).
var cdnowArgs = []string{"--format", "text", "--member-col", "2", "--time-col", "3", "--amount-col", "5",
	"--time-layout", "20060102", "--calibration-end", "1997-09-30", "../../rfm/testdata/CDNOW_sample.txt"}

func TestCLVFitCDNOW(t *testing.T) {
	code, out, errs := runCmd(t, "", append([]string{"clv", "fit", "--json"}, cdnowArgs...)...)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "read 6919 rows, skipped 0")
	var res fitResult
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	// Published: BG/NBD (FHL 2005), Gamma-Gamma (Fader & Hardie 2013).
	assert.Equal(t, "bgnbd", res.Model)
	assert.Equal(t, 2357, res.Customers)
	assert.InDelta(t, 0.243, res.Params.R, 0.0005)
	assert.InDelta(t, 4.414, res.Params.Alpha, 0.0005)
	assert.InDelta(t, 0.793, res.Params.A, 0.0005)
	assert.InDelta(t, 2.426, res.Params.B, 0.0005)
	assert.InDelta(t, -9582.4, res.LogLikelihood, 0.05)
	require.NotNil(t, res.GammaGamma)
	assert.Equal(t, 946, res.GammaGamma.Customers)
	assert.InDelta(t, 6.25, res.GammaGamma.P, 0.005)
	assert.InDelta(t, 3.74, res.GammaGamma.Q, 0.005)
	assert.InDelta(t, 15.44, res.GammaGamma.Gamma, 0.005)

	// The JSON has exactly the documented keys.
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	for _, k := range []string{"model", "params", "log_likelihood", "customers", "gamma_gamma"} {
		assert.Contains(t, raw, k)
	}

	code, out, errs = runCmd(t, "", append([]string{"clv", "fit"}, cdnowArgs...)...)
	require.Equal(t, 0, code, errs)
	for _, want := range []string{"r      0.2426", "alpha  4.4136", "a      0.7929", "b      2.4259", "log-likelihood -9582.43",
		"946 repeat buyers", "p      6.2496", "q      3.7442", "gamma  15.4435"} {
		assert.Contains(t, out, want)
	}
}

func TestCLVPredictCDNOW(t *testing.T) {
	code, out, errs := runCmd(t, "", append([]string{"clv", "predict", "--horizon", "39"}, cdnowArgs...)...)
	require.Equal(t, 0, code, errs)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2358)
	assert.Equal(t, []string{"member", "p_alive", "expected_purchases", "expected_spend", "clv"}, rows[0])
	// Customer 0001 is the paper's example: x=2, t_x=30.43, T=38.86,
	// expected to buy 1.226 times in the next 39 weeks (FHL 2005, §4).
	require.Equal(t, "0001", rows[1][0])
	e, err := strconv.ParseFloat(rows[1][2], 64)
	require.NoError(t, err)
	assert.InDelta(t, 1.226, e, 0.0005)
	pa, _ := strconv.ParseFloat(rows[1][1], 64)
	assert.Greater(t, pa, 0.0)
	assert.Less(t, pa, 1.0)
	// Its two repeat purchases of 29.73 and 14.96 in calibration average
	// 22.345; shrunk toward the mean p·γ/(q−1) ≈ 35.22 with weights
	// (q−1) and p·x: (2.744·35.22 + 12.50·22.345)/15.24 ≈ 24.66.
	sp, _ := strconv.ParseFloat(rows[1][3], 64)
	assert.InDelta(t, 24.66, sp, 0.01)
	clv, _ := strconv.ParseFloat(rows[1][4], 64)
	assert.InDelta(t, e*sp, clv, 0.001, "undiscounted CLV = purchases × spend")

	// --model reuses a fit; --json writes the documented keys.
	dir := t.TempDir()
	code, fit, _ := runCmd(t, "", append([]string{"clv", "fit", "--json"}, cdnowArgs...)...)
	require.Equal(t, 0, code)
	model := filepath.Join(dir, "model.json")
	require.NoError(t, os.WriteFile(model, []byte(fit), 0o600))
	code, out, errs = runCmd(t, "", append([]string{"clv", "predict", "--json", "--horizon", "39", "--discount-rate", "0.01", "--model", model}, cdnowArgs...)...)
	require.Equal(t, 0, code, errs)
	first, _, _ := strings.Cut(out, "\n")
	var obj map[string]any
	require.NoError(t, json.Unmarshal([]byte(first), &obj))
	assert.Equal(t, "0001", obj["member"])
	assert.InDelta(t, 1.226, obj["expected_purchases"], 0.0005)
	assert.Less(t, obj["clv"], e*sp, "discounted")
	assert.Len(t, obj, 5)
}

func TestCLVErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no horizon": append([]string{"clv", "predict"}, cdnowArgs...),
		"bad unit":   append([]string{"clv", "fit", "--unit", "month"}, cdnowArgs...),
		"bad end":    {"clv", "fit", "--calibration-end", "1997-9-30", "testdata/tx.csv"},
		"two files":  {"clv", "fit", "a", "b"},
	} {
		code, _, errs := runCmd(t, "", args...)
		assert.Equal(t, 2, code, "%s: %s", name, errs)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "model.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"model":"bgnbd","params":{"r":-1}}`), 0o600))
	code, _, errs := runCmd(t, "", append([]string{"clv", "predict", "--horizon", "1", "--model", bad}, cdnowArgs...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "positive r, alpha, a, b")
}

// FuzzReadTransactions feeds arbitrary bytes to the transaction reader in
// both formats: it must not panic, every row is either read or reported,
// and every transaction it keeps is valid for rfm.
func FuzzReadTransactions(f *testing.F) {
	for _, name := range []string{"testdata/tx.csv", "testdata/noheader.csv"} {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b, false)
	}
	f.Add([]byte(" 00004 0001 19970101  2   29.33\r\n 00004 0001 1997011  2   x\r\n"), true)
	f.Add([]byte("member,time,amount\n\"a,2024-01-01,1\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, text bool) {
		flags := txFlags{format: "auto", memberCol: 2, timeCol: 3, amountCol: 5, timeLayout: "20060102"}
		if text {
			flags.format = "text"
		}
		var errb bytes.Buffer
		d, err := readTransactions(bytes.NewReader(data), "fuzz", &flags, time.UTC, nil, &errb)
		if err != nil {
			return
		}
		assert.LessOrEqual(t, d.bad, d.rows)
		assert.LessOrEqual(t, len(d.txs), d.rows-d.bad)
		for _, tx := range d.txs {
			require.Less(t, int(tx.Member), len(d.ids))
			require.False(t, tx.Amount < 0 && tx.RefundOf == 0)
		}
		if len(d.txs) > 0 {
			_, err := d.summaries(time.Time{}, time.Time{})
			require.NoError(t, err)
		}
	})
}

func TestPredictionsWithoutFiniteSpend(t *testing.T) {
	d := &txData{ids: []string{"m1"}}
	h := &rfm.Histories{Member: []uint32{0}, X: []int32{1}, TX: []float64{1}, T: []float64{2}}
	preds := []rfm.Prediction{{PAlive: 0.5, ExpectedPurchases: 1, ExpectedSpend: math.Inf(1), CLV: math.Inf(1)}}
	var b bytes.Buffer
	require.NoError(t, writePredictions(&b, false, d, h, preds))
	assert.Equal(t, "member,p_alive,expected_purchases,expected_spend,clv\nm1,0.500000,1.000000,,\n", b.String())
	b.Reset()
	require.NoError(t, writePredictions(&b, true, d, h, preds))
	assert.JSONEq(t, `{"member":"m1","p_alive":0.5,"expected_purchases":1,"expected_spend":null,"clv":null}`, b.String())
}
