"""BytePlus ModelArk (hosts-2026.md s5): the Ark task API with BytePlus ids and limits.

Same paths, auth and bodies as Volcengine (``https://ark.ap-southeast.bytepluses.com/api/v3`` has
the same ``/api/v3/contents/generations/tasks`` shape), so this profile only takes over *create*;
get/list/delete are the server's Ark routes and echo the BytePlus id the task was created with.

Differences enforced at create:
- model ids: ``seedance-1-*`` and ``dreamina-seedance-2-*``; Volcengine ``doubao-`` ids and the
  retired 1.0 lite answer 404 ``InvalidEndpointOrModel.NotFound`` (as BytePlus does);
- no ``tools`` (BytePlus exposes no web_search);
- at most :data:`QUEUED_CAP` queued tasks per account. UNCONFIRMED error shape: we answer 429
  ``QuotaExceeded`` (an Ark 429 code) so clients treat it as "try later", never as a bad request.
"""
from __future__ import annotations

from ... import models
from ..validate import ApiError, invalid, missing
from . import base
from .base import HostReply, HostRequest, Profile

TASKS = "/api/v3/contents/generations/tasks"
QUEUED_CAP = 120


def byteplus_to_ark(model: str) -> str | None:
    """The Volcengine id behind a BytePlus id, or None if BytePlus does not serve ``model``."""
    hit = models.RAW_IDS.get(model)
    if hit is None or hit[0] != "byteplus":
        return None
    ark = models.host_model_id(models.MODELS[hit[1].neutral], "ark", "first_frame")
    return ark if ark is not None and base.spec_for(ark) is not None else None


class BytePlusProfile(Profile):
    name = "byteplus"
    base_path = "/api/v3"

    def __init__(self, queued_cap: int = QUEUED_CAP):
        self.queued_cap = queued_cap

    def owns(self, method: str, path: str) -> bool:
        return method == "POST" and path.rstrip("/") == TASKS

    def handle(self, emu, req: HostRequest) -> HostReply:
        base.count_call(emu, "create")
        token = base.bearer_or_scheme(req, ("Bearer",))
        if not base.key_ok(emu, token):
            base.unauthorized(emu, "create")
            raise ApiError(401, "AuthenticationError", "The API key in the request is missing or invalid", "")
        rule = base.call_faults(emu, "create")
        if rule is not None:
            raise ApiError(rule.status or 500, rule.code or "InternalServiceError",
                           rule.message or "The service encountered an unexpected internal error", "")
        try:
            rule = base.rate_limited(emu)
            if rule is not None:
                raise ApiError(rule.status or 429, rule.code or "RateLimitExceeded.EndpointRPMExceeded",
                               rule.message or "The request has exceeded the rate limit (RPM) of the endpoint; "
                                               "please try again later", "")
            try:
                body = base.parse_json(req.body)
            except ValueError as exc:
                raise ApiError(400, "InvalidParameter", str(exc), "") from None
            if not isinstance(body, dict):
                raise ApiError(400, "InvalidParameter", "The request body must be a JSON object", "")
            model = body.get("model")
            if not isinstance(model, str) or not model.strip():
                raise missing("model")
            ark = byteplus_to_ark(model)
            if ark is None:
                raise ApiError(404, "InvalidEndpointOrModel.NotFound",
                               f"The model or endpoint {model} does not exist or you do not have access to it",
                               "model")
            if body.get("tools"):
                raise invalid("tools", "tools are not supported on this region")
            if base.queued_count(emu) >= self.queued_cap:
                raise ApiError(429, "QuotaExceeded",
                               f"Your account has reached the limit of {self.queued_cap} queued tasks; "
                               "wait for some to start and try again", "")
            try:
                task_req = base.validate(emu, {**body, "model": ark})
            except ApiError as exc:
                exc.message = base.api_error_text(exc, ark, model)
                raise
        except ApiError as exc:
            base.rejected(emu, exc.code)
            raise
        task = base.create_task(emu, task_req, model=model)
        base.drop_after_create(emu)
        out = {"id": task.id}
        if task_req.safety_identifier is not None:
            out["safety_identifier"] = task_req.safety_identifier
        return HostReply(200, out)
