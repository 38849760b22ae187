# Captures golden TTLV vectors: PyKMIP 0.11.0's ProxyKmipClient drives a representative set of
# KMIP operations against a running Keyward, and every request and response is recorded as the
# exact bytes that went over TLS (KMIPProtocol.write and KMIPProtocol.read, which sit directly on
# the TLS socket). One file per exchange, `NN-name.ttlv`, in the output directory.
#
# Run by scripts/capture-kmip-vectors (which starts a throwaway server and writes
# tests/vectors/kmip/<version>/); crates/keyward/tests/kmip_vectors.rs reads and replays them.
#
#   target/pykmip/venv/bin/python capture_vectors.py --pykmip-conf pykmip.conf \
#       --section keyward --kmip-version 1.2 --out tests/vectors/kmip/1.2 --server "Keyward ..."

import argparse
import os
import sys
import textwrap

from kmip.core import enums
from kmip.core.messages import messages
from kmip.core.utils import BytearrayStream
from kmip.pie import client as pclient
from kmip.pie import exceptions
from kmip.pie import objects
from kmip.services import kmip_protocol

PYKMIP = "PyKMIP 0.11.0"

KMIP_VERSIONS = {
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}

# What every response has that changes from run to run.
HEADER_VARIES = "the response header's Time Stamp"

# The exchanges of the running step: [request bytes, response bytes or None].
_exchanges = []


def _install_capture():
    write = kmip_protocol.KMIPProtocol.write
    read = kmip_protocol.KMIPProtocol.read

    def captured_write(self, data):
        _exchanges.append([bytes(data), None])
        return write(self, data)

    def captured_read(self):
        stream = read(self)
        if _exchanges and _exchanges[-1][1] is None:
            _exchanges[-1][1] = bytes(stream.buffer)
        return stream

    kmip_protocol.KMIPProtocol.write = captured_write
    kmip_protocol.KMIPProtocol.read = captured_read


def _spec_name(enum_value):
    # PyKMIP's ITEM_NOT_FOUND is the specification's "Item Not Found".
    return " ".join(w.capitalize() for w in enum_value.name.split("_"))


def _results(response_bytes, version):
    """Per batch item: (operation, result status, result reason or None), spec names."""
    response = messages.ResponseMessage()
    response.read(BytearrayStream(response_bytes), version)
    out = []
    for item in response.batch_items:
        reason = item.result_reason.value if item.result_reason else None
        out.append((
            _spec_name(item.operation.value) if item.operation else "?",
            _spec_name(item.result_status.value),
            _spec_name(reason) if reason is not None else None,
        ))
    return out


def _hex_lines(data):
    return textwrap.wrap(data.hex(), 64)


class Capture(object):

    def __init__(self, out, version_text, server):
        self.out = out
        self.version_text = version_text
        self.version = KMIP_VERSIONS[version_text]
        self.server = server
        self.count = 0

    def step(self, name, what, varies, call, expect_failure=False):
        """Runs `call`, which must make exactly one KMIP exchange, and writes its vector."""
        del _exchanges[:]
        failure = None
        try:
            result = call()
        except exceptions.KmipOperationFailure as e:
            if not expect_failure:
                raise
            failure = e
            result = None
        else:
            if expect_failure:
                raise AssertionError(name + ": expected a failure")
        if len(_exchanges) != 1 or _exchanges[0][1] is None:
            raise AssertionError(
                "{}: expected one exchange, saw {}".format(name, len(_exchanges)))
        request, response = _exchanges[0]
        self.count += 1
        path = os.path.join(self.out, "{:02d}-{}.ttlv".format(self.count, name))
        results = _results(response, self.version)
        lines = textwrap.wrap(
            "Golden TTLV vector: " + what, 94,
            initial_indent="# ", subsequent_indent="#   ")
        lines += textwrap.wrap(
            "KMIP {}. Request sent by {}'s ProxyKmipClient, response from {}: the exact "
            "bytes that went over TLS, captured by scripts/capture-kmip-vectors.".format(
                self.version_text, PYKMIP, self.server), 94,
            initial_indent="# ", subsequent_indent="#   ")
        lines += [
            "# TEST ONLY and public: throwaway objects of a throwaway server.",
            "# kmip-version: {}".format(self.version_text),
        ]
        for op, status, reason in results:
            lines.append("# result: {}: {}{}".format(
                op, status, "" if reason is None else ", " + reason))
        vary = [HEADER_VARIES] + ([varies] if varies else [])
        lines.extend(textwrap.wrap(
            "varies per run: " + "; ".join(vary) + ".", 94,
            initial_indent="# ", subsequent_indent="#   "))
        lines.append("request:")
        lines.extend(_hex_lines(request))
        lines.append("response:")
        lines.extend(_hex_lines(response))
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        if failure is not None:
            return failure
        return result


AES_KEY = bytes(range(32))
SECRET = b"SecretPassword"  # KMIP 1.1 test cases, 3.1.5, as PyKMIP's suite uses it
IV = b"\x85\x1e\x87\x64\x77\x6e\x67\x96\xaa\xb7\x22\xdb\xb6\x44\xac\xe8"
MESSAGE = b"This is a secret message."
SIGNED = b"This is a signed message."
CBC = {
    "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
    "block_cipher_mode": enums.BlockCipherMode.CBC,
    "padding_method": enums.PaddingMethod.PKCS5,
}
PSS = {
    "padding_method": enums.PaddingMethod.PSS,
    "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
    "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
}
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


