// Package e2e is gtm's multi-region proof: a world of network namespaces
// (three regions, several client networks) joined by a userspace WAN
// (cmd/gtm-wan) with chosen delays, in which real gtm processes, a real
// Redis and real gateways are failed, cut off and restarted while DNS
// clients watch the answers.
//
// The tests carry the build tag e2e and need root:
//
//	make e2e        # or: go test -tags e2e -count=1 -v ./e2e/...
//
// See README.md for the world and how to run it with your own configs.
package e2e
