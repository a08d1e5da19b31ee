#!/usr/bin/env python3
"""Write the seed inputs of the fuzz targets that take combined or
encrypted input: release_eval, attestation_eval, release_response,
sealed_data, backup_file and token_validator.

The fixed keys here must match the ones in the fuzz targets: 32 bytes of
0x5a for sealed_data. Run from the repository root:
    python3 fuzz/make_seeds.py
Needs the Python "cryptography" package (Debian: python3-cryptography).
"""

import base64
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


# release_eval: policy JSON, NUL, claims JSON.
SNP_POLICY = {
    "version": "1.0.0",
    "anyOf": [{
        "authority": "https://attest.example/",
        "allOf": [
            {"claim": "x-ms-attestation-type", "equals": "sevsnpvm"},
            {"claim": "x-ms-sevsnpvm-vmpl", "lessOrEquals": 0},
            {"claim": "x-ms-sevsnpvm-is-debuggable", "equals": False},
            {"anyOf": [
                {"claim": "x-ms-runtime.keys.kid", "exists": True},
                {"claim": "x-ms-sevsnpvm-guestsvn", "greaterOrEquals": 2},
            ]},
            {"claim": "x-vouch-simulated", "exists": False},
        ],
    }, {
        "authority": "https://other.example",
        "anyOf": [{"claim": "x-ms-compliance-status", "notEquals": "untrusted"}],
    }],
}
SNP_CLAIMS = {
    "x-ms-attestation-type": "sevsnpvm",
    "x-ms-sevsnpvm-vmpl": 0,
    "x-ms-sevsnpvm-is-debuggable": False,
    "x-ms-sevsnpvm-guestsvn": 3,
    "x-ms-runtime": {"keys": {"kid": "TpmEphemeralEncryptionKey"}},
    "x-ms-compliance-status": "azure-compliant-cvm",
}
write("release_eval", "snp-granted.bin", compact(SNP_POLICY) + "\0" + compact(SNP_CLAIMS))
denied = dict(SNP_CLAIMS, **{"x-ms-sevsnpvm-vmpl": 2, "x-vouch-simulated": True})
write("release_eval", "snp-denied.bin", compact(SNP_POLICY) + "\0" + compact(denied))
write("release_eval", "claims-not-object.bin", compact(SNP_POLICY) + "\0[1,2]")

# attestation_eval: policy text, NUL, incoming claims JSON.
ATTESTATION_POLICY = """version= 1.0;
authorizationrules
{
  [type=="x-ms-sevsnpvm-is-debuggable", value==true] => deny();
  c1:[type=="x-ms-sevsnpvm-vmpl", issuer=="AttestationService", value<=0] &&
  c2:[type=="x-ms-sevsnpvm-guestsvn", value>=1, value<10, value>0.5, value!=7] &&
  [type=="x-ms-attestation-type", value=="sevsnpvm", issuer!="CustomClaim"]
    => permit();
  => add(type="marker", value=-12);
};
issuancerules {
  c:[type=="x-ms-sevsnpvm-launchmeasurement"] => issue(type="measurement", value=c.value);
  c:[type=="x-ms-sevsnpvm-vmpl"] => issue(claim=c);
  c1:[type=="x-ms-sevsnpvm-vmpl"] && [type=="marker", value==c1.value] => add(value=false, type="both");
  => issue(type = "token-ver", value = "1.0");
};
"""
INCOMING = {
    "x-ms-attestation-type": "sevsnpvm",
    "x-ms-sevsnpvm-is-debuggable": False,
    "x-ms-sevsnpvm-vmpl": 0,
    "x-ms-sevsnpvm-guestsvn": 3,
    "x-ms-sevsnpvm-launchmeasurement": "00" * 48,
}
write("attestation_eval", "snp-permit.bin", ATTESTATION_POLICY + "\0" + compact(INCOMING))
FUNCTIONS_POLICY = """version=1.2;
authorizationrules {
  c:[type=="x-ms-sevsnpvm-is-debuggable"] => add(type="production", value=NegateBool(c.value));
  [type=="production", value==true] => permit();
};
issuancerules {
  c:[type=="x-ms-sevsnpvm-guestsvn"] => issue(type="svn-text", value=AppendString("svn-", "x"));
};
"""
write("attestation_eval", "functions.bin", FUNCTIONS_POLICY + "\0" + compact(INCOMING))

# release_response: the "value" of a release response, a compact JWS. The
# signature is not valid and the ciphertext does not decrypt: the target's
# keys are made at run time.
KID = "https://broker.example/keys/disk/0123456789abcdef0123456789abcdef"
KEY_HSM = {
    "schema_version": "1.0",
    "header": {"kid": "TpmEphemeralEncryptionKey", "alg": "dir",
               "enc": "CKM_RSA_AES_KEY_WRAP"},
    "ciphertext": b64url(bytes(range(256)) + bytes(40)),
}
PAYLOAD = {
    "request": {"api-version": "7.3", "enc": "CKM_RSA_AES_KEY_WRAP", "kid": KID,
                "nonce": "n-123"},
    "response": {"key": {
        "key": {"kid": KID, "kty": "oct-HSM", "key_ops": ["encrypt", "decrypt",
                                                          "wrapKey", "unwrapKey"],
                "key_hsm": b64url(compact(KEY_HSM))},
        "attributes": {"enabled": True, "exportable": True, "created": 1767225600,
                       "updated": 1767225600},
        "release_policy": {"contentType": "application/json; charset=utf-8",
                           "data": b64url(compact(SNP_POLICY))},
    }},
}
HEADER = {"alg": "ES256", "kid": "thumbprint", "typ": "JWT"}
write("release_response", "ckm-rsa-aes.txt",
      b64url(compact(HEADER)) + "." + b64url(compact(PAYLOAD)) + "." + b64url(bytes(64)))
