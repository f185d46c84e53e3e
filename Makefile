# Two commands a new user needs: `make demo` (set up, run the main job) and `make test`.
# Both create .venv with CPU torch 2.13.0 and hwnas; the install pulls no nvidia-* packages.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ASSETS := $(abspath ../shared/assets)
export HWNAS_ASSETS ?= $(if $(wildcard $(ASSETS)),$(ASSETS),)

.PHONY: demo test venv bench clean ssh-server rebuild-cpu-ort

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,ray,optuna]'
	@if $(BIN)/python -m pip list 2>/dev/null | grep -i '^nvidia-'; then echo "error: CPU install pulled nvidia-* packages" >&2; exit 1; fi
	touch $@

demo: venv
	rm -rf runs/demo-600M
	$(BIN)/hwnas search --flops 600M --oracle auto --queries 300 --out runs/demo-600M

test: venv ssh-server
	$(BIN)/python -m pytest -q tests

# tests/test_remote.py runs a real sshd on 127.0.0.1: install OpenSSH where it is missing and apt-get can.
ssh-server:
	@if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ] && command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  { $$SUDO apt-get install -y -q openssh-server openssh-client || \
	    { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q openssh-server openssh-client; }; } >/dev/null \
	  || echo "note: could not install openssh-server; tests/test_remote.py will skip" >&2; \
	fi

# Rebuild the shipped devices/cpu-ort on an idle machine (temporary folder; INSTALL=1 copies it in).
rebuild-cpu-ort: venv
	PYTHON=$(BIN)/python sh scripts/rebuild_cpu_ort.sh $(if $(INSTALL),--install,)

clean:
	rm -rf $(VENV) runs build *.egg-info
