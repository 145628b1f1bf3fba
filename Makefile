# Convenience targets; CI runs .ci/run.
.PHONY: test docker soak bench
test:
	go test -count=1 -v ./...
docker:
	bash test/docker-up.sh
soak:
	bash test/soak.sh $(FUZZ_MINUTES)
bench: # make bench BENCH_FLAGS='-only burst,gc -runs 9' reruns parts (test/bench/README.md)
	bash test/bench/run.sh $(BENCH_FLAGS)
