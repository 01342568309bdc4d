"""``authorization.AuthorizationService`` (v1): GetEntitlements and GetDecisions over Connect.

Entities arrive as ``authorization.Entity``; without an entity resolution service we turn
each into the claims a token for it would carry (``client_id``, ``email``, ``username``,
``sub``, or the ``claims`` Struct itself) and evaluate subject mappings over those.
"""

from __future__ import annotations

from typing import Any

from xtdf._proto.authorization import authorization_pb2 as az
from xtdf._proto.policy import objects_pb2 as po
from xtdf.platform.authz.engine import Authorizer
from xtdf.platform.authz.entities import entity_claims
from xtdf.platform.rpc import CallContext, Method

SERVICE = "authorization.AuthorizationService"


def methods(platform: Any) -> list[Method]:
    def authz() -> Authorizer:
        return Authorizer.for_platform(platform)

    def get_entitlements(req: az.GetEntitlementsRequest, ctx: CallContext) -> Any:
        resp = az.GetEntitlementsResponse()
        comprehensive = req.with_comprehensive_hierarchy
        scope = set(req.scope.attribute_value_fqns) if req.HasField("scope") else None
        for i, entity in enumerate(req.entities):
            fqns = authz().entitlements(
                entity_claims(entity, "entities"), comprehensive_hierarchy=comprehensive
            )
            if scope is not None:
                fqns &= {f.lower() for f in scope}
            resp.entitlements.add(
                entity_id=entity.id or f"entity-{i}", attribute_value_fqns=sorted(fqns)
            )
        return resp

    def chain_permits(chain: az.EntityChain, data_fqns: list[str]) -> bool:
        """Upstream v1: an empty chain is denied, data without attributes is permitted,
        and only subject (or unspecified) entities must be entitled; environment
        entities are resolved but never decide."""
        if not chain.entities:
            return False
        if not data_fqns:
            return True
        deciders = [e for e in chain.entities if e.category != az.Entity.CATEGORY_ENVIRONMENT]
        return all(authz().decide(entity_claims(e, "entities"), data_fqns).permit for e in deciders)

    def get_decisions(req: az.GetDecisionsRequest, ctx: CallContext) -> Any:
        resp = az.GetDecisionsResponse()
        for dr in req.decision_requests:
            # one answer per (resource attributes, entity chain), in that order, with the
            # TRANSMIT action, as upstream answers
            for ra in dr.resource_attributes:
                fqns = list(ra.attribute_value_fqns)
                ra_id = ra.resource_attributes_id or (fqns[0] if fqns else "")
                for chain in dr.entity_chains:
                    permit = chain_permits(chain, fqns)
                    out = resp.decision_responses.add(
                        entity_chain_id=chain.id,
                        resource_attributes_id=ra_id,
                        decision=az.DecisionResponse.DECISION_PERMIT
                        if permit
                        else az.DecisionResponse.DECISION_DENY,
                    )
                    out.action.standard = po.Action.STANDARD_ACTION_TRANSMIT
        return resp

    return [
        Method(
            SERVICE,
            "GetEntitlements",
            az.GetEntitlementsRequest,
            az.GetEntitlementsResponse,
            get_entitlements,
        ),
        Method(
            SERVICE, "GetDecisions", az.GetDecisionsRequest, az.GetDecisionsResponse, get_decisions
        ),
    ]
