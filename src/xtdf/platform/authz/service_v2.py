"""``authorization.v2.AuthorizationService``: decisions for one action, and entitlements.

Unlike v1, v2 decides for a named action (``read`` is decrypt) and reports entitlements
as actions per value FQN. Entities come as an entity chain, a token (verified by the
platform's authenticator) or the request's own token. Registered resources are not
supported and are refused as such.
"""

from __future__ import annotations

from typing import Any

from xtdf._proto.authorization.entity import entity_pb2 as en
from xtdf._proto.authorization.v2 import authorization_pb2 as v2
from xtdf._proto.policy import objects_pb2 as po
from xtdf.errors import AuthError
from xtdf.platform.authz.engine import Authorizer, action_name
from xtdf.platform.authz.entities import entity_claims
from xtdf.platform.rpc import CallContext, Method, RpcError

SERVICE = "authorization.v2.AuthorizationService"

#: (ephemeral id, token claims, whether the entity decides)
Subject = tuple[str, dict[str, Any], bool]


def methods(platform: Any) -> list[Method]:
    def authz() -> Authorizer:
        return Authorizer.for_platform(platform)

    def verify(jwt: str) -> dict[str, Any]:
        auth = getattr(platform, "auth", None)
        if auth is None:
            raise RpcError("unimplemented", "token entities need the platform's authenticator")
        try:
            return auth.verify_token(jwt)
        except AuthError as exc:
            raise RpcError("invalid_argument", f"entity_identifier.token: {exc}") from exc

    def subjects(ident: v2.EntityIdentifier, ctx: CallContext) -> list[Subject]:
        """The entities of an identifier; environment entities never decide (as in v1)."""
        which = ident.WhichOneof("identifier")
        if which == "entity_chain":
            return [
                (
                    e.ephemeral_id or f"entity-{i}",
                    entity_claims(e, "entity"),
                    e.category != en.Entity.CATEGORY_ENVIRONMENT,
                )
                for i, e in enumerate(ident.entity_chain.entities)
            ]
        if which == "token":
            return [(ident.token.ephemeral_id or "token", verify(ident.token.jwt), True)]
        if which == "with_request_token" and ident.with_request_token.value:
            return [("request-token", ctx.require_claims(), True)]
        if which == "registered_resource_value_fqn":
            raise RpcError(
                "invalid_argument", "entity_identifier: registered resources are not supported"
            )
        raise RpcError("invalid_argument", "entity_identifier: required")

    def action_of(action: po.Action) -> str:
        name = action_name(action)
        if not name:
            raise RpcError("invalid_argument", "action: a name (e.g. read) is required")
        return name

    def decide(ents: list[Subject], action: str, resource: v2.Resource) -> v2.ResourceDecision:
        if resource.WhichOneof("resource") != "attribute_values":
            raise RpcError(
                "invalid_argument", "resource: only attribute_values resources are supported"
            )
        fqns = list(resource.attribute_values.fqns)
        if not fqns:
            raise RpcError("invalid_argument", "resource.attribute_values.fqns: required")
        permit = bool(ents) and all(
            authz().decide(claims, fqns, action).permit for _, claims, decides in ents if decides
        )
        return v2.ResourceDecision(
            ephemeral_resource_id=resource.ephemeral_id,
            decision=v2.DECISION_PERMIT if permit else v2.DECISION_DENY,
        )

    def multi(req: v2.GetDecisionMultiResourceRequest, ctx: CallContext) -> Any:
        ents = subjects(req.entity_identifier, ctx)
        action = action_of(req.action)
        decisions = [decide(ents, action, r) for r in req.resources]
        resp = v2.GetDecisionMultiResourceResponse(resource_decisions=decisions)
        resp.all_permitted.value = all(d.decision == v2.DECISION_PERMIT for d in decisions)
        return resp

    def get_decision(req: v2.GetDecisionRequest, ctx: CallContext) -> Any:
        ents = subjects(req.entity_identifier, ctx)
        return v2.GetDecisionResponse(decision=decide(ents, action_of(req.action), req.resource))

    def get_decision_bulk(req: v2.GetDecisionBulkRequest, ctx: CallContext) -> Any:
        return v2.GetDecisionBulkResponse(
            decision_responses=[multi(r, ctx) for r in req.decision_requests]
        )

    def get_entitlements(req: v2.GetEntitlementsRequest, ctx: CallContext) -> Any:
        resp = v2.GetEntitlementsResponse()
        for eid, claims, _ in subjects(req.entity_identifier, ctx):
            out = resp.entitlements.add(ephemeral_id=eid)
            acts = authz().entitled_actions(
                claims, comprehensive_hierarchy=req.with_comprehensive_hierarchy
            )
            for fqn, names in sorted(acts.items()):
                out.actions_per_attribute_value_fqn[fqn].actions.extend(
                    po.Action(name=n) for n in sorted(names)
                )
        return resp

    return [
        Method(SERVICE, "GetDecision", v2.GetDecisionRequest, v2.GetDecisionResponse, get_decision),
        Method(
            SERVICE,
            "GetDecisionMultiResource",
            v2.GetDecisionMultiResourceRequest,
            v2.GetDecisionMultiResourceResponse,
            multi,
        ),
        Method(
            SERVICE,
            "GetDecisionBulk",
            v2.GetDecisionBulkRequest,
            v2.GetDecisionBulkResponse,
            get_decision_bulk,
        ),
        Method(
            SERVICE,
            "GetEntitlements",
            v2.GetEntitlementsRequest,
            v2.GetEntitlementsResponse,
            get_entitlements,
        ),
    ]
