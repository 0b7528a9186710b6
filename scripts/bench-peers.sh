#!/usr/bin/env bash
# Installs the benchmark's peers, each into its own virtual environment under
# bench/.venvs/ (ignored by git), from PyPI at the versions pinned in
# bench/peers/*-requirements.txt; the project's .venv is never touched.
# Idempotent: an environment whose requirements have not changed is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

peer() {  # name
  local venv="bench/.venvs/$1" requirements="bench/peers/$1-requirements.txt"
  if [ -e "$venv/.installed" ] && [ "$venv/.installed" -nt "$requirements" ]; then
    return
  fi
  echo "installing the $1 peer into $venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet --no-deps -r "$requirements"
  touch "$venv/.installed"
}

peer langgraph
peer a2a
