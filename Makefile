# Conveniences around the go tool; `go test -race ./...` stays the way to
# run the unit tests.

.PHONY: e2e

# The multi-region end-to-end suite (e2e/README.md). Needs root: it creates
# network namespaces and TUN devices. GTM_E2E_DIR=DIR keeps the world's
# files and process logs in DIR.
e2e:
	go test -tags e2e -count=1 -v -timeout 20m ./e2e/...
