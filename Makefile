# The README's two commands are `make run` and `make test`; the rest are for
# working on the code.
#
#   make run ARGS="--mode echo --port 8080"   flags after ARGS go to the server

CARGO ?= cargo
ARGS ?=

.PHONY: run test lint doc bench build clean

## run: build (debug, so a debugger can step through it) and start the server
## on 127.0.0.1:1222; the page is at http://127.0.0.1:1222/
run:
	$(CARGO) run --bin socket_server -- $(ARGS)

## test: every unit and integration test
test:
	$(CARGO) test --all-targets

## lint: formatting, clippy and rustdoc, warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --document-private-items

## doc: the API documentation, private items included (it is a teaching codebase)
doc:
	$(CARGO) doc --no-deps --document-private-items

## bench: throughput and memory measurements (release build)
bench:
	$(CARGO) build --release --bin socket_server
	$(CARGO) run --release --example bench

build:
	$(CARGO) build

clean:
	$(CARGO) clean
