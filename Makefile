# The two commands a fresh machine needs (README.md):
#   make demo   runs the main job on the embedded default
#   make test   runs every test (what CI runs)

.PHONY: setup demo test bench

setup:
	@bash tests/setup.sh

demo: setup
	cargo run --locked -- demo --dir target/verdict-demo

test: setup
	cargo fmt --all -- --check
	cargo clippy --locked --workspace --all-targets -- -D warnings
	cargo test --locked --workspace --all-targets
	cargo test --locked --workspace --doc

bench: setup
	cargo bench --locked -p verdict-host --bench policy
