#!/bin/sh
# Install certhook with the versions constraints.txt pins: the one install step of the test
# suite (make install), the container image (Dockerfile) and a production virtualenv.
#   deploy/install.sh postgres        # certhook[postgres] into the current Python
#   deploy/install.sh test -e         # editable, with the test tools (make install)
# PIP: the pip to use (default: python3 -m pip).
set -eu
cd "$(dirname "$0")/.."
extras="${1:-postgres}"
editable="${2:-}"
${PIP:-python3 -m pip} install -q --root-user-action=ignore -c constraints.txt $editable ".[$extras]"
