"""The sandbox provider's signing key: an RSA key generated once into the var directory (mode 600).

Kept there so that a restart does not change it (the portal keeps the key set it read), and
private to this machine: it is a stand-in's key, never one trusted in production.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from joserfc.jwk import RSAKey

FILE_NAME = "sandbox_oidc_key.json"
ALGORITHM = "RS256"


def new_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"use": "sig", "alg": ALGORITHM}, private=True, auto_kid=True)


@cache
def signing_key(var_dir: Path) -> RSAKey:
    """The key in ``var_dir``, made on first use; two processes starting together agree on one (O_EXCL)."""
    path = var_dir / FILE_NAME
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(new_key().as_dict(private=True))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(text)
    return RSAKey.import_key(json.loads(path.read_text(encoding="ascii")))
