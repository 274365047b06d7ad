"""The access policy on the gRPC port: every call presents its token in its metadata.

A call carries ``authorization: Bearer <token>`` in its metadata. Without a valid token
(when the server has one) the call ends at once with ``UNAUTHENTICATED`` and the message
saying how to give one; a viewer's ``UpdateState`` and ``UpdateLocks`` end with
``PERMISSION_DENIED``, and so does its ``RunCommand`` unless the command only lists
(``access.READ_ONLY_COMMANDS``). Each refusal is logged once per client and kind.

    server = grpc.server(pool, interceptors=[AccessInterceptor(parts.access)])
    stub.GetFrame(request, metadata=[("authorization", "Bearer s3cret")])
"""

from __future__ import annotations

from typing import Any, Callable

import grpc
from google.protobuf.message import DecodeError

from ..access import AccessPolicy, Role, bearer_token, refusal_message
from ..mistakes import MistakeLog
from .generate import protocol

__all__ = ["AccessInterceptor", "STEERING_METHODS"]

STEERING_METHODS = frozenset({"UpdateState", "UpdateLocks"})
"""Methods that change the session: refused to viewers (``RunCommand`` is checked per command)."""

_wire = protocol("nanover")
"""Parses a ``RunCommand`` request's name (the bytes are the same in both namespaces)."""


class AccessInterceptor(grpc.ServerInterceptor):
    """Admits calls whose metadata carries a valid token; refuses viewers' steering calls."""

    def __init__(self, policy: AccessPolicy) -> None:
        self.policy = policy
        self._refusals = MistakeLog("gRPC access control:")

    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or not self.policy.enabled:
            return handler
        metadata = dict(details.invocation_metadata or ())
        token = bearer_token(metadata.get("authorization"))
        role = self.policy.role_for(token)
        method = details.method.rsplit("/", 1)[-1]
        if role is None:
            self._refusals.note(f"refused {details.method}: {'a wrong' if token else 'no'} token", kind=f"{bool(token)}")
            return _aborting(handler, grpc.StatusCode.UNAUTHENTICATED, refusal_message(token is not None))
        if role is Role.VIEW and method in STEERING_METHODS:
            self._refusals.note(f"refused a viewer's {method}", kind=method)
            return _aborting(handler, grpc.StatusCode.PERMISSION_DENIED, f"refused: viewers may not call {method}; connect with the steering token")
        if role is Role.VIEW and method == "RunCommand":
            return grpc.unary_unary_rpc_method_handler(self._viewer_command(handler.unary_unary))
        return handler

    def _viewer_command(self, behaviour: Callable[[bytes, grpc.ServicerContext], bytes]) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        def run(data: bytes, context: grpc.ServicerContext) -> bytes:
            try:
                name = _wire.command.CommandMessage.FromString(data).name
            except DecodeError:
                return behaviour(data, context)  # the transport refuses it, saying why
            if not AccessPolicy.may_run(Role.VIEW, name):
                self._refusals.note(f"refused a viewer's command {name!r}", kind="RunCommand")
                context.abort(grpc.StatusCode.PERMISSION_DENIED, f"refused: viewers may not run {name!r} (only listing commands)")
            return behaviour(data, context)

        return run


def _aborting(handler: Any, code: grpc.StatusCode, details: str) -> Any:
    """A handler of ``handler``'s kind that ends the call with ``code`` and ``details``."""

    def abort(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(code, details)

    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(abort)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(abort)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(abort)
    return grpc.unary_unary_rpc_method_handler(abort)
