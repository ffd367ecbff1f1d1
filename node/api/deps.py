"""Typed dependencies: the node's services as route parameters (as in the FastAPI full-stack template).

``create_app`` stores the services once, as the app's ``state.services``; ``services_of`` is the one
place that reads them, typed. Routes take ``ServicesDep`` or the alias of the one service they use; code
that is not a route (middleware) calls ``services_of(scope)``. Every getter is
``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, and these only pick an attribute.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.types import Scope

from node.checkpoints.service import Checkpoints
from node.compare.service import Comparisons
from node.ingest.rules import IngestRulesService
from node.ledger.receipts import ReceiptReader
from node.ledger.recording import Recorder
from node.services import Services
from node.settings import Settings
from node.store.db import Store


def services_of(scope: Scope) -> Services:
    """The app's services, from an ASGI scope (a request's ``request.scope``, or a middleware's own)."""
    app = scope["app"]
    services: Services = app.state.services
    return services


async def get_services(request: Request) -> Services:
    return services_of(request.scope)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


async def get_store(services: ServicesDep) -> Store:
    return services.store


async def get_recorder(services: ServicesDep) -> Recorder:
    return services.recorder


async def get_receipts(services: ServicesDep) -> ReceiptReader:
    return services.receipts


async def get_checkpoints(services: ServicesDep) -> Checkpoints:
    return services.checkpoints


async def get_comparisons(services: ServicesDep) -> Comparisons:
    return services.comparisons


async def get_ingest(services: ServicesDep) -> IngestRulesService:
    return services.ingest


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
RecorderDep = Annotated[Recorder, Depends(get_recorder)]
ReceiptsDep = Annotated[ReceiptReader, Depends(get_receipts)]
CheckpointsDep = Annotated[Checkpoints, Depends(get_checkpoints)]
ComparisonsDep = Annotated[Comparisons, Depends(get_comparisons)]
IngestDep = Annotated[IngestRulesService, Depends(get_ingest)]
