"""A throwaway GPG key for rehearsals, so the demo signs and verifies like a real release.

It lives in the demo folder's own keyring and says what it is in its user id; nothing
outside the demo trusts it. Without gpg on the machine the demo runs unsigned, as allowed
for rehearsals, and says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

DEMO_KEY_UID = "relman demo signing key (rehearsal only) <rehearsal@relman.invalid>"


def demo_signing(root: Path) -> dict[str, object]:
    """The `[signing]` settings for a rehearsal in `root`: a demo key when gpg exists, else unsigned."""
    gpg = shutil.which("gpg")
    if gpg is None:
        return {"allow_unsigned": True}
    home = root / "gnupg"
    fingerprint_file = home / "demo-key.fingerprint"
    if not fingerprint_file.exists():
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        env = {**os.environ, "GNUPGHOME": str(home)}
        subprocess.run([gpg, "--batch", "--passphrase", "", "--quick-gen-key", DEMO_KEY_UID, "ed25519", "sign",
                        "1d"], check=True, env=env, capture_output=True)
        listing = subprocess.run([gpg, "--batch", "--with-colons", "--list-secret-keys"], check=True, env=env,
                                 capture_output=True, text=True).stdout
        fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        fingerprint_file.write_text(fingerprint + "\n")
    return {"gpg_key": fingerprint_file.read_text().strip(), "gnupghome": str(home)}


def stop_demo_agent(root: Path) -> None:
    """Stop the gpg-agent the rehearsal's keyring started (gpg starts one on first use), so no
    process the demo started outlives it."""
    gpgconf, home = shutil.which("gpgconf"), root / "gnupg"
    if gpgconf is None or not home.is_dir():
        return
    subprocess.run([gpgconf, "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True,
                   env={**os.environ, "GNUPGHOME": str(home)}, timeout=30)
