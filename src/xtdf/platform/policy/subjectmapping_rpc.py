"""``policy.subjectmapping.SubjectMappingService``: condition sets and subject mappings."""

from __future__ import annotations

from google.protobuf.message import Message

from xtdf._proto.policy.subjectmapping import subject_mapping_pb2 as sm
from xtdf.platform.policy.rpc_support import Registrar, page, required, update_metadata

SUBJECT_MAPPING = "policy.subjectmapping.SubjectMappingService"


def register(reg: Registrar) -> None:
    store, rpc = reg.store, reg.rpc

    @rpc(
        SUBJECT_MAPPING,
        "CreateSubjectConditionSet",
        sm.CreateSubjectConditionSetRequest,
        sm.CreateSubjectConditionSetResponse,
    )
    def create_scs(req: sm.CreateSubjectConditionSetRequest) -> Message:
        scs = store.create_condition_set(
            req.subject_condition_set.subject_sets,
            req.namespace_id or req.namespace_fqn,
            req.subject_condition_set.metadata,
        )
        return sm.CreateSubjectConditionSetResponse(subject_condition_set=scs)

    @rpc(
        SUBJECT_MAPPING,
        "GetSubjectConditionSet",
        sm.GetSubjectConditionSetRequest,
        sm.GetSubjectConditionSetResponse,
        True,
    )
    def get_scs(req: sm.GetSubjectConditionSetRequest) -> Message:
        scs = store.get_condition_set(req.id)
        used = [m for m in store.list_subject_mappings() if m.subject_condition_set.id == scs.id]
        return sm.GetSubjectConditionSetResponse(
            subject_condition_set=scs, associated_subject_mappings=used
        )

    @rpc(
        SUBJECT_MAPPING,
        "ListSubjectConditionSets",
        sm.ListSubjectConditionSetsRequest,
        sm.ListSubjectConditionSetsResponse,
        True,
    )
    def list_scs(req: sm.ListSubjectConditionSetsRequest) -> Message:
        resp = sm.ListSubjectConditionSetsResponse(
            subject_condition_sets=store.list_condition_sets(req.namespace_id or req.namespace_fqn)
        )
        page(resp, "subject_condition_sets", req)
        return resp

    @rpc(
        SUBJECT_MAPPING,
        "CreateSubjectMapping",
        sm.CreateSubjectMappingRequest,
        sm.CreateSubjectMappingResponse,
    )
    def create_sm(req: sm.CreateSubjectMappingRequest) -> Message:
        mapping = store.create_subject_mapping(
            req.attribute_value_id,
            req.actions,
            req.existing_subject_condition_set_id,
            req.new_subject_condition_set.subject_sets
            if req.HasField("new_subject_condition_set")
            else None,
            req.namespace_id or req.namespace_fqn,
            req.metadata,
        )
        return sm.CreateSubjectMappingResponse(subject_mapping=mapping)

    @rpc(
        SUBJECT_MAPPING,
        "GetSubjectMapping",
        sm.GetSubjectMappingRequest,
        sm.GetSubjectMappingResponse,
        True,
    )
    def get_sm(req: sm.GetSubjectMappingRequest) -> Message:
        return sm.GetSubjectMappingResponse(subject_mapping=store.get_subject_mapping(req.id))

    @rpc(
        SUBJECT_MAPPING,
        "ListSubjectMappings",
        sm.ListSubjectMappingsRequest,
        sm.ListSubjectMappingsResponse,
        True,
    )
    def list_sm(req: sm.ListSubjectMappingsRequest) -> Message:
        resp = sm.ListSubjectMappingsResponse(
            subject_mappings=store.list_subject_mappings(req.namespace_id or req.namespace_fqn)
        )
        page(resp, "subject_mappings", req)
        return resp

    @rpc(
        SUBJECT_MAPPING,
        "MatchSubjectMappings",
        sm.MatchSubjectMappingsRequest,
        sm.MatchSubjectMappingsResponse,
        True,
    )
    def match_sm(req: sm.MatchSubjectMappingsRequest) -> Message:
        selectors = [p.external_selector_value for p in req.subject_properties]
        return sm.MatchSubjectMappingsResponse(
            subject_mappings=store.match_subject_mappings(selectors)
        )

    @rpc(
        SUBJECT_MAPPING,
        "UpdateSubjectMapping",
        sm.UpdateSubjectMappingRequest,
        sm.UpdateSubjectMappingResponse,
    )
    def update_sm(req: sm.UpdateSubjectMappingRequest) -> Message:
        mapping = store.update_subject_mapping(
            req.id, req.subject_condition_set_id, list(req.actions), *update_metadata(req)
        )
        return sm.UpdateSubjectMappingResponse(subject_mapping=mapping)

    @rpc(
        SUBJECT_MAPPING,
        "DeleteSubjectMapping",
        sm.DeleteSubjectMappingRequest,
        sm.DeleteSubjectMappingResponse,
    )
    def delete_sm(req: sm.DeleteSubjectMappingRequest) -> Message:
        return sm.DeleteSubjectMappingResponse(subject_mapping=store.delete_subject_mapping(req.id))

    @rpc(
        SUBJECT_MAPPING,
        "UpdateSubjectConditionSet",
        sm.UpdateSubjectConditionSetRequest,
        sm.UpdateSubjectConditionSetResponse,
    )
    def update_scs(req: sm.UpdateSubjectConditionSetRequest) -> Message:
        scs = store.update_condition_set(
            required("id", req.id), list(req.subject_sets), *update_metadata(req)
        )
        return sm.UpdateSubjectConditionSetResponse(subject_condition_set=scs)

    @rpc(
        SUBJECT_MAPPING,
        "DeleteSubjectConditionSet",
        sm.DeleteSubjectConditionSetRequest,
        sm.DeleteSubjectConditionSetResponse,
    )
    def delete_scs(req: sm.DeleteSubjectConditionSetRequest) -> Message:
        return sm.DeleteSubjectConditionSetResponse(
            subject_condition_set=store.delete_condition_set(req.id)
        )

    @rpc(
        SUBJECT_MAPPING,
        "DeleteAllUnmappedSubjectConditionSets",
        sm.DeleteAllUnmappedSubjectConditionSetsRequest,
        sm.DeleteAllUnmappedSubjectConditionSetsResponse,
    )
    def prune_scs(req: sm.DeleteAllUnmappedSubjectConditionSetsRequest) -> Message:
        return sm.DeleteAllUnmappedSubjectConditionSetsResponse(
            subject_condition_sets=store.delete_unmapped_condition_sets()
        )
