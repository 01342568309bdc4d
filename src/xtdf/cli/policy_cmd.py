"""``xtdf policy ...``: administer a platform's policy (what upstream's fixtures use otdfctl for).

Every subcommand prints the platform's answer as JSON. Connection options come from the
command line, else ``XTDF_PLATFORM_URL``/``PLATFORMURL``, ``XTDF_CLIENT_ID``/``CLIENTID``,
``XTDF_CLIENT_SECRET``/``CLIENTSECRET``, else ``http://localhost:8080`` and opentdf/secret.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xtdf.errors import UsageError


def _env(*names: str, default: str) -> str:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return default


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("policy", help="administer namespaces, attributes, mappings, KAS keys")
    p.add_argument("--platform-url", help="platform base URL (default http://localhost:8080)")
    p.add_argument("--client-id", help="client id for the IdP (default opentdf)")
    p.add_argument("--client-secret", help="client secret (default secret)")
    groups = p.add_subparsers(dest="group", metavar="GROUP", parser_class=type(p))
    groups.required = True

    def action(group: argparse.ArgumentParser, name: str, fn: Callable[..., Any], help: str):
        a = group.add_parser(name, help=help)
        a.set_defaults(func=run, op=fn)
        return a

    def group(name: str, help: str) -> argparse._SubParsersAction:
        g = groups.add_parser(name, help=help)
        acts = g.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
        acts.required = True
        return acts

    ns = group("namespaces", "policy namespaces")
    a = action(ns, "create", lambda c, a: c.create_namespace(a.name), "create a namespace")
    a.add_argument("name", help="DNS-style name, e.g. example.com")
    action(ns, "list", lambda c, a: c.list_namespaces(), "list namespaces")

    at = group("attributes", "attribute definitions")
    a = action(
        at,
        "create",
        lambda c, a: c.create_attribute(a.namespace, a.name, a.rule, a.value),
        "create an attribute definition with ordered values",
    )
    a.add_argument("--namespace", required=True, help="namespace id, name or FQN")
    a.add_argument("--name", required=True)
    a.add_argument("--rule", required=True, help="all_of, any_of or hierarchy")
    a.add_argument("--value", action="append", default=[], help="a value (repeat, in order)")
    a = action(at, "list", lambda c, a: c.list_attributes(a.namespace), "list attributes")
    a.add_argument("--namespace")

    vs = group("values", "attribute values")
    a = action(vs, "create", lambda c, a: c.create_value(a.attribute, a.value), "add a value")
    a.add_argument("--attribute", required=True, help="attribute id or FQN")
    a.add_argument("--value", required=True)
    a = action(vs, "get", lambda c, a: c.values_by_fqns(a.fqn), "look values up by FQN")
    a.add_argument("fqn", nargs="+")

    scs = group("scs", "subject condition sets")
    a = action(scs, "create", _create_scs, "create a subject condition set")
    a.add_argument("--subject-sets", help="JSON list of SubjectSet (overrides --selector)")
    a.add_argument("--selector", help="claim selector, e.g. .clientId")
    a.add_argument("--operator", default="in", help="in, not_in or in_contains")
    a.add_argument("--value", action="append", default=[], help="a value to match (repeat)")
    action(scs, "list", lambda c, a: c.list_condition_sets(), "list subject condition sets")

    sm = group("subject-mappings", "subject mappings")
    a = action(sm, "create", _create_mapping, "entitle a condition set to a value")
    a.add_argument("--value", required=True, help="attribute value id or FQN")
    a.add_argument("--scs", help="existing subject condition set id")
    a.add_argument("--subject-sets", help="JSON list of SubjectSet for a new condition set")
    a.add_argument("--action", action="append", default=[], help="action name (default read)")
    action(sm, "list", lambda c, a: c.list_subject_mappings(), "list subject mappings")

    kas = group("kas", "the KAS registry")
    a = action(kas, "register", lambda c, a: c.register_kas(a.uri, a.name), "register a KAS")
    a.add_argument("--uri", required=True)
    a.add_argument("--name")
    action(kas, "list", lambda c, a: c.list_kas(), "list registered KASes")
    a = action(kas, "grant", _grant, "grant a KAS on a namespace, attribute or value")
    a.add_argument("--kas", required=True, help="KAS id, name or URI")
    _target_args(a)

    keys = group("keys", "KAS keys")
    a = action(keys, "create", _create_key, "generate a key wrapped by the platform's root key")
    _key_args(a)
    a.add_argument("--public-key", help="register only this public key (PEM file)")
    a.add_argument("--wrapping-key", help="root key (hex): generate and wrap here, as otdfctl")
    a = action(keys, "import", _import_key, "import existing keys")
    a.add_argument("--kas", required=True, help="KAS id, name or URI")
    a.add_argument("--kid")
    a.add_argument("--alg", help="rsa:2048, rsa:4096, ec:secp256r1, ...")
    a.add_argument("--private-key", help="PEM private key file")
    a.add_argument("--public-key", help="PEM public key or certificate file")
    a.add_argument("--extra-keys", help="upstream extra-keys.json (kid, alg, privateKey, cert)")
    a.add_argument("--legacy", action="store_true", help="keep only to decrypt old files")
    a.add_argument("--wrapping-key", help="root key (hex): wrap here, as otdfctl")
    a = action(keys, "list", lambda c, a: c.list_keys(a.kas, legacy=a.legacy), "list keys")
    a.add_argument("--kas")
    a.add_argument("--legacy", action=argparse.BooleanOptionalAction, default=None)
    a = action(keys, "assign", _assign, "map a key to a namespace, attribute or value")
    a.add_argument("--kas", required=True, help="KAS id, name or URI")
    a.add_argument("--kid", required=True)
    _target_args(a)

    bk = group("base-key", "the base key")
    a = action(bk, "set", lambda c, a: c.set_base_key(a.kas, a.kid), "set the base key")
    a.add_argument("--kas", required=True)
    a.add_argument("--kid", required=True)
    action(bk, "get", lambda c, a: c.get_base_key(), "show the base key")


def _key_args(a: argparse.ArgumentParser) -> None:
    a.add_argument("--kas", required=True, help="KAS id, name or URI")
    a.add_argument("--kid", required=True)
    a.add_argument("--alg", required=True, help="rsa:2048, rsa:4096, ec:secp256r1, ...")
    a.add_argument("--legacy", action="store_true", help="keep only to decrypt old files")


def _target_args(a: argparse.ArgumentParser) -> None:
    t = a.add_mutually_exclusive_group(required=True)
    t.add_argument("--namespace", help="namespace id, name or FQN")
    t.add_argument("--attribute", help="attribute id or FQN")
    t.add_argument("--value", help="attribute value id or FQN")


def _target(args: argparse.Namespace) -> tuple[str, str]:
    for level in ("namespace", "attribute", "value"):
        if getattr(args, level):
            return level, getattr(args, level)
    raise UsageError("one of --namespace, --attribute, --value is required")


def _subject_sets(args: argparse.Namespace) -> list[dict] | None:
    from xtdf.platform.admin import condition_set

    if args.subject_sets:
        try:
            sets = json.loads(args.subject_sets)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--subject-sets: not JSON: {exc}") from exc
        if not isinstance(sets, list):
            raise UsageError("--subject-sets: expected a JSON list")
        return sets
    if getattr(args, "selector", None):
        if not args.value:
            raise UsageError("--value: at least one value to match is required")
        return condition_set(args.selector, args.value, args.operator)
    return None


def _create_scs(client: Any, args: argparse.Namespace) -> Any:
    sets = _subject_sets(args)
    if sets is None:
        raise UsageError("give --subject-sets or --selector with --value")
    return client.create_condition_set(sets)


def _create_mapping(client: Any, args: argparse.Namespace) -> Any:
    sets = _subject_sets(args)
    if not args.scs and sets is None:
        raise UsageError("give --scs or --subject-sets")
    return client.create_subject_mapping(args.value, args.scs, sets, args.action or ["read"])


def _grant(client: Any, args: argparse.Namespace) -> Any:
    level, target = _target(args)
    return client.grant_kas(level, target, args.kas)


def _assign(client: Any, args: argparse.Namespace) -> Any:
    level, target = _target(args)
    return client.assign_key(level, target, args.kas, args.kid)


def _create_key(client: Any, args: argparse.Namespace) -> Any:
    if args.public_key:
        if args.wrapping_key or args.legacy:
            raise UsageError(
                "--public-key registers a public key only; drop --wrapping-key/--legacy"
            )
        return client.create_public_key(args.kas, args.kid, args.alg, _read(args.public_key))
    return client.create_key(
        args.kas, args.kid, args.alg, legacy=args.legacy, wrapping_key=args.wrapping_key
    )


def _import_key(client: Any, args: argparse.Namespace) -> Any:
    if args.extra_keys:
        try:
            entries = json.loads(_read(args.extra_keys))
        except json.JSONDecodeError as exc:
            raise UsageError(f"{args.extra_keys}: not JSON: {exc}") from exc
        if not isinstance(entries, list):
            raise UsageError(f"{args.extra_keys}: expected a JSON array")
        return [
            client.import_key(
                args.kas,
                e["kid"],
                e["alg"],
                e["privateKey"],
                e.get("cert"),
                legacy=args.legacy,
                wrapping_key=args.wrapping_key,
            )
            for e in entries
        ]
    if not (args.kid and args.alg and args.private_key):
        raise UsageError("give --extra-keys, or --kid, --alg and --private-key")
    public = _read(args.public_key) if args.public_key else None
    return client.import_key(
        args.kas,
        args.kid,
        args.alg,
        _read(args.private_key),
        public,
        legacy=args.legacy,
        wrapping_key=args.wrapping_key,
    )


def run(args: argparse.Namespace) -> int:
    from xtdf.platform.admin import PolicyAdmin

    url = args.platform_url or _env("XTDF_PLATFORM_URL", "PLATFORMURL", default="")
    with PolicyAdmin(
        url or "http://localhost:8080",
        args.client_id or _env("XTDF_CLIENT_ID", "CLIENTID", default="opentdf"),
        args.client_secret or _env("XTDF_CLIENT_SECRET", "CLIENTSECRET", default="secret"),
    ) as client:
        result = args.op(client, args)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