KEY_HSM_256 = dict(KEY_HSM, header=dict(KEY_HSM["header"], enc="RSA_AES_KEY_WRAP_256"))
PAYLOAD_256 = json.loads(compact(PAYLOAD))
PAYLOAD_256["request"]["enc"] = "RSA_AES_KEY_WRAP_256"
PAYLOAD_256["response"]["key"]["key"]["key_hsm"] = b64url(compact(KEY_HSM_256))
write("release_response", "rsa-aes-256.txt",
      b64url(compact(HEADER)) + "." + b64url(compact(PAYLOAD_256)) + "." + b64url(bytes(64)))

# sealed_data: SealData's format under the target's fixed key.
SEAL_KEY = b"\x5a" * 32
def seal(plaintext, name, version):
    data_key = bytes(range(32))
    wrapped = aes_key_wrap_with_padding(SEAL_KEY, data_key)
    header = (b"VSEAL" + bytes([1, len(name)]) + name + bytes([len(version)]) + version +
              struct.pack(">H", len(wrapped)) + wrapped)
    nonce = bytes(12)
    return header + nonce + AESGCM(data_key).encrypt(nonce, plaintext, header)
write("sealed_data", "disk-key.bin", seal(b"secret disk passphrase\n", b"disk", b"0123456789abcdef"))
write("sealed_data", "empty-content.bin", seal(b"", b"k", b"1"))

# backup_file: a 99-byte header, then the content in clear. The target fills
# in the id, threshold, shares, content SHA-256 and length itself. The length
# written here is that of the content, so that ParseBackupHeader also accepts
# the seed as it is.
def field(data):
    if isinstance(data, str):
        data = data.encode()
    return struct.pack(">I", len(data)) + data

def key_record(name, version):
    return (field(name) + field(version) + struct.pack(">qq", 1767225600000000, 1767225600000000) +
            bytes([1, 1]) + field("oct-HSM") + struct.pack(">I", 256) + field("") + field(b"") +
            field(b"\x01" * 60) + field("software") + field(compact(SNP_POLICY)) + bytes([0]) +
            field("{}"))

content = (bytes([1]) + field(b"\x33" * 32) +
           struct.pack(">I", 1) + key_record("disk", "0123456789abcdef0123456789abcdef") +
           struct.pack(">I", 1) + field("old") + struct.pack(">qq", 1767225600000000, 1769817600000000) +
           struct.pack(">I", 1) + key_record("old", "00000000000000000000000000000001") +
           struct.pack(">I", 1) + field("token-signing-key") + field(b"\x44" * 48) +
           struct.pack(">Q", 0) +
           field(b"") + struct.pack(">I", 0) + struct.pack(">I", 0))
def backup_header(version, keystore, num_versions, num_deleted, num_blobs, num_audit,
                  ciphertext_bytes):
    header = (b"VOUCHBAK" + struct.pack(">I", version) + b"\x17" * 16 +
              struct.pack(">q", 1767225600000000) + bytes([2, 2, keystore]) +
              struct.pack(">IIIQ", num_versions, num_deleted, num_blobs, num_audit) +
              bytes(32) + struct.pack(">Q", ciphertext_bytes))
    assert len(header) == 99
    return header
write("backup_file", "software-v2.bin", backup_header(2, 1, 2, 1, 1, 0, len(content)) + content)
# Format 1 has no PKCS#11 part: cut its three empty fields (12 bytes).
write("backup_file", "software-v1.bin",
      backup_header(1, 1, 2, 1, 1, 0, len(content) - 12) + content[:-12])
share_lines = ("vouch-backup-share 1\nbackup-id: " + "17" * 16 + "\nindex: 1\nthreshold: 2\n"
               "shares: 3\nvalue: " + "ab" * 32 + "\n")
write("backup_file", "share-file.txt",
      share_lines + "checksum: " + hashlib.sha256(share_lines.encode()).hexdigest() + "\n")

# token_validator: JOSE header, NUL, claims. The target signs them.
CLAIMS = {"iss": "https://attest.example", "aud": "https://broker.example",
          "iat": 1767225500, "nbf": 1767225500, "exp": 1767225900,
          "x-ms-attestation-type": "sevsnpvm", "x-ms-sevsnpvm-vmpl": 0}
write("token_validator", "valid.bin", compact({"typ": "JWT"}) + "\0" + compact(CLAIMS))
write("token_validator", "jku-aud-list.bin",
      compact({"typ": "JWT", "jku": "https://attest.example/certs"}) + "\0" +
      compact(dict(CLAIMS, aud=["https://a.example", "https://broker.example"])))
write("token_validator", "expired.bin",
      compact({"typ": "JWT"}) + "\0" + compact(dict(CLAIMS, exp=1767225000)))
write("token_validator", "alg-none.txt",
      b64url(compact({"alg": "none", "typ": "JWT"})) + "." + b64url(compact(CLAIMS)) + ".")