def run(c, client):
    v = c.version_text
    proxy = client.proxy
    name = "vectors.kmip-{}.aes-256".format(v)
    ident = "the Unique Identifier (request and response)"
    new_uid = "the new Unique Identifier (response)"

    c.step("discover-versions", "Discover Versions, no versions proposed", None,
           lambda: proxy.discover_versions())
    c.step("query", "Query: operations, objects, server information", None,
           lambda: proxy.query(query_functions=[
               enums.QueryFunction.QUERY_OPERATIONS,
               enums.QueryFunction.QUERY_OBJECTS,
               enums.QueryFunction.QUERY_SERVER_INFORMATION,
           ]))
    key = c.step(
        "create", "Create an AES-256 symmetric key named " + name +
        ", usage Encrypt and Decrypt", new_uid,
        lambda: client.create(
            enums.CryptographicAlgorithm.AES, 256, name=name,
            cryptographic_usage_mask=[
                enums.CryptographicUsageMask.ENCRYPT,
                enums.CryptographicUsageMask.DECRYPT,
            ]))
    registered = c.step(
        "register-symmetric-key",
        "Register a 256-bit AES symmetric key (bytes 00..1f), usage Encrypt and Decrypt", new_uid,
        lambda: client.register(objects.SymmetricKey(
            enums.CryptographicAlgorithm.AES, 256, AES_KEY,
            [enums.CryptographicUsageMask.ENCRYPT,
             enums.CryptographicUsageMask.DECRYPT])))
    secret = c.step(
        "register-secret-data", "Register a Secret Data (Password) 'SecretPassword'", new_uid,
        lambda: client.register(objects.SecretData(
            SECRET, enums.SecretDataType.PASSWORD)))
    c.step("get", "Get the created AES-256 key", ident + "; the key material (response)",
           lambda: client.get(key))
    c.step("get-registered-key", "Get the registered AES key", ident,
           lambda: client.get(registered))
    c.step("get-secret-data", "Get the registered Secret Data", ident,
           lambda: client.get(secret))
    c.step("get-attributes",
           "Get Attributes of the created key: Cryptographic Algorithm, Cryptographic Length, "
           "Name, State, Initial Date",
           ident + "; the Initial Date (response)",
           lambda: client.get_attributes(key, [
               "Cryptographic Algorithm", "Cryptographic Length", "Name",
               "State", "Initial Date"]))
    c.step("get-attribute-list", "Get Attribute List of the created key", ident,
           lambda: client.get_attribute_list(key))
    found = c.step(
        "locate", "Locate by Name " + name, "the located Unique Identifier (response)",
        lambda: client.locate(attributes=[
            client.attribute_factory.create_attribute(
                enums.AttributeType.NAME, name)]))
    assert found == [key], found
    c.step("activate", "Activate the created key", ident, lambda: client.activate(key))
    ciphertext, _ = c.step(
        "encrypt", "Encrypt 'This is a secret message.' with AES-CBC, PKCS5 padding, "
        "the client's IV (PyKMIP's test_encrypt_decrypt)",
        ident + "; the ciphertext (response; the key is new each run)",
        lambda: client.encrypt(MESSAGE, uid=key, cryptographic_parameters=CBC,
                               iv_counter_nonce=IV))
    plain = c.step(
        "decrypt", "Decrypt that ciphertext (AES-CBC, PKCS5, the same IV)",
        ident + "; the ciphertext (request)",
        lambda: client.decrypt(ciphertext, uid=key, cryptographic_parameters=CBC,
                               iv_counter_nonce=IV))
    assert plain == MESSAGE, plain
    public, private = c.step(
        "create-key-pair", "Create Key Pair RSA-2048, public usage Verify, private usage Sign",
        "the Private and Public Key Unique Identifiers (response)",
        lambda: client.create_key_pair(
            enums.CryptographicAlgorithm.RSA, 2048,
            public_usage_mask=[enums.CryptographicUsageMask.VERIFY],
            private_usage_mask=[enums.CryptographicUsageMask.SIGN]))
    c.step("activate-private-key", "Activate the private key", ident,
           lambda: client.activate(private))
    c.step("activate-public-key", "Activate the public key", ident,
           lambda: client.activate(public))
    signature = c.step(
        "sign", "Sign 'This is a signed message.' with RSA-PSS SHA-256",
        ident + "; the signature (response; the key and the PSS salt are new each run)",
        lambda: client.sign(SIGNED, uid=private, cryptographic_parameters=PSS))
    valid = c.step(
        "signature-verify", "Signature Verify of that signature with the public key",
        ident + "; the signature (request)",
        lambda: client.signature_verify(SIGNED, signature, uid=public,
                                        cryptographic_parameters=PSS))
    assert valid == enums.ValidityIndicator.VALID, valid
    c.step("revoke", "Revoke the created AES key, reason Key Compromise", ident,
           lambda: client.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, key))
    c.step("destroy", "Destroy the created AES key", ident, lambda: client.destroy(key))
    c.step("get-unknown", "Get of an unknown Unique Identifier " + UNKNOWN_ID +
           ": a failure", None, lambda: client.get(UNKNOWN_ID), expect_failure=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pykmip-conf", required=True)
    p.add_argument("--section", default="keyward")
    p.add_argument("--kmip-version", required=True, choices=sorted(KMIP_VERSIONS))
    p.add_argument("--out", required=True)
    p.add_argument("--server", default="Keyward")
    args = p.parse_args()

    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.out):
        if f.endswith(".ttlv"):
            os.remove(os.path.join(args.out, f))
    _install_capture()
    client = pclient.ProxyKmipClient(
        config=args.section, config_file=args.pykmip_conf,
        kmip_version=KMIP_VERSIONS[args.kmip_version])
    client.open()
    try:
        c = Capture(args.out, args.kmip_version, args.server)
        run(c, client)
    finally:
        client.close()
    print("capture_vectors: KMIP {}: {} vectors in {}".format(
        args.kmip_version, c.count, args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
