# Convenience targets; CI runs .ci/run.
.PHONY: test docker soak bench
test:
	go test -count=1 -v ./...
docker:
	bash test/docker-up.sh
soak:
	bash test/soak.sh $(FUZZ_MINUTES)
bench:
	bash test/bench/run.sh
