package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// runCmd runs a command line as main would and returns its exit code and
// output streams.
func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), &env{stdout: &out, stderr: &errOut, stdin: strings.NewReader(stdin)}, args)
	return code, out.String(), errOut.String()
}

func TestCommandLine(t *testing.T) {
	code, out, errOut := runCmd(t, "")
	assert.Equal(t, 2, code, "no command is a usage error")
	assert.Contains(t, out, "gen")

	code, out, _ = runCmd(t, "", "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "commands:")

	code, _, errOut = runCmd(t, "", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)

	code, out, errOut = runCmd(t, "", "gen", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "usage: cdpkit gen")
	assert.Empty(t, errOut, "help goes to stdout once")

	code, out, _ = runCmd(t, "", "help", "gen")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "-members")

	code, out, errOut = runCmd(t, "", "gen", "-bogus")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "flag provided but not defined: -bogus")
	assert.Contains(t, errOut, "run 'cdpkit help gen' for usage")
	assert.Empty(t, out)
}
