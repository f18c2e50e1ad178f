#!/usr/bin/env bash
# A venv for the speed peers (kept apart from the tests' venv: installing itchcpp switches `import itch` to C++).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/setup.sh --test
if [[ ! -x .venv-bench/bin/python ]] || ! .venv-bench/bin/python -c "import itch_book, itch" 2>/dev/null; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q itchfeed==1.6.4 itchcpp==1.6.4 itch-book==0.2.1
fi
