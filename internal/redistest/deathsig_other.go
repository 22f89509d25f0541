//go:build !linux

package redistest

import "os/exec"

// setDeathSignal has no portable equivalent outside Linux; cleanups still
// kill the server.
func setDeathSignal(*exec.Cmd) {}
