"""A local, offline Sigstore for tests: a Fulcio-shaped CA, a CT log key and a Rekor key.

Real Sigstore signing needs an OIDC token, Fulcio and Rekor on the internet. To test that
`relman verify` really checks bundles (and is not fooled by forged ones), this builds what the
real services would hand out, with test keys:

- a root CA (Fulcio's role) that issues short-lived code-signing certificates naming an
  identity (SAN e-mail) and an OIDC issuer (Fulcio's extensions 1.3.6.1.4.1.57264.1.1 and .8),
  each carrying an embedded SCT signed by a CT log key (RFC 6962 precertificate entry);
- a transparency-log key (Rekor's role) that signs the entry's inclusion promise (SET) and a
  checkpoint for a one-leaf tree, so the inclusion proof verifies;
- `trusted_root.json` naming all three, in the shape the `sigstore` library reads.

Bundles made here verify with the real `sigstore` verifier against that trusted root, and
against no other.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

OIDC_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
TRUSTED_ROOT = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    return hashlib.sha256(_spki(key)).digest()


def _der_octets(data: bytes) -> bytes:
    if len(data) < 128:
        return b"\x04" + bytes([len(data)]) + data
    size = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return b"\x04" + bytes([0x80 | len(size)]) + size + data


def _der_utf8(text: str) -> bytes:
    raw = text.encode()
    assert len(raw) < 128
    return b"\x0c" + bytes([len(raw)]) + raw


def _canonical_json(value: dict) -> bytes:
    # RFC 8785 for this shape: sorted keys, no spaces, ASCII strings and integers only.
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _tl_key(key: ec.EllipticCurvePublicKey, url: str, start: str) -> dict:
    return {"baseUrl": url, "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": _b64(_spki(key)), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                          "validFor": {"start": start}},
            "logId": {"keyId": _b64(_key_id(key))}}


@dataclass
class LocalSigstore:
    """One test "instance" of Sigstore: sign files, and the trusted root that verifies them."""

    name: str = "relman-test"
    ca_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    ct_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    rekor_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.name),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"{self.name} root")])
        public = self.ca_key.public_key()
        self.ca_cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
            .sign(self.ca_key, hashes.SHA256()))

    # ---- the trust root ---------------------------------------------------------------------
    def trusted_root(self) -> dict:
        start = "2020-01-01T00:00:00Z"
        return {
            "mediaType": TRUSTED_ROOT,
            "tlogs": [_tl_key(self.rekor_key.public_key(), "http://127.0.0.1:9/rekor", start)],
            "certificateAuthorities": [{
                "subject": {"organization": self.name, "commonName": f"{self.name} root"},
                "uri": "http://127.0.0.1:9/fulcio",
                "certChain": {"certificates": [
                    {"rawBytes": _b64(self.ca_cert.public_bytes(serialization.Encoding.DER))}]},
                "validFor": {"start": start}}],
            "ctlogs": [_tl_key(self.ct_key.public_key(), "http://127.0.0.1:9/ct", start)],
            "timestampAuthorities": [],
        }

    def write_trusted_root(self, path: Path) -> Path:
        path.write_text(json.dumps(self.trusted_root(), indent=2))
        return path

    # ---- Fulcio's part ----------------------------------------------------------------------
    def issue(self, key: ec.EllipticCurvePrivateKey, identity: str, issuer: str) -> x509.Certificate:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        ca_public = self.ca_key.public_key()
        builder = (
            x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(identity)]), critical=True)
            .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_V1, issuer.encode()), critical=False)
            .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_V2, _der_utf8(issuer)), critical=False))
        # The SCT signs the precertificate: this same TBSCertificate without the SCT extension.
        precert_tbs = builder.sign(self.ca_key, hashes.SHA256()).tbs_certificate_bytes
        timestamp_ms = int(now.timestamp() * 1000)
        signed_entry = _key_id(ca_public) + struct.pack("!I", len(precert_tbs))[1:] + precert_tbs
        digitally_signed = struct.pack(f"!BBQH{len(signed_entry)}sH", 0, 0, timestamp_ms, 1, signed_entry, 0)
        signature = self.ct_key.sign(digitally_signed, ec.ECDSA(hashes.SHA256()))
        sct = (b"\x00" + _key_id(self.ct_key.public_key()) + struct.pack("!QH", timestamp_ms, 0)
               + bytes([4, 3]) + struct.pack("!H", len(signature)) + signature)
        sct_list = struct.pack("!HH", len(sct) + 2, len(sct)) + sct
        builder = builder.add_extension(x509.UnrecognizedExtension(SCT_LIST, _der_octets(sct_list)), critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    # ---- a signed bundle --------------------------------------------------------------------
    def sign(self, path: Path, *, identity: str = "rm@example.org",
             issuer: str = "https://github.com/login/oauth", bundle: Path | None = None) -> Path:
        """Sign `path` as `identity` (issued by `issuer`); writes `<path>.sigstore`."""
        data = path.read_bytes()
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.issue(key, identity, issuer)
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        digest = hashlib.sha256(data).digest()
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        body = _canonical_json({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": _b64(signature), "publicKey": {"content": _b64(cert_pem)}}}})
        log_id = _key_id(self.rekor_key.public_key())
        integrated = int(dt.datetime.now(dt.timezone.utc).timestamp())
        promise = self.rekor_key.sign(_canonical_json({"body": _b64(body), "integratedTime": integrated,
                                                       "logID": log_id.hex(), "logIndex": 0}),
                                      ec.ECDSA(hashes.SHA256()))
        root_hash = hashlib.sha256(b"\x00" + body).digest()   # a one-leaf Merkle tree
        note = f"{self.name} - 1\n1\n{_b64(root_hash)}\n"
        note_signature = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = note + f"\n\u2014 {self.name} {_b64(log_id[:4] + note_signature)}\n"
        document = {
            "mediaType": BUNDLE_V03,
            "verificationMaterial": {
                "certificate": {"rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [{
                    "logIndex": "0", "logId": {"keyId": _b64(log_id)},
                    "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                    "integratedTime": str(integrated),
                    "inclusionPromise": {"signedEntryTimestamp": _b64(promise)},
                    "inclusionProof": {"logIndex": "0", "rootHash": _b64(root_hash), "treeSize": "1", "hashes": [],
                                       "checkpoint": {"envelope": checkpoint}},
                    "canonicalizedBody": _b64(body)}]},
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": _b64(digest)},
                                 "signature": _b64(signature)},
        }
        out = bundle or Path(str(path) + ".sigstore")
        out.write_text(json.dumps(document, indent=2))
        return out
