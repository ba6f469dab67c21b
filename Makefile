# Shortcuts; each target is one script under scripts/ or bench/.
.PHONY: build test demo sanitize valgrind matrix fuzz packaging bench docs lint ci

build:     ; bash scripts/build.sh 5.4 build
test:      ; bash scripts/test.sh
demo:      ; bash scripts/demo.sh
sanitize:  ; bash scripts/check-sanitize.sh
valgrind:  ; bash scripts/check-valgrind.sh
matrix:    ; bash scripts/matrix.sh
fuzz:      ; bash scripts/fuzz.sh
packaging: ; bash scripts/check-packaging.sh
bench:     ; bash bench/run.sh
docs:      ; ldoc .
lint:      ; luacheck lua spec examples bench bin && clang-format --dry-run --Werror src/*.[ch] fuzz/*.[ch]
ci:        ; bash .ci/run
