"""The KAS's per-object refusal text, classified the way the Go SDK classifies it.

opentdf/platform ``sdk/tdf.go`` ``getKasErrorToReturn``: an invalid-argument error whose
gRPC description is the generic ``bad request`` is possible tampering (``[tamper
detected] tdf: rewrap request 400``); any other invalid argument is a request error;
permission denied is a denial. The texts below are what the Go KAS (and ours) send.
"""

from __future__ import annotations

import pytest

from xtdf.client.kas import KasRequestError, RewrapTamperError, refusal
from xtdf.errors import AccessDeniedError, IntegrityError

GO_BAD_REQUEST = (
    "invalid_argument: request error\nrpc error: code = InvalidArgument desc = bad request"
)


@pytest.mark.parametrize("text", [GO_BAD_REQUEST, "bad request"])
def test_generic_bad_request_is_tamper(text: str) -> None:
    err = refusal("http://kas/kas", "kao-0", text)
    assert isinstance(err, RewrapTamperError) and isinstance(err, IntegrityError)
    assert str(err) == (
        "rewrap refused: KAS http://kas/kas answered bad request for kao-0: the policy, its "
        f"policy binding or the wrapped key was altered [{'; '.join(text.splitlines())}]"
    )


@pytest.mark.parametrize(
    "text",
    [
        "invalid_argument: request error\nrpc error: code = InvalidArgument desc = key not found",
        "internal: request error\nrpc error: code = Internal desc = bad request",
    ],
)
def test_descriptive_or_other_codes_are_request_errors(text: str) -> None:
    err = refusal("http://kas/kas", "kao-1", text)
    assert type(err) is KasRequestError and not isinstance(err, IntegrityError)
    assert str(err).startswith("KAS request error: http://kas/kas refused kao-1: ")


def test_permission_denied_is_a_denial() -> None:
    text = "permission_denied: request error\nrpc error: code = PermissionDenied desc = forbidden"
    err = refusal("http://kas/kas", "kao-2", text)
    assert isinstance(err, AccessDeniedError)
    assert str(err).startswith("KAS http://kas/kas denied access to kao-2: ")
