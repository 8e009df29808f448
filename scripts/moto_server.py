#!/usr/bin/env python3
"""Start moto's AWS-API server for s3central's tests: moto_server.py -H 127.0.0.1 -p PORT.

Started by moto_start in scripts/moto-env.sh from .venv-moto (moto 5.1.22). It only hands its
arguments to moto's own server entry point; it exists so that any later test-only fix to moto's
behaviour (e.g. renaming response root elements, see shared/TESTING.md) has one place to go,
applied here before main() runs. Never work around moto in the product itself.

Multipart part size: moto refuses parts under 5 MiB (EntityTooSmall) unless the environment
variable S3_UPLOAD_PART_MIN_SIZE (bytes) is lowered. In 5.1.22 it is read ONCE, when
moto.settings is imported (module constant, `from moto.settings import S3_UPLOAD_PART_MIN_SIZE`
in moto/s3/models.py), so it must be in this process's environment at start, e.g.
`S3_UPLOAD_PART_MIN_SIZE=5 scripts/test`; changing it later, or in a test's own process, has no
effect. It also lowers the default MOTO_S3_DEFAULT_KEY_BUFFER_SIZE (min size - 1024), so object
bodies spill to temp files sooner. We leave moto's default (5242880) here.
"""

import sys

from moto.server import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
