package redistest

import "os/exec"

// setDeathSignal does nothing on purpose. Pdeathsig fires when the OS
// thread that started the child exits, not the process (golang/go#27505),
// and Go does end threads: a redis-server restarted mid-test was killed
// seconds later, at random. Cleanups stop every server by PID instead.
func setDeathSignal(*exec.Cmd) {}
