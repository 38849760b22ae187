# Keyward's conftest for PyKMIP 0.11.0's own integration suite (kmip/tests/integration).
#
# crates/keyward/tests/kmip_pykmip.rs copies that directory from the source distribution
# (scripts/setup-pykmip unpacks it under target/pykmip/src) into a scratch directory and puts
# this file in place of the sdist's conftest.py. It keeps the sdist's `--config` option and its
# class-scoped `client` (KMIPProxy) and `simple` (ProxyKmipClient) fixtures, and adds:
#
#   --pykmip-conf PATH   the client configuration file (instead of ~/.pykmip/pykmip.conf)
#   --kmip-version V     1.0, 1.1, 1.2, 1.3, 1.4 or 2.0, passed to both clients as kmip_version
#
# Each test also gets two junit properties, so that a failure says what the server answered:
#   kmip_trace   every exchange of the test, in order, " | " between them: per batch item of
#                the answer "OPERATION STATUS[/REASON] [(message)]", " + " between items, or
#                "OPERATION: no answer", or "OPERATION: answer did not parse (...)"
#   tls          the negotiated TLS version and cipher of the class's connection
#
# Run by hand:
#   target/pykmip/venv/bin/pytest DIR -m "not ignore" --config keyward \
#       --pykmip-conf pykmip.conf --kmip-version 1.4

import pytest

from kmip.core import enums
from kmip.core.messages import messages
from kmip.pie import client as pclient
from kmip.services import kmip_client

KMIP_VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0,
    "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}


def pytest_addoption(parser):
    parser.addoption(
        "--config",
        action="store",
        default="client",
        help="Config file section name for client configuration settings")
    parser.addoption(
        "--pykmip-conf",
        action="store",
        default=None,
        help="Client configuration file (default: PyKMIP's search path, "
             "~/.pykmip/pykmip.conf first)")
    parser.addoption(
        "--kmip-version",
        action="store",
        default=None,
        choices=sorted(KMIP_VERSIONS),
        help="KMIP protocol version the clients speak (default: PyKMIP's, 1.2)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ignore: tests PyKMIP itself leaves out (-m 'not ignore')")


# The exchanges of the running test (None between tests), and the class connection's TLS.
_trace = None
_tls = {}


def _name(enum_value):
    if enum_value is None:
        return "?"
    value = getattr(enum_value, "value", enum_value)
    return getattr(value, "name", str(value))


def _install_trace():
    send = kmip_client.KMIPProxy._send_message
    read = messages.ResponseMessage.read

    def traced_send(self, message):
        if _trace is not None:
            ops = "+".join(_name(item.operation) for item in message.batch_items)
            _trace.append(ops + ": no answer")
        return send(self, message)

    def traced_read(self, *args, **kwargs):
        try:
            result = read(self, *args, **kwargs)
        except Exception as e:
            if _trace:
                _trace[-1] = _trace[-1].replace(
                    "no answer", "answer did not parse ({}: {})".format(
                        type(e).__name__, e))
            raise
        if _trace:
            answers = []
            for item in self.batch_items:
                answer = "{} {}".format(
                    _name(item.operation), _name(item.result_status))
                if item.result_reason is not None:
                    answer += "/" + _name(item.result_reason)
                if item.result_message is not None:
                    message = str(item.result_message.value)
                    message = message.replace("|", "/").replace(" + ", " / ")
                    answer += " ({})".format(message)
                answers.append(answer)
            _trace[-1] = " + ".join(answers)
        return result

    kmip_client.KMIPProxy._send_message = traced_send
    messages.ResponseMessage.read = traced_read


_install_trace()


@pytest.fixture(autouse=True)
def kmip_trace(request):
    global _trace
    _trace = []
    yield
    request.node.user_properties.append(("kmip_trace", " | ".join(_trace)))
    if _tls:
        request.node.user_properties.append(("tls", _tls.get("tls", "")))
    _trace = None


def _remember_tls(proxy):
    sock = proxy.socket
    if sock is not None and hasattr(sock, "version"):
        cipher = sock.cipher()
        _tls["tls"] = "{} {}".format(sock.version(), cipher[0] if cipher else "")


def _client_args(request):
    version = request.config.getoption("--kmip-version")
    return {
        "config": request.config.getoption("--config"),
        "config_file": request.config.getoption("--pykmip-conf"),
        "kmip_version": KMIP_VERSIONS[version] if version else None,
    }


@pytest.fixture(scope="class")
def client(request):
    client = kmip_client.KMIPProxy(**_client_args(request))
    client.open()
    _remember_tls(client)

    def finalize():
        client.close()

    request.addfinalizer(finalize)
    request.cls.client = client


@pytest.fixture(scope="class")
def simple(request):
    client = pclient.ProxyKmipClient(**_client_args(request))
    client.open()
    _remember_tls(client.proxy)

    def finalize():
        client.close()

    request.addfinalizer(finalize)
    request.cls.client = client
