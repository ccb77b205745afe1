# The README's two commands are `make run` and `make test`; the rest are for
# working on the code.
#
#   make run ARGS="--mode echo --port 8080"   flags after ARGS go to the server

SHELL := bash
CARGO ?= cargo
ARGS ?=

.PHONY: run test lint doc bench build clean walk debug lesson client

## run: build (debug, so a debugger can step through it) and start the server
## on 127.0.0.1:1222; the page is at http://127.0.0.1:1222/
run:
	$(CARGO) run --bin socket_server -- $(ARGS)

## lesson: the tutorial's PHP server in one Rust file (src/bin/lesson.rs), on
## 127.0.0.1:1222; ARGS="--php-bugs B16" brings back one of the PHP's bugs
## (docs/lessons.md)
lesson:
	$(CARGO) run --bin lesson -- $(ARGS)

## client: the raw WebSocket client (src/bin/client/): the handshake, each
## word as a masked frame, the closing handshake, every byte shown as --trace
## shows it; ARGS="ws://127.0.0.1:1222/ hello" (ARGS=--help for the rest)
client:
	$(CARGO) run --quiet --bin client -- $(ARGS)

## test: every unit and integration test, then the protocol suites again
## with the server waiting through poll(2) instead of epoll, then one line
## with the totals (a test that had to skip, for want of a browser or a
## debugger, prints a "SKIPPED:" line and is counted as skipped, not passed)
test:
	@set -o pipefail; log=$$(mktemp); \
	$(CARGO) test --no-fail-fast --lib --bins --tests 2>&1 | tee "$$log"; status=$$?; \
	echo "== again with --poller poll: conformance, robustness, chat" | tee -a "$$log"; \
	TEST_POLLER=poll $(CARGO) test --no-fail-fast --test conformance --test robustness --test chat 2>&1 \
	  | tee -a "$$log" || status=1; \
	awk '/^test result:/ { passed += $$4; failed += $$6 } /^SKIPPED: / { skipped++ } \
	     END { printf "total: %d passed, %d failed, %d skipped\n", passed - skipped, failed, skipped }' "$$log"; \
	rm -f "$$log"; exit $$status

## walk: run the server under gdb while a client sends the tutorial's
## handshake and a masked "Hello"; print where gdb stopped and what it saw
## (docs/debugging.md). It uses a free port, so `make run` may be running.
walk:
	$(CARGO) build --bin socket_server
	@$(CARGO) run --quiet --example walk

## debug: the same walk, but gdb stops at each breakpoint and waits for you
debug:
	$(CARGO) build --bin socket_server
	@$(CARGO) run --quiet --example walk -- --interactive

## lint: formatting, clippy and rustdoc, warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --document-private-items

## doc: the API documentation, private items included (it is a teaching codebase)
doc:
	$(CARGO) doc --no-deps --document-private-items

## bench: our server beside a tungstenite server, same load, same run: every
## figure as a ratio (release build; about 6 minutes; ARGS=--quick for a
## short check of the bench itself). docs/performance.md explains the table.
bench:
	$(CARGO) build --release --bin socket_server
	$(CARGO) run --release --example bench -- $(ARGS)

build:
	$(CARGO) build

clean:
	$(CARGO) clean
