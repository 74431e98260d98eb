# Convenience wrappers; the scripts are what the README and CI run.
.PHONY: demo test build format bench clean
demo: ; bash scripts/demo.sh
test: ; bash scripts/test.sh
build: ; cmake --preset dev && cmake --build --preset dev
format: ; bash scripts/check-format.sh --fix
bench: ; bash bench/run.sh
clean: ; rm -rf build demo
