"""``xtdf encrypt SRC -o DST``: encrypt a file for the platform's KASes (ZTDF or NanoTDF)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from xtdf.client.platform_client import PlatformClient

#: the platform options' defaults: None means "from the environment" (upstream's test.env)
PLATFORM_DEFAULTS: dict[str, Any] = {
    "platform_url": None,
    "kas_url": None,
    "client_id": None,
    "client_secret": None,
    "token_endpoint": None,
}
#: every option's default; argparse gets them from here, and so does ``cli.sh``
DEFAULTS: dict[str, Any] = {
    "format": "ztdf",
    "attr": "",
    "mime_type": "",
    "assertions": "",
    "ecwrap": False,
    "target_mode": "",
    "ecdsa_binding": False,
    "plaintext_policy": False,
    **PLATFORM_DEFAULTS,
}


def add_platform_options(p: argparse.ArgumentParser) -> None:
    """Flags shared with ``decrypt``; each falls back to upstream's test.env variable."""
    g = p.add_argument_group("platform (default: environment PLATFORMURL, KASURL, ...)")
    g.add_argument("--platform-url", help="platform base URL (PLATFORMURL)")
    g.add_argument("--kas-url", help="default KAS URL (KASURL; default PLATFORMURL/kas)")
    g.add_argument("--client-id", help="OAuth client id (CLIENTID)")
    g.add_argument("--client-secret", help="OAuth client secret (CLIENTSECRET)")
    g.add_argument(
        "--token-endpoint",
        help="OAuth token endpoint (TOKENENDPOINT, KCFULLURL; default: discovered)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encrypt", help="encrypt a file into a ZTDF or NanoTDF")
    p.add_argument("src", help="plaintext file")
    p.add_argument("-o", "--output", required=True, help="where to write the TDF")
    p.add_argument("--format", choices=["ztdf", "nano"])
    p.add_argument("--attr", help="comma-separated attribute value FQNs")
    p.add_argument("--mime-type", help="payload MIME type (ZTDF)")
    p.add_argument("--assertions", help="assertions JSON, or a path to it (ZTDF)")
    p.add_argument("--ecwrap", action="store_true", help="wrap keys with the KAS's EC key (ZTDF)")
    p.add_argument("--target-mode", help="ZTDF spec version: 4.2.2 or 4.3.0")
    p.add_argument("--ecdsa-binding", action="store_true", help="ECDSA policy binding (nano)")
    p.add_argument(
        "--plaintext-policy", action="store_true", help="embed the policy unencrypted (nano)"
    )
    add_platform_options(p)
    p.set_defaults(func=run, **DEFAULTS)


def client_from_args(args: Any) -> PlatformClient:
    from xtdf.client.config import ClientConfig
    from xtdf.client.platform_client import PlatformClient

    config = ClientConfig.from_env(
        platform_url=args.platform_url,
        kas_url=args.kas_url,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_endpoint=args.token_endpoint,
    )
    return PlatformClient(config)


def run(args: Any) -> int:
    from xtdf.atomicfile import atomic_write

    with client_from_args(args) as client, open(args.src, "rb") as src:
        if args.format == "nano":
            from xtdf.client import nano

            options = nano.NanoEncryptOptions(
                attributes=args.attr,
                ecdsa_binding=args.ecdsa_binding,
                plaintext_policy=args.plaintext_policy,
            )
            with atomic_write(args.output, fsync=False) as out:
                nano.encrypt(client, src, out, options)
            return 0
        from xtdf.client import ztdf

        options = ztdf.EncryptOptions(
            attributes=args.attr,
            mime_type=args.mime_type,
            ecwrap=args.ecwrap,
            target_mode=args.target_mode,
            assertions=args.assertions,
        )
        with atomic_write(args.output, fsync=False) as out:
            ztdf.encrypt(client, src, out, options)
    return 0
