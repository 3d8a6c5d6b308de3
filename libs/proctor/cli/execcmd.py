"""`proctor exec RESOURCE -- command`: one command on a host resource through the gateway's
gRPC API. What the command writes (masked) goes to stdout and stderr as it comes; the exit
status is the command's, or the gateway's (126 refused, 75 a service did not answer, 69 the
host could not be reached, 64 no such resource or no command, 77 the credentials were not
accepted, 255 the gateway could not be reached).

One argument after `--` is a command line for the host's shell (`'tail -n 5 app.log | grep
x'`); several are an argument vector, each word quoted for it."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import grpc

from proctor.api.v1 import gateway_pb2 as gpb
from proctor.api.v1 import gateway_pb2_grpc as gpb_grpc
from proctor.errors import ConfigError
from proctor.settings import Settings

USAGE = 64
NOPERM = 77
NO_GATEWAY = 255
IDENTITY_ENV = "PROCTOR_IDENTITY"


def target_of(listen: str) -> str:
    """host:port to dial for a listen address (0.0.0.0 is reached as 127.0.0.1)."""
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    return f"{host}:{port}"


def _loopback(target: str) -> bool:
    host = target.rpartition(":")[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def find_ca(settings: Settings, given: str | None) -> Path | None:
    if given:
        return Path(given)
    stack_ca = settings.run_dir / "secrets" / "tls" / "ca.pem"
    beside = settings.tls_cert.parent / "ca.pem" if settings.tls_cert else None
    return next((p for p in (beside, stack_ca) if p is not None and p.exists()), None)


def channel(target: str, ca: Path | None, plaintext: bool) -> grpc.Channel:
    """A channel to the gateway: TLS (its CA, else the system's roots), or plain text when
    asked or when no CA is known for a gateway on loopback."""
    if plaintext or (ca is None and _loopback(target)):
        if not _loopback(target):
            raise ConfigError(f"refusing to send a token in plain text to {target}")
        return grpc.insecure_channel(target)
    try:
        roots = ca.read_bytes() if ca is not None else None
    except OSError as exc:
        raise ConfigError(f"cannot read the gateway's CA certificate {ca}: {exc}") from exc
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=roots))


def run(
    resource: str,
    words: list[str],
    identity: str,
    token: str,
    target: str,
    ca: Path | None,
    plaintext: bool = False,
) -> int:
    if words and words[0] == "--":
        words = words[1:]
    if not words:
        print("proctor exec: no command given (proctor exec RESOURCE -- command)", file=sys.stderr)
        return USAGE
    request = (
        gpb.ExecRequest(resource=resource, command=words[0])
        if len(words) == 1
        else gpb.ExecRequest(resource=resource, argv=words)
    )
    metadata = (
        ("authorization", f"Bearer {identity}:{token}"),
        ("x-proctor-agent", "proctor-exec"),
    )
    out, err = sys.stdout.buffer, sys.stderr.buffer
    with channel(target, ca, plaintext) as chan:
        stub = gpb_grpc.GatewayServiceStub(chan)  # type: ignore[no-untyped-call]
        try:
            for reply in stub.Exec(request, metadata=metadata):
                which = reply.WhichOneof("reply")
                if which == "stdout":
                    out.write(reply.stdout)
                    out.flush()
                elif which == "stderr":
                    err.write(reply.stderr)
                    err.flush()
                elif which == "exit":
                    return int(reply.exit.status)
        except grpc.RpcError as exc:
            code = exc.code()
            said = exc.details() or str(code)
            if code == grpc.StatusCode.UNAVAILABLE:
                said = f"the gateway at {target} could not be reached: {said}"
            print(f"proctor exec: {said}", file=sys.stderr)
            if code == grpc.StatusCode.UNAUTHENTICATED:
                return NOPERM
            if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return USAGE
            return NO_GATEWAY
        except KeyboardInterrupt:
            return 130
    print("proctor exec: the gateway ended the call without an exit status", file=sys.stderr)
    return NO_GATEWAY


def identity_of(given: str | None, run_dir: Path) -> str:
    from proctor.demo import AGENT

    found = given or os.environ.get(IDENTITY_ENV)
    if found:
        return found
    if (run_dir / "demo-credentials.json").exists():
        return AGENT
    raise ConfigError(f"no identity: pass --as or set {IDENTITY_ENV}")
